import assert from "node:assert/strict";
import { gatherDescriptors, selectKeypoints } from "./keypoints.ts";

Deno.test("selectKeypoints keeps local maxima above both thresholds, best first", () => {
  const width = 6, height = 5;
  const rep = new Float32Array(width * height).fill(0.1);
  const rel = new Float32Array(width * height).fill(0.9);
  rep[1 * width + 1] = 0.8;
  rep[1 * width + 2] = 0.75; // beside a stronger peak: suppressed
  rep[3 * width + 4] = 0.95;
  rep[4 * width + 0] = 0.99;
  rel[4 * width + 0] = 0.1; // unreliable: dropped
  const points = selectKeypoints(rep, rel, { width, height });
  assert.deepEqual(points.map((p) => [p.x, p.y]), [[4, 3], [1, 1]]);
  assert.ok(Math.abs(points[0].score - 0.95 * 0.9) < 1e-6);
  assert.equal(selectKeypoints(rep, rel, { width, height, max: 1 }).length, 1);
  assert.equal(selectKeypoints(rep, rel, { width, height, border: 2 }).length, 0);
});

Deno.test("selectKeypoints keeps one pixel of a plateau and refuses bad options", () => {
  const rep = new Float32Array(9).fill(0.9);
  const rel = new Float32Array(9).fill(0.9);
  assert.deepEqual(selectKeypoints(rep, rel, { width: 3, height: 3 }).map((p) => [p.x, p.y]), [
    [0, 0],
  ]);
  assert.throws(() => selectKeypoints(rep, rel, { width: 4, height: 3 }), /expected 4x3/);
  assert.throws(() => selectKeypoints(rep, rel, { width: 3, height: 3, radius: -1 }), /radius/);
});

Deno.test("gatherDescriptors copies each keypoint's words and refuses points outside", () => {
  const map = BigUint64Array.from({ length: 2 * 3 * 2 }, (_, i) => BigInt(i)); // 3x2 pixels, 128 bits
  const out = gatherDescriptors(map, [{ x: 2, y: 1, score: 1 }, { x: 0, y: 0, score: 1 }], {
    width: 3,
    bits: 128,
  });
  assert.deepEqual([...out], [10n, 11n, 0n, 1n]);
  assert.throws(
    () => gatherDescriptors(map, [{ x: 3, y: 0, score: 1 }], { width: 3, bits: 128 }),
    /outside the map/,
  );
  assert.throws(() => gatherDescriptors(map, [], { width: 5, bits: 128 }), /whole rows/);
});
