import assert from "node:assert/strict";
import { softmax, topK } from "./classify.ts";
import { VisionError } from "./errors.ts";

Deno.test("softmax sums to 1, keeps the order and survives large scores", () => {
  const p = softmax([1000, 1001, 999]);
  assert.ok(Math.abs(p.reduce((a, b) => a + b, 0) - 1) < 1e-6);
  assert.ok(p[1] > p[0] && p[0] > p[2]);
  assert.ok(Math.abs(p[1] / p[0] - Math.E) < 1e-3);
});

Deno.test("softmax refuses empty and non-finite scores", () => {
  assert.throws(() => softmax([]), VisionError);
  assert.throws(() => softmax([0, NaN]), /score 1 is NaN/);
});

Deno.test("topK returns the k best, ties to the lower index, k past the end gives all", () => {
  assert.deepEqual(topK([0.2, 0.5, 0.5, 0.1], 3), [
    { index: 1, score: 0.5 },
    { index: 2, score: 0.5 },
    { index: 0, score: 0.2 },
  ]);
  assert.equal(topK([1, 2], 5).length, 2);
  assert.throws(() => topK([1], 0), /k is 0/);
  assert.throws(() => topK([1], 1.5), VisionError);
});
