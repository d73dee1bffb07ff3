import assert from "node:assert/strict";
import { median, timeInterleaved } from "./timing.ts";

Deno.test("median takes the middle value, or the mean of the two middle values", () => {
  assert.equal(median([5]), 5);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.throws(() => median([]), RangeError);
});

Deno.test("timeInterleaved takes one sample of every case per round, rotating the order", async () => {
  const order: string[] = [];
  const cases = ["a", "b", "c"].map((name) => ({ name, run: () => void order.push(name) }));
  // No warm-up and one call per sample: the recorded order is the sample order.
  const timings = await timeInterleaved(cases, { rounds: 3, warmupCalls: 0, callsPerSampleMax: 1 });
  assert.deepEqual(order, ["a", "b", "c", "b", "c", "a", "c", "a", "b"]);
  for (const timing of timings) {
    assert.equal(timing.samplesMs.length, 3);
    assert.equal(timing.callsPerSample, 1);
    assert.ok(timing.minMs <= timing.medianMs);
  }
});

Deno.test("timeInterleaved awaits async cases and repeats fast calls to fill a sample", async () => {
  let calls = 0;
  const [timing] = await timeInterleaved([{
    name: "async",
    run: async () => {
      calls++;
      await Promise.resolve();
    },
  }], { rounds: 2, warmupCalls: 2, sampleMs: 1, callsPerSampleMax: 50 });
  assert.ok(timing.callsPerSample > 1, `callsPerSample ${timing.callsPerSample}`);
  assert.equal(calls, 2 + 2 * timing.callsPerSample);
});

Deno.test("timeInterleaved pauses after every sample of a case that asks to settle", async () => {
  const gaps: number[] = [];
  let last = 0;
  const cases = [
    { name: "spinner", run: () => void (last = performance.now()), settleAfterMs: 20 },
    { name: "next", run: () => void gaps.push(performance.now() - last) },
  ];
  await timeInterleaved(cases, { rounds: 2, warmupCalls: 0, callsPerSampleMax: 1 });
  // Round 0 runs spinner then next; round 1 runs next first, after round 0's next.
  assert.ok(gaps[0] >= 19, `gap after spinner ${gaps[0]} ms`);
});

Deno.test("timeInterleaved makes the untimed prime calls before every sample", async () => {
  let calls = 0;
  await timeInterleaved([{ name: "count", run: () => void calls++ }], {
    rounds: 3,
    warmupCalls: 1,
    callsPerSampleMax: 1,
    primeCalls: 2,
  });
  assert.equal(calls, 1 + 3 * (2 + 1));
});

Deno.test("timeInterleaved keeps priming until primeMs have passed", async () => {
  const primedMs: number[] = [];
  let primeStart = -1;
  let calls = 0;
  const run = () => {
    calls++;
    if (primeStart < 0) primeStart = performance.now();
  };
  // callsPerSampleMax 1: after the warm-up call, each round primes, then takes one sample.
  await timeInterleaved([{
    name: "count",
    run: () => {
      run();
      primedMs.push(performance.now() - primeStart);
    },
  }], { rounds: 1, warmupCalls: 1, callsPerSampleMax: 1, primeCalls: 1, primeMs: 5 });
  // The priming calls took at least 5 ms in all, and there were many of them.
  assert.ok(calls > 3, `${calls} calls`);
  assert.ok(primedMs.at(-1)! >= 5, `last call at ${primedMs.at(-1)} ms`);
});

Deno.test("timeInterleaved refuses a round count below 1", async () => {
  await assert.rejects(() => timeInterleaved([], { rounds: 0 }), RangeError);
});
