import assert from "node:assert/strict";
import {
  applyHomography,
  findHomography,
  fitHomography,
  type Matrix3,
  type PointPair,
} from "./homography.ts";

const TRUE_H: Matrix3 = [1.1, 0.05, 12, -0.04, 0.95, -7, 0.0004, -0.0002, 1];

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function near(a: Matrix3, b: Matrix3, tolerance: number) {
  for (let i = 0; i < 9; i++) {
    assert.ok(Math.abs(a[i] - b[i]) < tolerance, `element ${i}: ${a[i]} vs ${b[i]}`);
  }
}

Deno.test("fitHomography recovers an exact homography and refuses too few pairs", () => {
  const random = rng(5);
  const pairs: PointPair[] = Array.from({ length: 8 }, () => {
    const x = random() * 320, y = random() * 240;
    const [u, v] = applyHomography(TRUE_H, x, y);
    return [x, y, u, v];
  });
  near(fitHomography(pairs)!, TRUE_H, 1e-6);
  assert.equal(fitHomography(pairs.slice(0, 3)), null);
});

Deno.test("findHomography recovers a known homography from noisy matches with 40% outliers", () => {
  const random = rng(11);
  const pairs: PointPair[] = [];
  const outlier: boolean[] = [];
  for (let i = 0; i < 200; i++) {
    const x = random() * 320, y = random() * 240;
    const bad = i % 5 < 2;
    const [u, v] = bad ? [random() * 320, random() * 240] : applyHomography(TRUE_H, x, y);
    pairs.push([x, y, u + (random() - 0.5), v + (random() - 0.5)]);
    outlier.push(bad);
  }
  const result = findHomography(pairs, { threshold: 2, seed: 3 })!;
  assert.ok(result.inlierCount >= 115 && result.inlierCount <= 125, `${result.inlierCount}`);
  let wrong = 0;
  for (let i = 0; i < pairs.length; i++) if (result.inliers[i] === 1 && outlier[i]) wrong++;
  assert.ok(wrong <= 3, `${wrong} outliers taken as inliers`);
  for (const [x, y] of [[0, 0], [320, 240], [160, 120]]) {
    const [a, b] = applyHomography(result.matrix, x, y);
    const [c, d] = applyHomography(TRUE_H, x, y);
    assert.ok(Math.hypot(a - c, b - d) < 1.5, `(${x}, ${y}) maps ${a},${b} vs ${c},${d}`);
  }
  // Deterministic for a seed.
  assert.deepEqual(findHomography(pairs, { threshold: 2, seed: 3 })!.matrix, result.matrix);
});

Deno.test("findHomography gives identity for a self match and null for degenerate input", () => {
  const pairs: PointPair[] = [[1, 2, 1, 2], [50, 3, 50, 3], [7, 40, 7, 40], [60, 66, 60, 66], [
    30,
    20,
    30,
    20,
  ]];
  const result = findHomography(pairs)!;
  near(result.matrix, [1, 0, 0, 0, 1, 0, 0, 0, 1], 1e-6);
  assert.equal(result.inlierCount, 5);
  const collinear: PointPair[] = [0, 1, 2, 3, 4].map((i) => [i, i, i, i]);
  assert.equal(findHomography(collinear), null);
  assert.equal(findHomography(pairs.slice(0, 3)), null);
  assert.throws(() => findHomography(pairs, { threshold: 0 }), /threshold is 0/);
});
