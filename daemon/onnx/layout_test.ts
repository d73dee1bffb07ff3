import assert from "node:assert/strict";
import { nchwToNhwc, nhwcToNchw, ohwiToOihw, oihwToOhwi } from "./layout.ts";
import { OnnxError } from "./errors.ts";
import { randomFloats, randomInts, seededRandom } from "./test_data.ts";

Deno.test("nhwcToNchw puts element (n, y, x, c) at NCHW index ((n*C + c)*H + y)*W + x", () => {
  const dims = { batch: 2, height: 3, width: 5, channels: 7 };
  const { batch, height, width, channels } = dims;
  const nhwc = new Int32Array(batch * height * width * channels).map((_, index) => index);
  const nchw = nhwcToNchw(nhwc, dims);
  assert.ok(nchw instanceof Int32Array);
  for (let n = 0; n < batch; n++) {
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        for (let c = 0; c < channels; c++) {
          const from = ((n * height + y) * width + x) * channels + c;
          const to = ((n * channels + c) * height + y) * width + x;
          assert.equal(nchw[to], nhwc[from], `n=${n} y=${y} x=${x} c=${c}`);
        }
      }
    }
  }
});

Deno.test("nchwToNhwc inverts nhwcToNchw on every element type", () => {
  const random = seededRandom(11);
  const dims = { batch: 1, height: 4, width: 3, channels: 65 };
  const length = 4 * 3 * 65;
  for (
    const data of [
      randomInts(Uint8Array, length, { random }),
      randomInts(Int8Array, length, { random }),
      randomFloats(length, { random }),
    ]
  ) {
    assert.deepEqual(nchwToNhwc(nhwcToNchw(data, dims), dims), data);
    assert.deepEqual(nhwcToNchw(nchwToNhwc(data, dims), dims), data);
  }
});

Deno.test("ohwiToOihw puts weight (o, ky, kx, c) at OIHW index ((o*I + c)*KH + ky)*KW + kx", () => {
  const dims = { outC: 3, kernelH: 3, kernelW: 2, inC: 5 };
  const { outC, kernelH, kernelW, inC } = dims;
  const ohwi = new Int8Array(outC * kernelH * kernelW * inC).map((_, index) => index - 64);
  const oihw = ohwiToOihw(ohwi, dims);
  for (let o = 0; o < outC; o++) {
    for (let ky = 0; ky < kernelH; ky++) {
      for (let kx = 0; kx < kernelW; kx++) {
        for (let c = 0; c < inC; c++) {
          const from = ((o * kernelH + ky) * kernelW + kx) * inC + c;
          const to = ((o * inC + c) * kernelH + ky) * kernelW + kx;
          assert.equal(oihw[to], ohwi[from], `o=${o} ky=${ky} kx=${kx} c=${c}`);
        }
      }
    }
  }
  assert.deepEqual(oihwToOhwi(oihw, dims), ohwi);
});

Deno.test("ohwiToOihw reads only the filter fields of a larger shape object", () => {
  const shape = {
    batch: 1,
    inH: 9,
    inW: 9,
    inC: 2,
    outC: 1,
    kernelH: 1,
    kernelW: 2,
    strideH: 1,
    padTop: 0,
  };
  assert.deepEqual(ohwiToOihw(Int8Array.of(1, 2, 3, 4), shape), Int8Array.of(1, 3, 2, 4));
});

Deno.test("layout helpers refuse data whose length disagrees with the dims", () => {
  assert.throws(
    () => nhwcToNchw(new Uint8Array(10), { batch: 1, height: 2, width: 2, channels: 3 }),
    (error: unknown) =>
      error instanceof OnnxError && error.code === "shape_mismatch" &&
      error.message.includes("holds 10 values") && error.message.includes("need 12"),
  );
  assert.throws(
    () => ohwiToOihw(new Int8Array(0), { outC: 0, kernelH: 1, kernelW: 1, inC: 1 }),
    (error: unknown) => error instanceof OnnxError && error.code === "invalid_argument",
  );
});
