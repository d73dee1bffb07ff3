/**
 * ONNX Runtime (CPU) sessions for the side-by-side comparisons: created with a fixed thread
 * count, sequential execution and every graph optimization, run with plain typed arrays, and
 * disposed explicitly.
 *
 * ONNX Runtime comes from the npm package `onnxruntime-node`, loaded by Deno's Node-API
 * support. Deno does not run npm lifecycle scripts unless asked, which is what we want: the
 * package's postinstall only downloads CUDA parts (and fails offline); the CPU library and
 * the binding ship inside the package itself.
 *
 * Note on timing: `onnxruntime-node` runs a session synchronously on the calling thread,
 * after one `setImmediate` hop, so `await session.run(...)` measures the inference plus that
 * hop (tens of microseconds; bench/kernels.ts measures and reports it).
 *
 * @module
 */

// Pinned in deno.json's import map. Deno does not run npm lifecycle scripts, so the
// package's postinstall (which fetches CUDA parts and fails offline) never runs; its CPU
// binaries ship inside the package.
import * as ort from "onnxruntime-node";
import { OnnxError } from "./errors.ts";
import type { ArrayOf, ElementType } from "./model_writer.ts";

/** The ONNX Runtime version this module pins. */
export const ORT_VERSION = "1.30.0";

/** Inclusive range of s8 weight values. */
export interface WeightRange {
  /** Smallest weight. */
  min: number;
  /** Largest weight. */
  max: number;
}

/**
 * True when the CPU has VNNI (AVX512-VNNI or AVX-VNNI), read from `/proc/cpuinfo` on x86_64;
 * undefined on other architectures or when the file cannot be read.
 */
export function cpuHasVnni(): boolean | undefined {
  if (Deno.build.arch !== "x86_64") return undefined;
  try {
    const flags = Deno.readTextFileSync("/proc/cpuinfo").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
    const set = new Set(flags.trim().split(/\s+/));
    return set.has("avx512_vnni") || set.has("avx_vnni");
  } catch {
    return undefined;
  }
}

/**
 * The s8 weight values for which ONNX Runtime's u8 x s8 `QLinearConv` is exact on this CPU.
 *
 * MLAS (ONNX Runtime's kernel library) feeds the raw u8 activations (0..255, the zero point is
 * corrected afterwards with row sums) into its int8 GEMM. With VNNI it multiplies with
 * `vpdpbusd`, which adds four u8*s8 products straight into an int32: exact for every weight.
 * Without VNNI its AVX2 / AVX512BW kernels use `vpmaddubsw`, which adds two u8*s8 products
 * into a *saturating int16*: 255*127 + 255*127 = 64770 clips to 32767, so outputs differ from
 * the true convolution. Weights in -64..64 keep every pair within int16 (255*64*2 = 32640),
 * which is the range to compare on such CPUs. aarch64 MLAS kernels (`udot`/`sdot` or widening
 * multiplies) are exact.
 *
 * @example
 * ```ts
 * import { exactWeightRange } from "./ort.ts";
 * const { min, max } = exactWeightRange(); // -128..127 on a VNNI CPU
 * ```
 */
export function exactWeightRange(): WeightRange {
  return cpuHasVnni() === false ? { min: -64, max: 64 } : { min: -128, max: 127 };
}

/** A tensor passed to or returned from a session: element type, data and dims. */
export type TensorValue = {
  [T in ElementType]: {
    /** Element type. */
    type: T;
    /** Elements in row-major order of `dims`. */
    data: ArrayOf[T];
    /** Dimensions (NCHW for images). */
    dims: readonly number[];
  };
}[ElementType];

/** Options of {@linkcode createSession}. */
export interface SessionOptions {
  /** Threads ONNX Runtime may use for one op (intra-op). Default 1. */
  threads?: number;
}

const elementTypes: readonly ElementType[] = ["uint8", "int8", "int32", "float32"];

function toTensor(name: string, value: TensorValue): ort.Tensor {
  const expected = value.dims.reduce((total, dim) => total * dim, 1);
  if (value.data.length !== expected) {
    throw new OnnxError(
      "shape_mismatch",
      `feed '${name}': data holds ${value.data.length} values, dims ${
        JSON.stringify(value.dims)
      } need ${expected}`,
    );
  }
  return new ort.Tensor(value.type, value.data, value.dims);
}

function fromTensor(name: string, tensor: ort.Tensor): TensorValue {
  const type = tensor.type as ElementType;
  if (!elementTypes.includes(type)) {
    throw new OnnxError("session_failed", `output '${name}' has unsupported type ${tensor.type}`);
  }
  return { type, data: tensor.data, dims: [...tensor.dims] } as TensorValue;
}

/**
 * A loaded ONNX Runtime session. Create with {@linkcode createSession}; call
 * {@linkcode OrtSession.dispose} when done (native memory is not reclaimed by the GC soon).
 */
export class OrtSession {
  #session: ort.InferenceSession | null;
  /** Threads this session runs one op on. */
  readonly threads: number;

  /** Wraps a created session; use {@linkcode createSession}. */
  constructor(session: ort.InferenceSession, threads: number) {
    this.#session = session;
    this.threads = threads;
  }

  #live(): ort.InferenceSession {
    if (!this.#session) throw new OnnxError("disposed", "ONNX Runtime session used after dispose");
    return this.#session;
  }

  /** Names of the model's inputs. */
  get inputNames(): readonly string[] {
    return this.#live().inputNames;
  }

  /** Names of the model's outputs. */
  get outputNames(): readonly string[] {
    return this.#live().outputNames;
  }

  /**
   * Runs the model on `feeds` (one per input name) and returns every output. Throws
   * `session_failed` with ONNX Runtime's message when it refuses the feeds.
   */
  async run(feeds: Record<string, TensorValue>): Promise<Record<string, TensorValue>> {
    const session = this.#live();
    const tensors: Record<string, ort.Tensor> = {};
    for (const [name, value] of Object.entries(feeds)) tensors[name] = toTensor(name, value);
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await session.run(tensors);
    } catch (error) {
      throw new OnnxError("session_failed", `ONNX Runtime run failed: ${message(error)}`, {
        cause: error,
      });
    }
    const outputs: Record<string, TensorValue> = {};
    for (const [name, tensor] of Object.entries(results)) {
      outputs[name] = fromTensor(name, tensor as ort.Tensor);
    }
    return outputs;
  }

  /** Releases the native session. Further calls throw `disposed`; a second dispose is a no-op. */
  async dispose(): Promise<void> {
    const session = this.#session;
    this.#session = null;
    if (session) await session.release();
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Loads `model` (ModelProto bytes) into ONNX Runtime's CPU provider with `threads` intra-op
 * threads, one inter-op thread, sequential execution and all graph optimizations. Throws
 * `invalid_argument` for a bad thread count and `session_failed` with ONNX Runtime's message
 * when it refuses the model.
 *
 * @example
 * ```ts
 * import { createSession } from "./ort.ts";
 * import { GraphBuilder } from "./model_writer.ts";
 * const graph = new GraphBuilder();
 * graph.output(graph.relu(graph.input("x", "float32", [1, 2])), "float32", [1, 2]);
 * const session = await createSession(graph.encode(), { threads: 1 });
 * const outputs = await session.run({ x: { type: "float32", data: new Float32Array([-1, 2]), dims: [1, 2] } });
 * console.log(Object.values(outputs)[0].data); // Float32Array [0, 2]
 * await session.dispose();
 * ```
 */
export async function createSession(
  model: Uint8Array,
  options: SessionOptions = {},
): Promise<OrtSession> {
  const threads = options.threads ?? 1;
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) {
    throw new OnnxError("invalid_argument", `threads is ${threads}, must be an integer 1..64`);
  }
  try {
    const session = await ort.InferenceSession.create(model, {
      executionProviders: ["cpu"],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
    });
    return new OrtSession(session, threads);
  } catch (error) {
    throw new OnnxError("session_failed", `ONNX Runtime refused the model: ${message(error)}`, {
      cause: error,
    });
  }
}
