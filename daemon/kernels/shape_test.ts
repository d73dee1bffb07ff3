import assert from "node:assert/strict";
import { KernelError } from "./errors.ts";
import {
  outH,
  outW,
  type Window2d,
  WINDOW2D_FIELDS,
  WINDOW2D_WORDS,
  windowParams,
  wordsFor,
} from "./shape.ts";

const shape: Window2d = {
  batch: 2,
  inH: 56,
  inW: 55,
  inC: 64,
  outC: 128,
  kernelH: 3,
  kernelW: 3,
  strideH: 2,
  strideW: 2,
  padTop: 1,
  padBottom: 1,
  padLeft: 1,
  padRight: 0,
};

function camelCase(snake: string): string {
  return snake.replace(/_(\w)/g, (_, letter: string) => letter.toUpperCase());
}

Deno.test("WINDOW2D_FIELDS follow the field order of Window2d in shape.zig", async () => {
  const source = await Deno.readTextFile(new URL("../../kernels/src/shape.zig", import.meta.url));
  const body = source.match(/pub const Window2d = extern struct \{([\s\S]*?)\n\n/);
  assert.ok(body, "shape.zig declares `pub const Window2d = extern struct { ... }`");
  const zigFields = [...body[1].matchAll(/^\s*(\w+): u32,/gm)].map((match) => camelCase(match[1]));
  assert.deepEqual([...WINDOW2D_FIELDS], zigFields);
  assert.equal(WINDOW2D_WORDS, 13);
});

Deno.test("windowParams writes the 13 fields in ABI order", () => {
  const params = windowParams(shape);
  assert.deepEqual([...params], [2, 56, 55, 64, 128, 3, 3, 2, 2, 1, 1, 1, 0]);
});

Deno.test("windowParams reuses the buffer it is given", () => {
  const into = new Uint32Array(16).fill(7);
  assert.equal(windowParams(shape, into), into);
  assert.deepEqual([...into.subarray(0, 13)], [...windowParams(shape)]);
  assert.equal(into[13], 7, "words past the shape are left alone");
});

Deno.test("windowParams refuses values that are not u32 and a short buffer", () => {
  for (const value of [-1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(() => windowParams({ ...shape, padLeft: value }), (error: unknown) => {
      assert.ok(error instanceof KernelError);
      assert.equal(error.code, "invalid_argument");
      assert.ok(error.message.startsWith(`shape.padLeft is ${value}`), error.message);
      return true;
    });
  }
  assert.throws(() => windowParams(shape, new Uint32Array(12)), (error: unknown) => {
    assert.ok(error instanceof KernelError);
    assert.equal(error.code, "buffer_too_small");
    assert.match(error.message, /holds 12 u32, needs 13/);
    return true;
  });
});

Deno.test("outH and outW follow the padding formula of shape.zig", () => {
  // The same case as the Zig test "outH and outW follow the padding formula".
  assert.equal(outH(shape), 28);
  assert.equal(outW(shape), 27);
  assert.equal(outH({ inH: 1, padTop: 0, padBottom: 0, kernelH: 1, strideH: 1 }), 1);
  assert.equal(outW({ inW: 7, padLeft: 0, padRight: 0, kernelW: 7, strideW: 8 }), 1);
});

Deno.test("outH and outW refuse a kernel larger than the padded input and a zero stride", () => {
  assert.throws(
    () => outH({ inH: 1, padTop: 0, padBottom: 1, kernelH: 3, strideH: 1 }),
    (error: unknown) =>
      error instanceof KernelError && error.code === "shape_mismatch" &&
      error.message === "kernelH 3 exceeds padded height 2",
  );
  assert.throws(
    () => outW({ ...shape, strideW: 0 }),
    (error: unknown) => error instanceof KernelError && error.code === "invalid_argument",
  );
});

Deno.test("wordsFor counts 64-channel words with a padded tail", () => {
  assert.deepEqual([0, 1, 63, 64, 65, 127, 128, 200, 512].map(wordsFor), [
    0,
    1,
    1,
    1,
    2,
    2,
    2,
    4,
    8,
  ]);
});
