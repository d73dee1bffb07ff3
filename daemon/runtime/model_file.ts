/**
 * The onebit model file (DESIGN.md section 4): a safetensors file whose `__metadata__`
 * says what the tensors mean. Loading validates everything and returns an immutable
 * {@linkcode Model}, or throws a {@linkcode ModelError}; there is no half-loaded model.
 *
 * ## Metadata (all values are strings, as safetensors requires)
 *
 * | key | value |
 * |---|---|
 * | `format` | `"onebit"` |
 * | `format_version` | `"1"` |
 * | `graph` | the graph as JSON (schema in `graph.ts`) |
 * | `checksum` | `"sha256:<64 lowercase hex digits>"`, see below |
 * | `name`, `task`, `producer` | free-form, optional (default `""`) |
 *
 * Other metadata keys are kept in {@linkcode Model.metadata} but mean nothing to the runtime
 * and are not covered by the checksum.
 *
 * ## Checksum
 *
 * SHA-256 over, in this order, each item written as its length in bytes (u64 little-endian)
 * followed by its bytes (strings as UTF-8):
 * 1. for every tensor, in order of name (compared as UTF-8 bytes, which is Python's `sorted`):
 *    the name, the dtype (`"U64"`), the shape as u64 little-endian dims, the data bytes;
 * 2. the metadata values `format`, `format_version`, `graph`, `name`, `task`, `producer`
 *    (`""` when absent).
 *
 * Why these choices: SHA-256 is available everywhere without extra packages (Deno's
 * `node:crypto`, which runs natively and uses the CPU's SHA instructions, ~1.3 GB/s here;
 * Python's `hashlib`), and it detects any corruption, not only short bursts like a CRC-32.
 * It covers the tensors' names, dtypes and shapes and the graph, not only the raw data
 * section, because a flipped digit in a stride or a swapped name can leave a file that still
 * parses and validates but computes something else. And it is defined over the tensors
 * rather than the data section's layout so that a writer can compute it before it knows the
 * layout: in Python, with `tensors` a dict of little-endian numpy arrays,
 *
 * ```python
 * import hashlib, struct
 * def item(h, b): h.update(struct.pack("<Q", len(b))); h.update(b)
 * h = hashlib.sha256()
 * for name in sorted(tensors):
 *     a = tensors[name]
 *     item(h, name.encode()); item(h, DTYPES[a.dtype].encode())   # e.g. uint64 -> "U64"
 *     item(h, struct.pack(f"<{a.ndim}Q", *a.shape)); item(h, a.tobytes())
 * for key in ("format", "format_version", "graph", "name", "task", "producer"):
 *     item(h, metadata.get(key, "").encode())
 * metadata["checksum"] = "sha256:" + h.hexdigest()
 * ```
 *
 * Loading refuses, in this order: files over {@linkcode MODEL_LIMITS} and malformed
 * safetensors (`truncated`, `header_invalid`, `tensor_invalid`, `limit_exceeded`), metadata
 * that is not onebit version 1 (`format_invalid`), a checksum that does not match
 * (`checksum_mismatch`), then anything wrong in the graph or its params (`graph_invalid`,
 * `unknown_op`, `param_invalid`, `shape_mismatch`, `limit_exceeded`).
 *
 * @example
 * ```ts
 * import { loadModel, writeModel } from "./model_file.ts";
 * const bytes = writeModel({
 *   inputs: [{ name: "x", dtype: "f32", shape: [1, 1, 1, 4] }],
 *   outputs: ["p"],
 *   ops: [{ op: "softmax", name: "s", inputs: ["x"], outputs: ["p"], attrs: {}, params: {} }],
 * }, new Map(), { name: "tiny", task: "classify", producer: "example" });
 * const model = loadModel(bytes, { name: "tiny.onebit" });
 * console.log(model.activations.get("p"), model.checksum);
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import { ErrorSite, ModelError } from "./errors.ts";
import { type Activation, type Graph, parseGraph } from "./graph.ts";
import {
  parseSafetensors,
  SAFETENSORS_LIMITS,
  serializeSafetensors,
  type Tensor,
  tensorEntries,
} from "./safetensors.ts";

/** The `format` metadata value of a onebit model. */
export const MODEL_FORMAT = "onebit";

/** The `format_version` this runtime reads and writes. */
export const MODEL_FORMAT_VERSION = "1";

/** Metadata keys the checksum covers, in order. */
export const CHECKSUMMED_METADATA: readonly string[] = Object.freeze([
  "format",
  "format_version",
  "graph",
  "name",
  "task",
  "producer",
]);

/** Bounds of a model file. */
export const MODEL_LIMITS: Readonly<{ paramBytesMax: number; fileBytesMax: number }> = Object
  .freeze({
    /** Bytes of all parameter tensors together (the data section). */
    paramBytesMax: 2 ** 30,
    /** Bytes of a whole file: the length field, the largest header and the largest data. */
    fileBytesMax: 8 + SAFETENSORS_LIMITS.headerBytesMax + 2 ** 30,
  });

/** A loaded, fully validated model. Everything is frozen; do not write to tensor data. */
export interface Model {
  /** The file name used in messages (the `name` option of the load). */
  readonly file: string;
  /** Free-form model name from the metadata (`""` when absent). */
  readonly name: string;
  /** Free-form task from the metadata, e.g. `"detect"` (`""` when absent). */
  readonly task: string;
  /** Free-form producer from the metadata, e.g. `"onebit-train 0.1"` (`""` when absent). */
  readonly producer: string;
  /** `format_version` of the file. */
  readonly formatVersion: string;
  /** The verified `checksum`, `"sha256:<hex>"`. */
  readonly checksum: string;
  /** The whole `__metadata__` map. */
  readonly metadata: Readonly<Record<string, string>>;
  /** The validated graph. */
  readonly graph: Graph;
  /** Parameter tensors by name; typed arrays are aligned and owned by the model. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** Dtype and shape of every activation, graph inputs first, then in op order. */
  readonly activations: ReadonlyMap<string, Activation>;
  /** Bytes of all parameter tensors. */
  readonly paramBytes: number;
  /** Bytes of the file. */
  readonly fileBytes: number;
}

/** Options of {@linkcode loadModel}. */
export interface LoadModelOptions {
  /** The file name used in messages and as {@linkcode Model.file}. Default: `"<memory>"`. */
  name?: string;
}

/** Options of {@linkcode writeModel}: the free-form metadata and the name for messages. */
export interface WriteModelOptions {
  /** Model name. Default: `""`. */
  name?: string;
  /** Task, e.g. `"classify"`, `"detect"`. Default: `""`. */
  task?: string;
  /** What produced the file, e.g. `"onebit builder"`. Default: `""`. */
  producer?: string;
  /** The file name used in error messages. Default: `"<memory>"`. */
  file?: string;
}

/** A read-only map that cannot be changed through a cast either. */
class FrozenMap<K, V> implements ReadonlyMap<K, V> {
  readonly #map: Map<K, V>;

  constructor(entries: Iterable<readonly [K, V]>) {
    this.#map = new Map(entries);
    Object.freeze(this);
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    return this.#map.get(key);
  }

  has(key: K): boolean {
    return this.#map.has(key);
  }

  forEach(callback: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    this.#map.forEach((value, key) => callback.call(thisArg, value, key, this));
  }

  entries(): MapIterator<[K, V]> {
    return this.#map.entries();
  }

  keys(): MapIterator<K> {
    return this.#map.keys();
  }

  values(): MapIterator<V> {
    return this.#map.values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.#map.entries();
  }
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let index = 0; index < length; index++) {
    if (a[index] !== b[index]) return a[index] - b[index];
  }
  return a.length - b.length;
}

/**
 * The checksum of a model: `"sha256:<hex>"` over its tensors and onebit metadata, as the
 * module doc defines it. `metadata` may hold a `checksum` key; it is ignored.
 *
 * @example
 * ```ts
 * import { modelChecksum } from "./model_file.ts";
 * const tensors = new Map([["t", { dtype: "U8" as const, shape: [1], data: new Uint8Array([7]) }]]);
 * console.log(modelChecksum(tensors, { format: "onebit", format_version: "1", graph: "{}" }));
 * ```
 */
export function modelChecksum(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  metadata: Readonly<Record<string, string>>,
): string {
  const encoder = new TextEncoder();
  const hash = createHash("sha256");
  const length = new DataView(new ArrayBuffer(8));
  const item = (bytes: Uint8Array) => {
    length.setBigUint64(0, BigInt(bytes.length), true);
    hash.update(new Uint8Array(length.buffer));
    hash.update(bytes);
  };
  const list = tensorEntries(tensors)
    .map(([name, tensor]) => ({ key: encoder.encode(name), tensor }))
    .sort((a, b) => compareBytes(a.key, b.key));
  for (const { key, tensor } of list) {
    item(key);
    item(encoder.encode(tensor.dtype));
    const dims = new DataView(new ArrayBuffer(tensor.shape.length * 8));
    tensor.shape.forEach((dim, index) => dims.setBigUint64(index * 8, BigInt(dim), true));
    item(new Uint8Array(dims.buffer));
    item(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength));
  }
  for (const key of CHECKSUMMED_METADATA) {
    item(encoder.encode(Object.hasOwn(metadata, key) ? metadata[key] : ""));
  }
  return `sha256:${hash.digest("hex")}`;
}

function requireKey(
  site: ErrorSite,
  metadata: Readonly<Record<string, string>>,
  key: string,
): string {
  if (!Object.hasOwn(metadata, key)) {
    throw site.error("format_invalid", `metadata has no '${key}'; not a onebit model`);
  }
  return metadata[key];
}

function checkFormat(site: ErrorSite, metadata: Readonly<Record<string, string>>): void {
  const format = requireKey(site, metadata, "format");
  if (format !== MODEL_FORMAT) {
    throw site.error("format_invalid", `format is '${format}', expected '${MODEL_FORMAT}'`);
  }
  const version = requireKey(site, metadata, "format_version");
  if (version !== MODEL_FORMAT_VERSION) {
    throw site.error(
      "format_invalid",
      `format_version is '${version}', this runtime reads '${MODEL_FORMAT_VERSION}'`,
    );
  }
  requireKey(site, metadata, "graph");
  const checksum = requireKey(site, metadata, "checksum");
  if (!/^sha256:[0-9a-f]{64}$/.test(checksum)) {
    throw site.error(
      "format_invalid",
      `checksum '${checksum.slice(0, 80)}' is not 'sha256:' and 64 lowercase hex digits`,
    );
  }
}

/**
 * Loads a model from the bytes of a file: parses, checks format and checksum, validates the
 * graph against the tensors and infers every activation. The model owns a copy of the data;
 * `bytes` is not kept. Throws a {@linkcode ModelError} naming `options.name`; never another
 * error, never a partly checked model.
 *
 * @example
 * ```ts
 * import { loadModel } from "./model_file.ts";
 * import { ModelError } from "./errors.ts";
 * try {
 *   loadModel(new Uint8Array(3), { name: "detect.onebit" });
 * } catch (error) {
 *   if (error instanceof ModelError) console.log(error.message);
 *   // Cannot load model 'detect.onebit': file is 3 bytes, shorter than the 8-byte header length
 * }
 * ```
 */
export function loadModel(bytes: Uint8Array, options: LoadModelOptions = {}): Model {
  const file = options.name ?? "<memory>";
  const site = new ErrorSite(file);
  if (bytes.length > MODEL_LIMITS.fileBytesMax) {
    throw site.error(
      "limit_exceeded",
      `file is ${bytes.length} bytes, max ${MODEL_LIMITS.fileBytesMax}`,
    );
  }
  const parsed = parseSafetensors(bytes, { name: file, dataBytesMax: MODEL_LIMITS.paramBytesMax });
  const { metadata, tensors } = parsed;
  checkFormat(site, metadata);
  const actual = modelChecksum(tensors, metadata);
  if (actual !== metadata.checksum) {
    throw site.error(
      "checksum_mismatch",
      `checksum is ${metadata.checksum}, but the contents hash to ${actual} ` +
        `(the file is corrupt or was changed after it was written)`,
    );
  }
  const { graph, activations } = parseGraph(metadata.graph, tensors, { site });
  const text = (key: string) => Object.hasOwn(metadata, key) ? metadata[key] : "";
  return Object.freeze({
    file,
    name: text("name"),
    task: text("task"),
    producer: text("producer"),
    formatVersion: metadata.format_version,
    checksum: metadata.checksum,
    metadata,
    graph,
    tensors: new FrozenMap(tensors),
    activations: new FrozenMap(activations),
    paramBytes: parsed.data.length,
    fileBytes: bytes.length,
  });
}

function basename(path: string | URL): string {
  const text = path instanceof URL ? decodeURIComponent(path.pathname) : path;
  return text.split(/[\\/]/).filter((part) => part.length > 0).at(-1) ?? text;
}

/**
 * Reads and loads a model file (needs read permission). The file's base name is used in
 * messages. Throws a {@linkcode ModelError}: `io_failed` when the file cannot be read,
 * `limit_exceeded` for a file over {@linkcode MODEL_LIMITS}`.fileBytesMax` (checked before
 * reading it), or any error of {@linkcode loadModel}.
 *
 * @example
 * ```ts
 * import { readModel } from "./model_file.ts";
 * const model = await readModel("plugins/detect/detect.onebit");
 * console.log(model.graph.ops.length);
 * ```
 */
export async function readModel(path: string | URL): Promise<Model> {
  const name = basename(path);
  const site = new ErrorSite(name);
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw site.error("io_failed", `${String(path)} is not a file`);
    if (info.size > MODEL_LIMITS.fileBytesMax) {
      throw site.error(
        "limit_exceeded",
        `file is ${info.size} bytes, max ${MODEL_LIMITS.fileBytesMax}`,
      );
    }
    bytes = await Deno.readFile(path);
  } catch (error) {
    if (error instanceof ModelError) throw error;
    throw site.error("io_failed", `cannot read ${String(path)}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  return loadModel(bytes, { name });
}

/**
 * Writes a model file: the tensors, the graph and the metadata with its checksum. The
 * result is loaded back before it is returned, so it is exactly a file {@linkcode loadModel}
 * accepts; anything it would refuse is thrown as a {@linkcode ModelError} with action
 * `write` and the same code.
 *
 * @example
 * ```ts
 * import { writeModel } from "./model_file.ts";
 * const bytes = writeModel({
 *   inputs: [{ name: "x", dtype: "f32", shape: [1, 2, 2, 3] }],
 *   outputs: ["y"],
 *   ops: [{ op: "sigmoid", name: "s", inputs: ["x"], outputs: ["y"], attrs: {}, params: {} }],
 * }, {}, { name: "tiny" });
 * await Deno.writeFile("tiny.onebit", bytes);
 * ```
 */
export function writeModel(
  graph: Graph,
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  options: WriteModelOptions = {},
): Uint8Array {
  const file = options.file ?? "<memory>";
  const metadata: Record<string, string> = {
    format: MODEL_FORMAT,
    format_version: MODEL_FORMAT_VERSION,
    graph: JSON.stringify(graph),
    name: options.name ?? "",
    task: options.task ?? "",
    producer: options.producer ?? "",
  };
  // The checksum is computed once serializeSafetensors has checked the tensors.
  const bytes = serializeSafetensors(tensors, {
    metadata: () => ({ ...metadata, checksum: modelChecksum(tensors, metadata) }),
    name: file,
  });
  try {
    loadModel(bytes, { name: file });
  } catch (error) {
    if (!(error instanceof ModelError)) throw error;
    throw new ModelError(error.code, error.problem, { file, action: "write", cause: error });
  }
  return bytes;
}
