import assert from "node:assert/strict";
import { EnergyAccount } from "./energy.ts";

Deno.test("EnergyAccount divides a window's energy by busy time", () => {
  const account = new EnergyAccount();
  for (let i = 0; i < 3; i += 1) account.inference("detect", 20); // 60 ms busy
  account.inference("segment", 40); // 40 ms busy
  const window = account.closeWindow(10);
  assert.deepEqual(window, { byTask: { detect: 6, segment: 4 }, idleJoules: 0 });
  assert.deepEqual(account.task("detect"), {
    joulesTotal: 6,
    inferencesMeasured: 3,
    joulesPerInferenceLast: 2,
    joulesPerInferenceCumulative: 2,
  });
  assert.equal(account.task("segment")?.joulesPerInferenceLast, 4);

  account.inference("detect", 10);
  account.closeWindow(5); // detect alone
  assert.deepEqual(account.task("detect"), {
    joulesTotal: 11,
    inferencesMeasured: 4,
    joulesPerInferenceLast: 5,
    joulesPerInferenceCumulative: 11 / 4,
  });
  assert.equal(account.task("segment")?.joulesTotal, 4); // not busy: nothing more
  assert.equal(account.attributedJoulesTotal, 15);
});

Deno.test("EnergyAccount charges idle windows to no task and skips unmeasured ones", () => {
  const account = new EnergyAccount();
  assert.deepEqual(account.closeWindow(3), { byTask: {}, idleJoules: 3 });
  assert.equal(account.idleJoulesTotal, 3);
  account.inference("detect", 10);
  assert.deepEqual(account.closeWindow(null), { byTask: {}, idleJoules: 0 });
  assert.deepEqual(account.task("detect"), {
    joulesTotal: 0,
    inferencesMeasured: 0,
    joulesPerInferenceLast: null,
    joulesPerInferenceCumulative: null,
  });
  // The unmeasured window's busy time does not leak into the next one.
  account.inference("detect", 10);
  account.closeWindow(2);
  assert.equal(account.task("detect")?.joulesPerInferenceCumulative, 2);
});

Deno.test("EnergyAccount ignores bad busy times and bad energy", () => {
  const account = new EnergyAccount();
  account.inference("a", Number.NaN);
  account.inference("a", -5);
  account.inference("b", 10);
  assert.deepEqual(account.closeWindow(4).byTask, { a: 0, b: 4 });
  assert.equal(account.task("a")?.joulesPerInferenceLast, 0);
  account.inference("b", 10);
  assert.deepEqual(account.closeWindow(-1), { byTask: {}, idleJoules: 0 });
  assert.deepEqual(account.closeWindow(Number.NaN), { byTask: {}, idleJoules: 0 });
  assert.equal(account.task("b")?.joulesTotal, 4);
  assert.equal(account.task("never"), undefined);
});
