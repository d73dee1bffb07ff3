import assert from "node:assert/strict";
import { ERROR_CODES_MAX, TaskStats } from "./task_stats.ts";

Deno.test("TaskStats percentiles are exact nearest-rank over the ring", () => {
  const stats = new TaskStats({ latencyRing: 100 });
  assert.deepEqual(stats.latencyPercentiles(), {
    count: 0,
    p50: null,
    p95: null,
    p99: null,
    max: null,
  });
  for (let i = 200; i >= 1; i -= 1) stats.inference(i, 0); // the ring keeps the last 100: 100..1
  assert.deepEqual(stats.latencyPercentiles(), { count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  stats.inference(Number.NaN, 0);
  stats.inference(-1, 0);
  assert.equal(stats.inferences, 202); // counted, latency not kept
  assert.equal(stats.latencyPercentiles().count, 100);
});

Deno.test("TaskStats FPS counts completions in the sliding window", () => {
  const stats = new TaskStats({ fpsWindowMs: 1000, fpsRing: 64 });
  assert.equal(stats.fps(0), 0);
  for (let at = 0; at < 1000; at += 50) stats.inference(1, at); // 20 frames in 1 s
  assert.equal(stats.fps(999), 20);
  assert.equal(stats.fps(1499), 10); // the first half left the window
  assert.equal(stats.fps(5000), 0);
});

Deno.test("TaskStats FPS stays right when the ring is smaller than the rate", () => {
  const stats = new TaskStats({ fpsWindowMs: 1000, fpsRing: 10 });
  for (let at = 0; at <= 100; at += 5) stats.inference(1, at); // 200 FPS, ring holds 10
  assert.equal(stats.fps(100), 9 / 0.045); // the 10 held (55..100 ms) are 9 intervals of 5 ms
});

Deno.test("TaskStats bounds distinct error codes", () => {
  const stats = new TaskStats();
  for (let i = 0; i < ERROR_CODES_MAX + 5; i += 1) stats.error(`code_${i}`);
  stats.error("code_0");
  assert.equal(stats.errors.size, ERROR_CODES_MAX + 1);
  assert.equal(stats.errors.get("other"), 5);
  assert.equal(stats.errors.get("code_0"), 2);
  assert.equal(stats.errorsTotal, ERROR_CODES_MAX + 6);
});
