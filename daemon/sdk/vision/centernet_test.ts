import assert from "node:assert/strict";
import { decodeCenterNet } from "./centernet.ts";

/** A 8x10 grid, 2 classes, with peaks at known cells. */
function synthetic() {
  const h = 8, w = 10, classes = 2;
  const heatmap = new Float32Array(h * w * classes).fill(0.05);
  const size = new Float32Array(h * w * 2);
  const offset = new Float32Array(h * w * 2);
  const put = (x: number, y: number, c: number, score: number, bw: number, bh: number) => {
    const cell = y * w + x;
    heatmap[cell * classes + c] = score;
    // A blob around the peak, lower than it: NMS must keep only the centre.
    for (const [dx, dy] of [[1, 0], [-1, 0], [0, 1], [0, -1]]) {
      const xx = x + dx, yy = y + dy;
      if (xx >= 0 && xx < w && yy >= 0 && yy < h) {
        heatmap[(yy * w + xx) * classes + c] = score - 0.1;
      }
    }
    size[cell * 2] = bw;
    size[cell * 2 + 1] = bh;
    offset[cell * 2] = 0.5;
    offset[cell * 2 + 1] = 0.25;
  };
  put(2, 3, 0, 0.9, 2, 4);
  put(7, 5, 1, 0.6, 1, 1);
  put(7, 1, 0, 0.2, 1, 1); // below the default threshold
  return { heatmap, size, offset, gridHeight: h, gridWidth: w, classes };
}

Deno.test("decodeCenterNet finds the known peaks, best first, with their boxes", () => {
  const boxes = decodeCenterNet(synthetic(), { stride: 4 });
  assert.equal(boxes.length, 2);
  const [a, b] = boxes;
  assert.equal(a.classId, 0);
  assert.ok(Math.abs(a.score - 0.9) < 1e-6);
  // centre (2.5, 3.25) cells = (10, 13) px; size 2x4 cells = 8x16 px.
  assert.deepEqual([a.x1, a.y1, a.x2, a.y2], [6, 5, 14, 21]);
  assert.equal(b.classId, 1);
  assert.deepEqual([b.x1, b.y1, b.x2, b.y2], [28, 19, 32, 23]);
});

Deno.test("decodeCenterNet honours k, threshold, u8 and logit heatmaps, map and clamp", () => {
  const outputs = synthetic();
  assert.equal(decodeCenterNet(outputs, { k: 1 }).length, 1);
  assert.equal(decodeCenterNet(outputs, { threshold: 0.15 }).length, 3);
  const u8 = Uint8Array.from(outputs.heatmap, (v) => Math.round(v * 255));
  assert.equal(decodeCenterNet({ ...outputs, heatmap: u8 }).length, 2);
  const logits = Float32Array.from(outputs.heatmap, (p) => Math.log(p / (1 - p)));
  const fromLogits = decodeCenterNet({ ...outputs, heatmap: logits }, { logits: true });
  assert.ok(Math.abs(fromLogits[0].score - 0.9) < 1e-5);
  const mapped = decodeCenterNet(outputs, {
    map: (x, y) => [x * 2, y * 2],
    clampWidth: 20,
    clampHeight: 100,
  });
  assert.deepEqual([mapped[0].x1, mapped[0].y1, mapped[0].x2, mapped[0].y2], [12, 10, 20, 42]);
});

Deno.test("decodeCenterNet refuses mismatched outputs and bad options", () => {
  const outputs = synthetic();
  assert.throws(
    () => decodeCenterNet({ ...outputs, size: new Float32Array(3) }),
    /size has 3 values, expected 160/,
  );
  assert.throws(() => decodeCenterNet(outputs, { k: 0 }), /k is 0/);
  assert.throws(() => decodeCenterNet(outputs, { threshold: 2 }), /threshold is 2/);
  assert.throws(() => decodeCenterNet({ ...outputs, classes: 0 }), /classes is 0/);
});
