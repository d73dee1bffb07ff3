/**
 * Tensor buffers for kernel calls: 64-byte aligned typed arrays, allocated once and reused.
 *
 * Why aligned: the SIMD kernels load whole cache lines (64 bytes = one AVX-512 register), and
 * an aligned start keeps a tensor from straddling one more line than it needs. Why reused:
 * running a model must not allocate (DESIGN.md: buffers are planned at load time), and a
 * buffer that native code reads must stay referenced for as long as it is in use; the arena
 * holds every buffer it handed out until it is told to drop it.
 *
 * Every buffer is a view of its own `ArrayBuffer`. Those live outside the JS heap and never
 * move (unlike typed arrays of at most 64 bytes created with a length, which V8 may keep on
 * its moving heap), so the address native code sees stays valid.
 *
 * Alignment is measured with `Deno.UnsafePointer`, so this module needs `--allow-ffi`, as
 * every user of the kernels does.
 *
 * @module
 */

import { KernelError } from "./errors.ts";

/** Alignment in bytes of every buffer this module hands out. */
export const TENSOR_ALIGNMENT_BYTES = 64;

/** The typed array of each element type, named like the safetensors dtypes (lower case). */
export interface TensorArrays {
  /** Unsigned bytes (images, int8 outputs' raw bytes). */
  u8: Uint8Array<ArrayBuffer>;
  /** Signed bytes (int8 tensors). */
  i8: Int8Array<ArrayBuffer>;
  /** Unsigned 16-bit integers. */
  u16: Uint16Array<ArrayBuffer>;
  /** Signed 16-bit integers. */
  i16: Int16Array<ArrayBuffer>;
  /** Unsigned 32-bit integers (shapes, thresholds). */
  u32: Uint32Array<ArrayBuffer>;
  /** Signed 32-bit integers (accumulators, thresholds). */
  i32: Int32Array<ArrayBuffer>;
  /** 32-bit floats. */
  f32: Float32Array<ArrayBuffer>;
  /** 64-bit floats. */
  f64: Float64Array<ArrayBuffer>;
  /** Unsigned 64-bit integers (packed bit words). */
  u64: BigUint64Array<ArrayBuffer>;
  /** Signed 64-bit integers. */
  i64: BigInt64Array<ArrayBuffer>;
}

/** Element type of a tensor buffer. */
export type TensorKind = keyof TensorArrays;

/** The typed array type of a {@linkcode TensorKind}. */
export type TensorArray<K extends TensorKind> = TensorArrays[K];

type ArrayConstructorOf<A> = {
  new (buffer: ArrayBuffer, byteOffset: number, length: number): A;
  readonly BYTES_PER_ELEMENT: number;
};

const arrayTypes: { [K in TensorKind]: ArrayConstructorOf<TensorArrays[K]> } = {
  u8: Uint8Array,
  i8: Int8Array,
  u16: Uint16Array,
  i16: Int16Array,
  u32: Uint32Array,
  i32: Int32Array,
  f32: Float32Array,
  f64: Float64Array,
  u64: BigUint64Array,
  i64: BigInt64Array,
};

/** Elements of one buffer: lengths cross the ABI as `u32`. */
export const TENSOR_ELEMENTS_MAX = 0xffff_ffff;

function checkLength(kind: TensorKind, length: number, what: string): void {
  if (!(kind in arrayTypes)) {
    throw new KernelError(
      "invalid_argument",
      `${what}: kind is '${kind}', expected one of ${Object.keys(arrayTypes).join(", ")}`,
    );
  }
  if (!Number.isInteger(length) || length < 0 || length > TENSOR_ELEMENTS_MAX) {
    throw new KernelError(
      "invalid_argument",
      `${what}: length is ${length}, must be an integer from 0 to ${TENSOR_ELEMENTS_MAX}`,
    );
  }
}

/** Bytes from the start of `buffer` to its first 64-byte aligned address. */
function alignedOffset(buffer: ArrayBuffer): number {
  const address = Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer));
  const alignment = BigInt(TENSOR_ALIGNMENT_BYTES);
  return Number((alignment - address % alignment) % alignment);
}

/**
 * A 64-byte aligned array of `length` elements, zero-filled, viewing its own `ArrayBuffer`.
 *
 * @example
 * ```ts
 * import { alignedArray } from "./buffers.ts";
 * const words = alignedArray("u64", 56 * 56);
 * console.log(words.length, words.byteOffset % 64 >= 0); // 3136 true
 * ```
 */
export function alignedArray<K extends TensorKind>(kind: K, length: number): TensorArray<K> {
  checkLength(kind, length, "alignedArray");
  const type = arrayTypes[kind];
  // The slack lets the view start on a 64-byte boundary; a buffer of more than 64 bytes is
  // never placed on the moving heap.
  const buffer = new ArrayBuffer(length * type.BYTES_PER_ELEMENT + TENSOR_ALIGNMENT_BYTES);
  return new type(buffer, alignedOffset(buffer), length) as TensorArray<K>;
}

interface Slot {
  kind: TensorKind;
  view: TensorArray<TensorKind>;
  /** Usable bytes from the view's aligned start to the end of its buffer. */
  capacityBytes: number;
}

/**
 * Named, reused tensor buffers. `take(name, kind, length)` returns the buffer called `name`,
 * reusing its memory when it is large enough, so a planned model allocates once and then
 * only hands out the same arrays. The arena keeps every buffer referenced until `delete` or
 * `clear`, so native code never sees a collected buffer.
 *
 * @example
 * ```ts
 * import { TensorArena } from "./buffers.ts";
 * const arena = new TensorArena();
 * const input = arena.take("input", "u64", 1024);
 * console.log(arena.take("input", "u64", 1024) === input); // true: same array, no allocation
 * ```
 */
export class TensorArena {
  #slots = new Map<string, Slot>();

  /**
   * The buffer named `name`, viewed as `length` elements of `kind`, 64-byte aligned. The same
   * name, kind and length return the same array (contents kept). Another kind or length
   * reuses the memory when it fits, else allocates a larger buffer and drops the old one; the
   * contents are then unspecified. A buffer whose memory was transferred away is replaced.
   */
  take<K extends TensorKind>(name: string, kind: K, length: number): TensorArray<K> {
    checkLength(kind, length, `TensorArena.take('${name}')`);
    const type = arrayTypes[kind];
    const bytes = length * type.BYTES_PER_ELEMENT;
    const slot = this.#slots.get(name);
    if (slot !== undefined && !slot.view.buffer.detached) {
      if (slot.kind === kind && slot.view.length === length) return slot.view as TensorArray<K>;
      if (slot.capacityBytes >= bytes) {
        const view = new type(slot.view.buffer, slot.view.byteOffset, length) as TensorArray<K>;
        this.#slots.set(name, { kind, view, capacityBytes: slot.capacityBytes });
        return view;
      }
    }
    const view = alignedArray(kind, length);
    this.#slots.set(name, { kind, view, capacityBytes: bytes });
    return view;
  }

  /** True when a buffer named `name` is held. */
  has(name: string): boolean {
    return this.#slots.has(name);
  }

  /** Drops the buffer named `name`; returns whether there was one. */
  delete(name: string): boolean {
    return this.#slots.delete(name);
  }

  /** Drops every buffer. */
  clear(): void {
    this.#slots.clear();
  }

  /** Number of buffers held. */
  get size(): number {
    return this.#slots.size;
  }

  /** Bytes held by all buffers (usable capacity, without the alignment slack). */
  get bytes(): number {
    let total = 0;
    for (const slot of this.#slots.values()) total += slot.capacityBytes;
    return total;
  }
}
