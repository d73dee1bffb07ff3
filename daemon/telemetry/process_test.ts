import assert from "node:assert/strict";
import { ProcessSampler } from "./process.ts";

Deno.test("ProcessSampler computes the CPU ratio between samples", () => {
  let cpuSeconds = 10;
  const sampler = new ProcessSampler({
    cpuSeconds: () => cpuSeconds,
    residentBytes: () => 64 << 20,
    now: () => 0,
  });
  cpuSeconds = 11.5;
  assert.deepEqual(sampler.sample(1000), {
    cpuSecondsTotal: 11.5,
    cpuRatio: 1.5, // one and a half cores over the second since the baseline
    residentBytes: 64 << 20,
  });
  assert.equal(sampler.sample(1000).cpuRatio, null); // no time passed
  cpuSeconds = 11.75;
  assert.equal(sampler.sample(1010).cpuRatio, null); // too short: the baseline stays at 1000
  assert.equal(sampler.sample(2000).cpuRatio, 0.25);
});

Deno.test("ProcessSampler reads the real process CPU time and RSS", () => {
  const sampler = new ProcessSampler();
  let x = 0;
  for (let i = 0; i < 1e6; i += 1) x += i;
  const sample = sampler.sample(Date.now() + 1000);
  assert.ok(x > 0);
  assert.ok(sample.cpuSecondsTotal > 0);
  assert.ok(sample.residentBytes > 1 << 20);
  assert.ok(sample.cpuRatio !== null && sample.cpuRatio >= 0);
});
