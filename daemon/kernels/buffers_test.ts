import assert from "node:assert/strict";
import { alignedArray, TENSOR_ALIGNMENT_BYTES, TensorArena, type TensorKind } from "./buffers.ts";
import { KernelError } from "./errors.ts";

function address(view: ArrayBufferView): bigint {
  return Deno.UnsafePointer.value(Deno.UnsafePointer.of(view));
}

const kinds: TensorKind[] = ["u8", "i8", "u16", "i16", "u32", "i32", "f32", "f64", "u64", "i64"];

Deno.test("alignedArray returns zeroed 64-byte aligned arrays of every kind and size", () => {
  for (const kind of kinds) {
    for (const length of [1, 3, 8, 63, 64, 65, 1000]) {
      const array = alignedArray(kind, length);
      assert.equal(array.length, length);
      assert.equal(address(array) % BigInt(TENSOR_ALIGNMENT_BYTES), 0n, `${kind} x ${length}`);
      assert.ok(array.buffer.byteLength > 64, "never small enough for V8's moving heap");
      assert.ok([...array].every((value) => value === 0 || value === 0n));
    }
  }
  assert.equal(alignedArray("u8", 0).length, 0);
});

Deno.test("alignedArray refuses bad lengths and kinds", () => {
  for (const length of [-1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(
      () => alignedArray("u8", length),
      (error: unknown) =>
        error instanceof KernelError && error.code === "invalid_argument" &&
        error.message.includes(`length is ${length}`),
    );
  }
  assert.throws(
    () => alignedArray("q4" as TensorKind, 1),
    (error: unknown) => error instanceof KernelError && /kind is 'q4'/.test(error.message),
  );
});

Deno.test("TensorArena.take returns the same array for the same name, kind and length", () => {
  const arena = new TensorArena();
  const input = arena.take("input", "u64", 100);
  input[5] = 42n;
  assert.equal(arena.take("input", "u64", 100), input);
  assert.equal(input[5], 42n, "contents are kept");
  assert.notEqual(arena.take("output", "u64", 100), input);
  assert.equal(arena.size, 2);
  assert.equal(arena.bytes, 1600);
});

Deno.test("TensorArena.take reuses memory that fits and grows when it does not", () => {
  const arena = new TensorArena();
  const big = arena.take("scratch", "f32", 256);
  const small = arena.take("scratch", "u8", 100);
  assert.equal(small.buffer, big.buffer, "a smaller request reuses the buffer");
  assert.equal(address(small), address(big));
  assert.equal(arena.bytes, 1024);
  const grown = arena.take("scratch", "i32", 1000);
  assert.notEqual(grown.buffer, big.buffer);
  assert.equal(address(grown) % 64n, 0n);
  assert.equal(arena.bytes, 4000);
});

Deno.test("TensorArena.take replaces a buffer whose memory was transferred away", () => {
  const arena = new TensorArena();
  const frame = arena.take("frame", "u8", 640);
  structuredClone(frame.buffer, { transfer: [frame.buffer] });
  assert.ok(frame.buffer.detached);
  const replaced = arena.take("frame", "u8", 640);
  assert.equal(replaced.length, 640);
  assert.equal(address(replaced) % 64n, 0n);
});

Deno.test("TensorArena delete and clear drop buffers", () => {
  const arena = new TensorArena();
  arena.take("a", "u8", 10);
  arena.take("b", "u8", 10);
  assert.ok(arena.delete("a"));
  assert.ok(!arena.delete("a"));
  assert.ok(!arena.has("a"));
  assert.ok(arena.has("b"));
  arena.clear();
  assert.equal(arena.size, 0);
  assert.equal(arena.bytes, 0);
  assert.throws(() => arena.take("c", "u8", -1), KernelError);
});
