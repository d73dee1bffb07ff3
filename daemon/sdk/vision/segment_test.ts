import assert from "node:assert/strict";
import { decodePng, encodePng } from "../../media/mod.ts";
import { classAreas, classColor, classMap, paletteMask, resizeClassMap } from "./segment.ts";

Deno.test("classMap takes the argmax of scores and passes class ids through", () => {
  const scores = new Float32Array([0, 1, 0, 2, 0, 0, 0, 0, 5, 0, 1, 1]); // 2x2 pixels, 3 classes
  assert.deepEqual([...classMap(scores, { width: 2, height: 2, channels: 3 }).classes], [
    1,
    0,
    2,
    1,
  ]);
  const ids = new Int32Array([4, 0, 4, 2]);
  assert.deepEqual([...classMap(ids, { width: 2, height: 2, channels: 1 }).classes], [4, 0, 4, 2]);
});

Deno.test("classMap refuses wrong lengths and bad class ids", () => {
  assert.throws(
    () => classMap(new Float32Array(5), { width: 2, height: 2, channels: 1 }),
    /5 values, expected 2x2x1/,
  );
  assert.throws(
    () => classMap(new Int32Array([0, -1]), { width: 2, height: 1, channels: 1 }),
    /pixel 1 has class -1/,
  );
});

Deno.test("classAreas counts every class, largest first, fractions summing to 1", () => {
  const map = { width: 3, height: 2, classes: new Uint16Array([2, 2, 0, 2, 5, 0]) };
  const areas = classAreas(map);
  assert.deepEqual(areas.map((area) => [area.classId, area.pixels]), [[2, 3], [0, 2], [5, 1]]);
  assert.ok(Math.abs(areas.reduce((sum, area) => sum + area.fraction, 0) - 1) < 1e-12);
});

Deno.test("resizeClassMap uses nearest neighbour and paletteMask encodes to a decodable PNG", () => {
  const map = { width: 2, height: 1, classes: new Uint16Array([0, 1]) };
  const big = resizeClassMap(map, 4, 2);
  assert.deepEqual([...big.classes], [0, 0, 1, 1, 0, 0, 1, 1]);
  const png = encodePng(paletteMask(big));
  const image = decodePng(png, { pixelsMax: 1 << 20 });
  assert.equal(image.width, 4);
  assert.equal(image.height, 2);
  assert.deepEqual([...image.data.subarray(0, 3)], classColor(0));
  assert.deepEqual([...image.data.subarray(9, 12)], classColor(1));
  assert.notDeepEqual(classColor(40), classColor(41));
});
