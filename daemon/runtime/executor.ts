/**
 * The graph executor: a {@linkcode ModelInstance} binds a validated model to a kernel context
 * once, then runs it frame after frame without allocating.
 *
 * At creation it plans memory ({@linkcode planMemory}: one 64-byte aligned arena, buffers
 * reused by liveness), creates a typed view per activation, and binds every op to its kernel
 * (`op_steps.ts`: weights packed with the kernel's packing calls, transform parameters laid
 * out, `Window2d` buffers built, codebook convs expanded or packed and, in `auto` mode, both
 * paths timed on the layer's real shape). `run` then checks and copies the inputs and walks
 * the ops in order: one FFI call per kernel op, one TypeScript loop per other op.
 *
 * Deterministic: the kernels give the same bits on every CPU level, variant and thread count
 * (their contracts), and the TypeScript ops are plain sequential loops, so the same input
 * always gives the same output bits.
 *
 * @example
 * ```ts ignore
 * import { KernelContext, openKernels } from "../kernels/mod.ts";
 * import { readModel } from "./model_file.ts";
 * import { ModelInstance } from "./executor.ts";
 * using lib = openKernels();
 * using ctx = new KernelContext(lib, { threads: 2 });
 * const model = await readModel("plugins/classify/resnet18.onebit");
 * const instance = new ModelInstance(model, ctx, { profile: true });
 * const { probs } = instance.run({ image: new Uint8Array(224 * 224 * 3) });
 * console.log(probs, instance.profile().totals, instance.plan.peakBytes);
 * ```
 *
 * @module
 */

import { alignedArray } from "../kernels/buffers.ts";
import type { KernelContext } from "../kernels/library.ts";
import {
  type Activation,
  activationBytes,
  type ActivationDType,
  type Graph,
  type OpType,
  validateGraph,
} from "./graph.ts";
import { type MemoryPlan, planMemory } from "./memory_plan.ts";
import {
  type ActivationArray,
  type ActivationSlot,
  bindOp,
  type CodebookChoice,
  type CodebookMode,
  type OpCounts,
  type Step,
} from "./op_steps.ts";
import type { Tensor } from "./safetensors.ts";

export type { ActivationArray, CodebookChoice, CodebookMode, OpCounts } from "./op_steps.ts";

/** What an instance needs of a model: a `Model` from `loadModel` has all of it. */
export interface RunnableModel {
  /** The validated graph. */
  readonly graph: Graph;
  /** Dtype and shape of every activation (as validation inferred them). */
  readonly activations: ReadonlyMap<string, Activation>;
  /** The parameter tensors the graph names. */
  readonly tensors: ReadonlyMap<string, Tensor>;
}

/**
 * Validates an in-memory graph against its tensors and returns it as a runnable model
 * (what `loadModel` returns for a file, without the file). Throws a `ModelError` as
 * `validateGraph` does.
 *
 * @example
 * ```ts
 * import { modelFromGraph } from "./executor.ts";
 * const model = modelFromGraph({
 *   inputs: [{ name: "x", dtype: "f32", shape: [1, 1, 1, 3] }],
 *   outputs: ["p"],
 *   ops: [{ op: "softmax", name: "s", inputs: ["x"], outputs: ["p"], attrs: {}, params: {} }],
 * }, new Map());
 * console.log(model.activations.get("p")); // { dtype: "f32", shape: [1, 1, 1, 3] }
 * ```
 */
export function modelFromGraph(
  graph: Graph,
  tensors: ReadonlyMap<string, Tensor>,
): RunnableModel {
  const validated = validateGraph(graph, tensors);
  return Object.freeze({
    graph: validated.graph,
    activations: validated.activations,
    tensors,
  });
}

/**
 * Stable codes of {@linkcode InputError}:
 * - `input_missing`: a graph input was not given;
 * - `input_unknown`: a name that is not a graph input was given;
 * - `input_dtype`: the typed array does not match the input's dtype;
 * - `input_size`: the typed array has the wrong number of elements;
 * - `input_bits`: a bits input has bits set past its last channel (tail bits must be 0).
 */
export type InputErrorCode =
  | "input_missing"
  | "input_unknown"
  | "input_dtype"
  | "input_size"
  | "input_bits";

/**
 * Inputs given to {@linkcode ModelInstance.run} that do not fit the model. The instance is
 * unchanged and keeps working.
 *
 * @example
 * ```ts
 * import { InputError } from "./executor.ts";
 * const error = new InputError("input_size", "image", "input 'image' has 10 values, expected 12");
 * console.log(error.code, error.input); // input_size image
 * ```
 */
export class InputError extends Error {
  /** Stable code. */
  readonly code: InputErrorCode;
  /** The input name at fault. */
  readonly input: string;

  /** Creates an error; `message` says what failed and the value that made it fail. */
  constructor(code: InputErrorCode, input: string, message: string) {
    super(message);
    this.name = "InputError";
    this.code = code;
    this.input = input;
  }
}

/** Typed array class of each activation dtype, and what the messages call it. */
const ARRAY_TYPES: Readonly<
  Record<ActivationDType, { type: new (...args: never[]) => ActivationArray; name: string }>
> = Object.freeze({
  bits: { type: BigUint64Array, name: "BigUint64Array (packed bits)" },
  u8: { type: Uint8Array, name: "Uint8Array" },
  i8: { type: Int8Array, name: "Int8Array" },
  i32: { type: Int32Array, name: "Int32Array" },
  f32: { type: Float32Array, name: "Float32Array" },
});

/** Elements of an activation's typed array (words for bits). */
export function activationLength(activation: Activation): number {
  const bytes = activationBytes(activation);
  switch (activation.dtype) {
    case "bits":
      return bytes / 8;
    case "i32":
    case "f32":
      return bytes / 4;
    default:
      return bytes;
  }
}

/** An input for messages: `input 'image' (u8 [1, 224, 224, 3])`. */
function describeInput(slot: ActivationSlot): string {
  const { name, activation } = slot;
  return `input '${name}' (${activation.dtype} [${activation.shape.join(", ")}])`;
}

/** Options of {@linkcode ModelInstance}. */
export interface ModelInstanceOptions {
  /**
   * How codebook convs run: `expand` (weights expanded at load, then the binary conv),
   * `gather` (the codebook kernel; 3x3 layers only, others expand), or `auto` (time both
   * once at load on the layer's real shape and keep the faster). Default: `auto`.
   */
  codebook?: CodebookMode;
  /** Time every op on every run (see {@linkcode ModelInstance.profile}). Default: false. */
  profile?: boolean;
}

/** One op's row of a {@linkcode ModelProfile}. */
export interface OpProfileRow extends OpCounts {
  /** Op name. */
  readonly name: string;
  /** Op type. */
  readonly op: OpType;
  /** What runs it: the kernel symbol or `"ts"`. */
  readonly kernel: string;
  /** Profiled runs. */
  readonly calls: number;
  /** Time over all profiled runs, ms. */
  readonly totalMs: number;
  /** Time per run, ms (0 before the first profiled run). */
  readonly meanMs: number;
}

/** Totals of a {@linkcode ModelProfile}, per run except `totalMs`. */
export interface ProfileTotals extends OpCounts {
  /** Time of all ops over all profiled runs, ms. */
  readonly totalMs: number;
  /** Time of all ops per run, ms. */
  readonly meanMs: number;
}

/** The per-op profile of an instance. */
export interface ModelProfile {
  /** Profiled runs. */
  readonly runs: number;
  /** One row per op, in graph order; counts are per run. */
  readonly rows: readonly OpProfileRow[];
  /** Sums over the rows. */
  readonly totals: ProfileTotals;
}

/** Kernel-ready arena views for every activation of `plan`. */
function makeSlots(
  model: RunnableModel,
  plan: MemoryPlan,
  arena: Uint8Array,
): Map<string, ActivationSlot> {
  const slots = new Map<string, ActivationSlot>();
  const { buffer, byteOffset } = arena;
  for (const [name, activation] of model.activations) {
    const placed = plan.buffers.get(name);
    if (placed === undefined) throw new Error(`executor: activation '${name}' was not planned`);
    const start = byteOffset + placed.offset;
    const length = activationLength(activation);
    const { type } = ARRAY_TYPES[activation.dtype];
    const view = new (type as new (
      buffer: ArrayBuffer,
      offset: number,
      length: number,
    ) => ActivationArray)(buffer as ArrayBuffer, start, length);
    const bytes = placed.bytes;
    const wide = activation.dtype === "bits" || activation.dtype === "i32" ||
      activation.dtype === "f32";
    slots.set(
      name,
      Object.freeze({
        name,
        activation,
        offset: placed.offset,
        bytes,
        view,
        halves: activation.dtype === "bits"
          ? new Uint32Array(buffer as ArrayBuffer, start, bytes / 4)
          : null,
        raw: wide
          ? new Uint32Array(buffer as ArrayBuffer, start, bytes / 4)
          : new Uint8Array(buffer as ArrayBuffer, start, bytes),
      }),
    );
  }
  return slots;
}

/**
 * A model bound to a kernel context, ready to run. Creation does all the work that can be
 * done once (memory plan, views, weight packing, parameter layout, codebook path choice);
 * {@linkcode ModelInstance.run} allocates nothing.
 *
 * An instance is not reentrant (it has one arena) and must not outlive its context: running
 * it after `ctx.destroy()` throws the context's `destroyed` error.
 *
 * @example
 * ```ts ignore
 * const instance = new ModelInstance(model, ctx, { codebook: "auto" });
 * for (const choice of instance.codebookChoices) console.log(choice);
 * const outputs = instance.copyOutputs(); // after a run: copies that survive the next run
 * ```
 */
export class ModelInstance {
  /** The model. */
  readonly model: RunnableModel;
  /** The memory plan: where every activation lives, peak and naive bytes. */
  readonly plan: MemoryPlan;
  /** How codebook convs were bound (one entry per codebook conv, in graph order). */
  readonly codebookChoices: readonly CodebookChoice[];
  readonly #ctx: KernelContext;
  readonly #steps: readonly Step[];
  readonly #slots: ReadonlyMap<string, ActivationSlot>;
  readonly #inputs: readonly ActivationSlot[];
  readonly #inputNames: ReadonlySet<string>;
  readonly #outputs: Readonly<Record<string, ActivationArray>>;
  readonly #profiling: boolean;
  readonly #timesMs: Float64Array;
  #runs = 0;
  #profiledRuns = 0;

  /**
   * Binds `model` to `ctx`. Throws a `KernelError` when a kernel refuses a layer (which a
   * validated model never causes), or `destroyed` / `closed` for a dead context.
   */
  constructor(model: RunnableModel, ctx: KernelContext, options: ModelInstanceOptions = {}) {
    const codebook = options.codebook ?? "auto";
    if (codebook !== "auto" && codebook !== "expand" && codebook !== "gather") {
      throw new Error(`ModelInstance: codebook is '${codebook}', expected auto, expand or gather`);
    }
    this.model = model;
    this.#ctx = ctx;
    this.plan = planMemory(model);
    const arena = alignedArray("u8", this.plan.peakBytes);
    this.#slots = makeSlots(model, this.plan, arena);
    const choices: CodebookChoice[] = [];
    const bind = { ctx, tensors: model.tensors, slots: this.#slots, arena, codebook, choices };
    this.#steps = Object.freeze(model.graph.ops.map((op) => bindOp(op, bind)));
    this.codebookChoices = Object.freeze(choices);
    this.#inputs = Object.freeze(model.graph.inputs.map((input) => this.#slot(input.name)));
    this.#inputNames = new Set(model.graph.inputs.map((input) => input.name));
    const outputs: Record<string, ActivationArray> = {};
    for (const name of model.graph.outputs) outputs[name] = this.#slot(name).view;
    this.#outputs = Object.freeze(outputs);
    this.#profiling = options.profile ?? false;
    this.#timesMs = new Float64Array(this.#steps.length);
  }

  #slot(name: string): ActivationSlot {
    const slot = this.#slots.get(name);
    if (slot === undefined) throw new Error(`ModelInstance: no activation '${name}'`);
    return slot;
  }

  /** Names, dtypes and shapes of the graph inputs, in graph order. */
  get inputs(): readonly { name: string; dtype: ActivationDType; shape: readonly number[] }[] {
    return this.model.graph.inputs;
  }

  /** Names of the graph outputs, in graph order. */
  get outputNames(): readonly string[] {
    return this.model.graph.outputs;
  }

  /** Completed runs. */
  get runs(): number {
    return this.#runs;
  }

  /** Whether runs are profiled. */
  get profiling(): boolean {
    return this.#profiling;
  }

  /**
   * Runs the model on `inputs` (one typed array per graph input: `BigUint64Array` of packed
   * words for bits, `Uint8Array`, `Int8Array`, `Int32Array` or `Float32Array`, with exactly
   * the input's element count). Returns the graph outputs as views into the instance's
   * arena: the same objects every run, overwritten by the next run; use
   * {@linkcode ModelInstance.copyOutputs} to keep them. Throws an {@linkcode InputError}
   * (missing, unknown, wrong dtype or size, tail bits set) before running anything; the
   * instance keeps working afterwards.
   */
  run(
    inputs: Readonly<Record<string, ActivationArray>>,
  ): Readonly<Record<string, ActivationArray>> {
    this.#checkInputs(inputs);
    for (const slot of this.#inputs) {
      (slot.view as Uint8Array).set(inputs[slot.name] as Uint8Array);
    }
    this.#checkTailBits();
    const steps = this.#steps;
    if (this.#profiling) {
      const times = this.#timesMs;
      for (let index = 0; index < steps.length; index++) {
        const start = performance.now();
        steps[index].run();
        times[index] += performance.now() - start;
      }
      this.#profiledRuns++;
    } else {
      for (let index = 0; index < steps.length; index++) steps[index].run();
    }
    this.#runs++;
    return this.#outputs;
  }

  #checkInputs(inputs: Readonly<Record<string, ActivationArray>>): void {
    if (typeof inputs !== "object" || inputs === null) {
      throw new InputError("input_missing", "", `run() needs an object of inputs, got ${inputs}`);
    }
    for (const name in inputs) {
      if (!this.#inputNames.has(name)) {
        throw new InputError(
          "input_unknown",
          name,
          `'${name}' is not an input of the model; its inputs are ${
            [...this.#inputNames].map((input) => `'${input}'`).join(", ")
          }`,
        );
      }
    }
    for (const slot of this.#inputs) {
      const { name, activation } = slot;
      const value = Object.hasOwn(inputs, name) ? inputs[name] : undefined;
      if (value === undefined) {
        throw new InputError("input_missing", name, `${describeInput(slot)} is missing`);
      }
      const expected = ARRAY_TYPES[activation.dtype];
      if (!(value instanceof expected.type)) {
        const got = (value as { constructor?: { name?: string } })?.constructor?.name ??
          typeof value;
        throw new InputError(
          "input_dtype",
          name,
          `${describeInput(slot)} is a ${got}, expected a ${expected.name}`,
        );
      }
      if (value.length !== slot.view.length) {
        throw new InputError(
          "input_size",
          name,
          `${describeInput(slot)} has ${value.length} ${
            activation.dtype === "bits" ? "words" : "values"
          }` +
            `, expected ${slot.view.length}`,
        );
      }
    }
  }

  /** Bits inputs must keep the channel tail 0 (the kernels rely on it). */
  #checkTailBits(): void {
    for (const slot of this.#inputs) {
      if (slot.halves === null) continue;
      const channels = slot.activation.shape[3];
      const used = channels % 64;
      if (used === 0) continue;
      const halves = slot.halves;
      const stride = 2 * Math.ceil(channels / 64);
      // Tail masks of the last word of a pixel: its low half (channels 0..31 of the word)
      // and its high half (32..63).
      const lowMask = used >= 32 ? 0 : (~0 << used) >>> 0;
      const highMask = used <= 32 ? 0xffff_ffff : (~0 << (used - 32)) >>> 0;
      for (let at = stride - 2; at < halves.length; at += stride) {
        if ((halves[at] & lowMask) !== 0 || (halves[at + 1] & highMask) !== 0) {
          throw new InputError(
            "input_bits",
            slot.name,
            `input '${slot.name}' has bits set past channel ${channels} in pixel ` +
              `${(at + 2) / stride - 1}; the channel tail of packed bits must be 0`,
          );
        }
      }
    }
  }

  /**
   * Copies of the graph outputs of the last run, which the next run does not overwrite.
   *
   * @example
   * ```ts ignore
   * instance.run({ image });
   * const kept = instance.copyOutputs();
   * ```
   */
  copyOutputs(): Record<string, ActivationArray> {
    const copies: Record<string, ActivationArray> = {};
    for (const name of this.model.graph.outputs) copies[name] = this.#outputs[name].slice();
    return copies;
  }

  /**
   * The arena view of any activation (graph inputs, intermediates, outputs), valid until the
   * next run; intermediates share memory by the plan, so only those live at the end of a
   * run (the outputs) are guaranteed to hold their values after it. For debugging and tests.
   */
  activation(name: string): ActivationArray {
    return this.#slot(name).view;
  }

  /**
   * The per-op profile: for every op its kernel, profiled calls and time, and its static
   * work per run (bit-ops, int ops, flops, bytes read and written), with totals. Times stay
   * 0 unless the instance was created with `profile: true`.
   */
  profile(): ModelProfile {
    const runs = this.#profiledRuns;
    const rows = this.#steps.map((step, index): OpProfileRow => {
      const totalMs = this.#timesMs[index];
      return Object.freeze({
        name: step.op.name,
        op: step.op.op,
        kernel: step.kernel,
        calls: runs,
        totalMs,
        meanMs: runs === 0 ? 0 : totalMs / runs,
        ...step.counts,
      });
    });
    const sum = (key: keyof OpCounts | "totalMs") =>
      rows.reduce((total, row) => total + row[key], 0);
    const totalMs = sum("totalMs");
    const totals: ProfileTotals = Object.freeze({
      totalMs,
      meanMs: runs === 0 ? 0 : totalMs / runs,
      bitOps: sum("bitOps"),
      intOps: sum("intOps"),
      flops: sum("flops"),
      bytesRead: sum("bytesRead"),
      bytesWritten: sum("bytesWritten"),
    });
    return Object.freeze({ runs, rows: Object.freeze(rows), totals });
  }

  /** Clears the profile's times and run count. */
  resetProfile(): void {
    this.#timesMs.fill(0);
    this.#profiledRuns = 0;
  }

  /** The kernel context the instance runs on. */
  get context(): KernelContext {
    return this.#ctx;
  }
}
