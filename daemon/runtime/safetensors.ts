/**
 * Reading and writing safetensors files, the container of onebit models (DESIGN.md section 4).
 *
 * The format, exactly as the reference implementation (`huggingface/safetensors`) reads and
 * writes it, so Python's `safetensors` package reads our files and we read its:
 *
 * ```
 * [0, 8)          N: the header length in bytes, u64 little-endian
 * [8, 8 + N)      the header: a UTF-8 JSON object starting with '{', padded with spaces
 *                 { "__metadata__": { string: string, ... },           (optional)
 *                   "<tensor name>": { "dtype": "U64", "shape": [d0, d1, ...],
 *                                      "data_offsets": [begin, end] }, ... }
 * [8 + N, end)    the data section; tensor bytes are data[begin, end), little-endian
 * ```
 *
 * Rules a file must follow here (the reference implementation checks the same, plus the ones
 * marked *stricter*, which no known writer violates):
 * - N is at most {@linkcode SAFETENSORS_LIMITS}`.headerBytesMax` (100 MB, as the reference) and
 *   fits the file; the header is valid UTF-8 and JSON and starts with `{`;
 * - `__metadata__` maps strings to strings;
 * - every entry has a supported dtype (see {@linkcode DType}), a shape of non-negative integers
 *   and `end - begin = product(shape) * dtype bytes`;
 * - sorted by offset, the tensors tile the data section exactly: the first begins at 0, each
 *   begins where the previous ends, and the last ends at the end of the file;
 * - *stricter*: no key appears twice in any JSON object (JSON parsers silently keep the last),
 *   an entry has no fields besides `dtype`, `shape` and `data_offsets`, rank is at most 8 and
 *   a tensor has at most 2^36 elements.
 *
 * Alignment: the format does not promise that a tensor's offset is a multiple of its element
 * size. The reader copies the data section once into a buffer it owns (so the caller's bytes
 * can change afterwards without changing the tensors, and a checksum over that copy covers
 * exactly what is used), views every aligned tensor in place and copies a misaligned one into
 * its own aligned array. The writer, like the reference, orders tensors by element size
 * (largest first, then by name) and pads the header to a multiple of 8 bytes, so every tensor
 * it writes is aligned.
 *
 * Typed arrays use the platform's byte order; every platform Deno runs on (x86_64, aarch64) is
 * little-endian, which this module asserts when it is loaded.
 *
 * @example
 * ```ts
 * import { parseSafetensors, serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors({
 *   "conv.w": { dtype: "U64", shape: [2, 1], data: new BigUint64Array([1n, 2n]) },
 * }, { metadata: { format: "onebit" } });
 * const file = parseSafetensors(bytes, { name: "tiny.onebit" });
 * console.log(file.tensors.get("conv.w")?.data, file.metadata.format);
 * ```
 *
 * @module
 */

import { ErrorSite } from "./errors.ts";

if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  // An assertion, not an error path: safetensors is little-endian and typed arrays are not
  // byte-swapped here, so a big-endian host would silently read garbage.
  throw new Error("onebit safetensors support needs a little-endian platform");
}

/** Element types this module reads and writes (safetensors names). */
export type DType = "U8" | "I8" | "U16" | "I16" | "U32" | "I32" | "U64" | "I64" | "F32" | "F64";

/** Bytes per element of each {@linkcode DType}. */
export const DTYPE_BYTES: Readonly<Record<DType, number>> = Object.freeze({
  U8: 1,
  I8: 1,
  U16: 2,
  I16: 2,
  U32: 4,
  I32: 4,
  U64: 8,
  I64: 8,
  F32: 4,
  F64: 8,
});

/** The typed array holding the elements of each {@linkcode DType}. */
export interface DTypeArrays {
  /** `U8` elements. */
  U8: Uint8Array;
  /** `I8` elements. */
  I8: Int8Array;
  /** `U16` elements. */
  U16: Uint16Array;
  /** `I16` elements. */
  I16: Int16Array;
  /** `U32` elements. */
  U32: Uint32Array;
  /** `I32` elements. */
  I32: Int32Array;
  /** `U64` elements. */
  U64: BigUint64Array;
  /** `I64` elements. */
  I64: BigInt64Array;
  /** `F32` elements. */
  F32: Float32Array;
  /** `F64` elements. */
  F64: Float64Array;
}

/** Any typed array that can hold tensor elements. */
export type TensorData = DTypeArrays[DType];

type ArrayConstructorOf<T> = {
  new (buffer: ArrayBuffer, byteOffset?: number, length?: number): T;
  readonly name: string;
};

const ARRAY_TYPES: { readonly [D in DType]: ArrayConstructorOf<DTypeArrays[D]> } = {
  U8: Uint8Array,
  I8: Int8Array,
  U16: Uint16Array,
  I16: Int16Array,
  U32: Uint32Array,
  I32: Int32Array,
  U64: BigUint64Array,
  I64: BigInt64Array,
  F32: Float32Array,
  F64: Float64Array,
};

/** One tensor: element type, shape (row-major, last axis fastest) and elements. */
export interface Tensor<D extends DType = DType> {
  /** Element type. */
  readonly dtype: D;
  /** Dimensions; `[]` is a scalar with one element. */
  readonly shape: readonly number[];
  /** `product(shape)` elements. */
  readonly data: DTypeArrays[D];
}

/** Bounds the reader and writer enforce. */
export const SAFETENSORS_LIMITS: Readonly<{
  headerBytesMax: number;
  rankMax: number;
  elementsMax: number;
}> = Object.freeze({
  /** Header length in bytes; the reference implementation's bound. */
  headerBytesMax: 100_000_000,
  /** Dimensions of one tensor. */
  rankMax: 8,
  /** Elements of one tensor: the kernel library's `elements_max`. */
  elementsMax: 2 ** 36,
});

/** Options of {@linkcode parseSafetensors}. */
export interface ParseOptions {
  /** The file name used in error messages. Default: `"<memory>"`. */
  name?: string;
  /** Largest data section accepted, in bytes. Default: no bound beyond the input's size. */
  dataBytesMax?: number;
}

/** A parsed safetensors file. */
export interface SafetensorsFile {
  /** Tensors by name, in header order. */
  readonly tensors: ReadonlyMap<string, Tensor>;
  /** The `__metadata__` map (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
  /** The data section, copied into a buffer owned by the result; tensors view into it. */
  readonly data: Uint8Array;
  /** The header length N, without the 8-byte length field. */
  readonly headerBytes: number;
}

const METADATA_KEY = "__metadata__";
const ENTRY_FIELDS = ["dtype", "shape", "data_offsets"] as const;

/** A tensor entry of the header, validated but without its data yet. */
interface Entry {
  name: string;
  dtype: DType;
  shape: readonly number[];
  begin: number;
  end: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The JSON kind of a value with its article, for messages: `null`, `an array`, `an object`,
 * `a string`, `a number`, `a boolean`.
 *
 * @example
 * ```ts
 * import { jsonKind } from "./safetensors.ts";
 * console.log(jsonKind([1]), jsonKind(null)); // an array null
 * ```
 */
export function jsonKind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const type = typeof value;
  return type === "object" || type === "undefined" ? `an ${type}` : `a ${type}`;
}

/**
 * The first key that appears twice in one object of the JSON `text`, or `undefined`.
 * `text` must be valid JSON (the caller parsed it); the scan is one pass with an explicit
 * stack, so deeply nested input cannot overflow the call stack.
 *
 * @example
 * ```ts
 * import { duplicateJsonKey } from "./safetensors.ts";
 * console.log(duplicateJsonKey('{"a": 1, "b": {"a": 2}, "a": 3}')); // "a"
 * ```
 */
export function duplicateJsonKey(text: string): string | undefined {
  // One entry per open container: the keys seen so far for an object, null for an array.
  const stack: (Set<string> | null)[] = [];
  let expectKey = false;
  let index = 0;
  while (index < text.length) {
    const char = text.charCodeAt(index);
    if (char === 0x22) { // '"'
      let end = index + 1;
      let escaped = false;
      while (end < text.length && text.charCodeAt(end) !== 0x22) {
        if (text.charCodeAt(end) === 0x5c) { // '\'
          escaped = true;
          end += 1;
        }
        end += 1;
      }
      const keys = stack.at(-1);
      if (expectKey && keys) {
        const raw = text.slice(index, end + 1);
        const key = escaped ? JSON.parse(raw) as string : raw.slice(1, -1);
        if (keys.has(key)) return key;
        keys.add(key);
        expectKey = false;
      }
      index = end + 1;
      continue;
    }
    if (char === 0x7b) { // '{'
      stack.push(new Set());
      expectKey = true;
    } else if (char === 0x5b) { // '['
      stack.push(null);
      expectKey = false;
    } else if (char === 0x7d || char === 0x5d) { // '}' ']'
      stack.pop();
      expectKey = false;
    } else if (char === 0x2c) { // ','
      expectKey = stack.at(-1) instanceof Set;
    }
    index += 1;
  }
  return undefined;
}

/**
 * Parses JSON text, refusing duplicate keys. Returns the value, or a message saying what is
 * wrong (never throws).
 */
export function parseStrictJson(text: string): { value: unknown } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { problem: `is not valid JSON (${(error as Error).message})` };
  }
  const duplicate = duplicateJsonKey(text);
  if (duplicate !== undefined) {
    return { problem: `names key ${JSON.stringify(duplicate)} twice in one object` };
  }
  return { value };
}

function describeShape(shape: readonly unknown[]): string {
  return `[${shape.join(", ")}]`;
}

/**
 * Elements of `shape`, or `Infinity` once the product passes `elementsMax` (so absurd shapes
 * never overflow into a wrong finite number).
 */
function elementCount(shape: readonly number[]): number {
  let elements = 1;
  for (const dim of shape) {
    elements *= dim;
    if (elements > SAFETENSORS_LIMITS.elementsMax) return Infinity;
  }
  return elements;
}

function readShape(site: ErrorSite, name: string, shape: unknown): number[] {
  if (!Array.isArray(shape)) {
    throw site.error("tensor_invalid", `tensor '${name}' has a shape that is ${jsonKind(shape)}`);
  }
  if (shape.length > SAFETENSORS_LIMITS.rankMax) {
    throw site.error(
      "limit_exceeded",
      `tensor '${name}' has ${shape.length} dimensions, max ${SAFETENSORS_LIMITS.rankMax}`,
    );
  }
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw site.error(
        "tensor_invalid",
        `tensor '${name}' has shape ${JSON.stringify(shape)}: dimensions must be integers >= 0`,
      );
    }
  }
  if (elementCount(shape) === Infinity) {
    throw site.error(
      "limit_exceeded",
      `tensor '${name}' has shape ${describeShape(shape)}, more than ` +
        `${SAFETENSORS_LIMITS.elementsMax} elements`,
    );
  }
  return shape;
}

function readDType(site: ErrorSite, name: string, dtype: unknown): DType {
  if (typeof dtype !== "string" || !Object.hasOwn(DTYPE_BYTES, dtype)) {
    throw site.error(
      "tensor_invalid",
      `tensor '${name}' has dtype ${JSON.stringify(dtype)}, supported: ` +
        Object.keys(DTYPE_BYTES).join(", "),
    );
  }
  return dtype as DType;
}

function readEntry(site: ErrorSite, name: string, raw: unknown): Entry {
  if (!isRecord(raw)) {
    throw site.error("tensor_invalid", `tensor '${name}' is ${jsonKind(raw)}, not an object`);
  }
  for (const field of Object.keys(raw)) {
    if (!(ENTRY_FIELDS as readonly string[]).includes(field)) {
      throw site.error("tensor_invalid", `tensor '${name}' has unknown field '${field}'`);
    }
  }
  for (const field of ENTRY_FIELDS) {
    if (!Object.hasOwn(raw, field)) {
      throw site.error("tensor_invalid", `tensor '${name}' has no '${field}'`);
    }
  }
  const dtype = readDType(site, name, raw.dtype);
  const shape = readShape(site, name, raw.shape);
  const offsets = raw.data_offsets;
  if (
    !Array.isArray(offsets) || offsets.length !== 2 ||
    !offsets.every((offset) => Number.isSafeInteger(offset) && offset >= 0) ||
    offsets[0] > offsets[1]
  ) {
    throw site.error(
      "tensor_invalid",
      `tensor '${name}' has data_offsets ${JSON.stringify(offsets)}, ` +
        `expected [begin, end] with 0 <= begin <= end`,
    );
  }
  const [begin, end] = offsets as number[];
  const expected = elementCount(shape) * DTYPE_BYTES[dtype];
  if (end - begin !== expected) {
    throw site.error(
      "tensor_invalid",
      `tensor '${name}' is ${end - begin} bytes, expected ${expected} ` +
        `(${dtype} ${describeShape(shape)})`,
    );
  }
  return { name, dtype, shape: Object.freeze([...shape]), begin, end };
}

function readMetadata(site: ErrorSite, raw: unknown): Readonly<Record<string, string>> {
  if (raw === null || raw === undefined) return Object.freeze({});
  if (!isRecord(raw)) {
    throw site.error("header_invalid", `__metadata__ is ${jsonKind(raw)}, not an object`);
  }
  for (const [key, value] of Object.entries(raw)) {
    if (typeof value !== "string") {
      throw site.error(
        "header_invalid",
        `__metadata__ '${key}' is ${jsonKind(value)}, safetensors metadata values are strings`,
      );
    }
  }
  return Object.freeze(Object.fromEntries(Object.entries(raw))) as Record<string, string>;
}

function readHeaderJson(site: ErrorSite, bytes: Uint8Array, headerBytes: number): unknown {
  const first = bytes[8];
  if (first !== 0x7b) {
    throw site.error(
      "header_invalid",
      `header starts with byte 0x${first.toString(16).padStart(2, "0")}, expected '{'`,
    );
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true })
      .decode(bytes.subarray(8, 8 + headerBytes));
  } catch (error) {
    throw site.error("header_invalid", "header is not valid UTF-8", { cause: error });
  }
  const parsed = parseStrictJson(text);
  if ("problem" in parsed) throw site.error("header_invalid", `header ${parsed.problem}`);
  if (!isRecord(parsed.value)) {
    throw site.error("header_invalid", `header is ${jsonKind(parsed.value)}, not an object`);
  }
  return parsed.value;
}

function readHeaderLength(site: ErrorSite, bytes: Uint8Array): number {
  if (bytes.length < 8) {
    throw site.error(
      "truncated",
      `file is ${bytes.length} bytes, shorter than the 8-byte header length`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const length = view.getBigUint64(0, true);
  if (length > BigInt(SAFETENSORS_LIMITS.headerBytesMax)) {
    throw site.error(
      "limit_exceeded",
      `header length is ${length} bytes, max ${SAFETENSORS_LIMITS.headerBytesMax}`,
    );
  }
  const headerBytes = Number(length);
  if (headerBytes > bytes.length - 8) {
    throw site.error(
      "truncated",
      `header length is ${headerBytes} bytes, but only ${bytes.length - 8} bytes follow it`,
    );
  }
  if (headerBytes < 2) {
    throw site.error("header_invalid", `header length is ${headerBytes} bytes, too short for {}`);
  }
  return headerBytes;
}

/** Checks that the entries tile `[0, dataBytes)` exactly, as the reference implementation. */
function checkTiling(site: ErrorSite, entries: Entry[], dataBytes: number): void {
  for (const entry of entries) {
    if (entry.end > dataBytes) {
      throw site.error(
        "truncated",
        `tensor '${entry.name}' ends at data byte ${entry.end}, ` +
          `but the data section has only ${dataBytes} bytes`,
      );
    }
  }
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const entry of sorted) {
    if (entry.begin < covered) {
      throw site.error(
        "tensor_invalid",
        `tensor '${entry.name}' begins at data byte ${entry.begin}, ` +
          `inside the previous tensor (which ends at ${covered})`,
      );
    }
    if (entry.begin > covered) {
      throw site.error(
        "tensor_invalid",
        `tensor '${entry.name}' begins at data byte ${entry.begin}, ` +
          `leaving a gap after byte ${covered}`,
      );
    }
    covered = entry.end;
  }
  if (covered !== dataBytes) {
    throw site.error(
      "tensor_invalid",
      `data section has ${dataBytes} bytes, but the tensors cover only ${covered}`,
    );
  }
}

function tensorOf(entry: Entry, data: Uint8Array): Tensor {
  const ArrayType = ARRAY_TYPES[entry.dtype] as ArrayConstructorOf<TensorData>;
  const size = DTYPE_BYTES[entry.dtype];
  const length = (entry.end - entry.begin) / size;
  // `data` is a fresh copy starting at byte 0 of its buffer, so an offset that is a multiple
  // of the element size is aligned; others get their own aligned copy.
  const typed = entry.begin % size === 0
    ? new ArrayType(data.buffer as ArrayBuffer, data.byteOffset + entry.begin, length)
    : new ArrayType((data.buffer as ArrayBuffer).slice(entry.begin, entry.end), 0, length);
  return Object.freeze({ dtype: entry.dtype, shape: entry.shape, data: typed });
}

/**
 * Parses a safetensors file and validates its header and layout (see the module doc). The
 * result owns a copy of the data section; `bytes` is not kept. Throws a
 * {@linkcode ModelError} (codes `truncated`, `header_invalid`, `tensor_invalid`,
 * `limit_exceeded`) naming `options.name` and the problem; never any other error.
 *
 * @example
 * ```ts
 * import { parseSafetensors } from "./safetensors.ts";
 * import { ModelError } from "./errors.ts";
 * try {
 *   parseSafetensors(new Uint8Array(4), { name: "broken.onebit" });
 * } catch (error) {
 *   if (error instanceof ModelError) console.log(error.code); // truncated
 * }
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, options: ParseOptions = {}): SafetensorsFile {
  const site = new ErrorSite(options.name ?? "<memory>");
  const headerBytes = readHeaderLength(site, bytes);
  const header = readHeaderJson(site, bytes, headerBytes) as Record<string, unknown>;
  const metadata = readMetadata(site, header[METADATA_KEY]);
  const entries: Entry[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name !== METADATA_KEY) entries.push(readEntry(site, name, raw));
  }
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const dataBytesMax = options.dataBytesMax ?? Infinity;
  if (dataBytes > dataBytesMax) {
    throw site.error(
      "limit_exceeded",
      `data section is ${dataBytes} bytes, max ${dataBytesMax}`,
    );
  }
  checkTiling(site, entries, dataBytes);
  const data = bytes.slice(dataStart);
  const tensors = new Map<string, Tensor>();
  for (const entry of entries) tensors.set(entry.name, tensorOf(entry, data));
  return Object.freeze({ tensors, metadata, data, headerBytes });
}

/** Options of {@linkcode serializeSafetensors}. */
export interface SerializeOptions {
  /**
   * The `__metadata__` map, or a function computing it from the finished data section (to
   * record a checksum of it). Default: no `__metadata__` entry.
   */
  metadata?: Record<string, string> | ((data: Uint8Array) => Record<string, string>);
  /** The file name used in error messages. Default: `"<memory>"`. */
  name?: string;
}

/**
 * The `[name, tensor]` pairs of a map or record of tensors, in insertion order.
 *
 * @example
 * ```ts
 * import { tensorEntries } from "./safetensors.ts";
 * const t = { dtype: "U8" as const, shape: [1], data: new Uint8Array(1) };
 * console.log(tensorEntries({ a: t }).length, tensorEntries(new Map([["a", t]])).length); // 1 1
 * ```
 */
export function tensorEntries(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
): [string, Tensor][] {
  // Any ReadonlyMap (not only a Map: a loaded model's tensors are a frozen map). A record
  // of tensors has no function-valued properties, so this cannot mistake one for a map.
  const map = tensors as ReadonlyMap<string, Tensor>;
  if (typeof map.get === "function" && typeof map.entries === "function") {
    return [...map.entries()];
  }
  return Object.entries(tensors as Readonly<Record<string, Tensor>>);
}

function article(word: string): string {
  return `${/^[AEIO]/.test(word) ? "an" : "a"} ${word}`;
}

function typedArrayTag(value: unknown): string | undefined {
  if (!ArrayBuffer.isView(value)) return undefined;
  return (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
}

function checkWritable(site: ErrorSite, name: string, tensor: Tensor): void {
  if (name.length === 0 || name === METADATA_KEY) {
    throw site.error("tensor_invalid", `tensor name ${JSON.stringify(name)} is reserved`);
  }
  readDType(site, name, tensor.dtype);
  const shape = readShape(site, name, tensor.shape);
  const expectedArray = ARRAY_TYPES[tensor.dtype].name;
  const tag = typedArrayTag(tensor.data);
  if (tag !== expectedArray) {
    throw site.error(
      "tensor_invalid",
      `tensor '${name}' holds ${tag === undefined ? jsonKind(tensor.data) : article(tag)}, ` +
        `${tensor.dtype} needs ${article(expectedArray)}`,
    );
  }
  const elements = elementCount(shape);
  if (tensor.data.length !== elements) {
    throw site.error(
      "tensor_invalid",
      `tensor '${name}' has ${tensor.data.length} elements, shape ${describeShape(shape)} ` +
        `needs ${elements}`,
    );
  }
}

function checkMetadata(site: ErrorSite, metadata: Record<string, string>): void {
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== "string") {
      throw site.error("header_invalid", `metadata '${key}' is ${jsonKind(value)}, not a string`);
    }
  }
}

/**
 * Writes tensors and metadata as a safetensors file (layout in the module doc). Tensors are
 * ordered by element size, largest first, then by name, so each is aligned. Throws a
 * {@linkcode ModelError} with action `write` for a reserved or empty name, an unknown dtype,
 * a typed array that does not match the dtype or shape, or a header beyond the limit.
 *
 * @example
 * ```ts
 * import { serializeSafetensors } from "./safetensors.ts";
 * const bytes = serializeSafetensors(
 *   new Map([["t", { dtype: "I32" as const, shape: [2], data: new Int32Array([1, -1]) }]]),
 * );
 * console.log(bytes.length); // 8 + header + 8 data bytes
 * ```
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>,
  options: SerializeOptions = {},
): Uint8Array {
  const site = new ErrorSite(options.name ?? "<memory>", "write");
  const list = tensorEntries(tensors);
  for (const [name, tensor] of list) checkWritable(site, name, tensor);
  list.sort(([nameA, a], [nameB, b]) =>
    DTYPE_BYTES[b.dtype] - DTYPE_BYTES[a.dtype] || (nameA < nameB ? -1 : nameA > nameB ? 1 : 0)
  );
  let dataBytes = 0;
  const parts: string[] = [];
  for (const [name, tensor] of list) {
    const begin = dataBytes;
    dataBytes += tensor.data.byteLength;
    parts.push(
      `${JSON.stringify(name)}:${
        JSON.stringify({
          dtype: tensor.dtype,
          shape: tensor.shape,
          data_offsets: [begin, dataBytes],
        })
      }`,
    );
  }
  const data = new Uint8Array(dataBytes);
  let offset = 0;
  for (const [, tensor] of list) {
    data.set(
      new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength),
      offset,
    );
    offset += tensor.data.byteLength;
  }
  const metadata = typeof options.metadata === "function"
    ? options.metadata(data)
    : options.metadata;
  if (metadata !== undefined) {
    checkMetadata(site, metadata);
    const entries = Object.entries(metadata).map(([key, value]) =>
      `${JSON.stringify(key)}:${JSON.stringify(value)}`
    );
    parts.unshift(`${JSON.stringify(METADATA_KEY)}:{${entries.join(",")}}`);
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  // Pad with spaces to a multiple of 8, as the reference writer, so the data section (and,
  // with the size ordering above, every tensor) is aligned.
  const headerBytes = Math.ceil(json.length / 8) * 8;
  if (headerBytes > SAFETENSORS_LIMITS.headerBytesMax) {
    throw site.error(
      "limit_exceeded",
      `header would be ${headerBytes} bytes, max ${SAFETENSORS_LIMITS.headerBytesMax}`,
    );
  }
  const file = new Uint8Array(8 + headerBytes + dataBytes);
  new DataView(file.buffer).setBigUint64(0, BigInt(headerBytes), true);
  file.set(json, 8);
  file.fill(0x20, 8 + json.length, 8 + headerBytes);
  file.set(data, 8 + headerBytes);
  return file;
}
