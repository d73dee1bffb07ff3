import assert from "node:assert/strict";
import { counterDelta, PowerIntegrator } from "./integrator.ts";
import type { RawPowerMeasurement } from "./types.ts";

Deno.test("counterDelta handles increase, wrap-around and reset", () => {
  assert.equal(counterDelta(10, 25, 100), 15);
  assert.equal(counterDelta(90, 5, 100), 15);
  assert.equal(counterDelta(90, 5, 0), null); // no range: a reset, not a wrap
  assert.equal(counterDelta(150, 5, 100), null); // previous beyond the range: inconsistent
});

const rail = (watts: number): RawPowerMeasurement => ({
  source: "hwmon:ina226:hwmon0.ch1",
  kind: "hwmon",
  counted: true,
  watts,
});

Deno.test("PowerIntegrator integrates power with the trapezoid rule", () => {
  const integrator = new PowerIntegrator();
  assert.equal(integrator.update(0, [rail(2)], []).readings[0].windowJoules, null);
  const second = integrator.update(2000, [rail(4)], []).readings[0];
  assert.equal(second.windowJoules, 6); // (2 + 4) / 2 W over 2 s
  assert.equal(second.energyJoulesTotal, 6);
  assert.equal(integrator.update(3000, [rail(4)], []).readings[0].energyJoulesTotal, 10);
});

Deno.test("PowerIntegrator keeps a lost sensor's total and does not measure the gap", () => {
  const integrator = new PowerIntegrator();
  integrator.update(0, [rail(2)], []);
  integrator.update(1000, [rail(2)], []);
  assert.deepEqual(integrator.update(2000, [], []).lost, ["hwmon:ina226:hwmon0.ch1"]);
  assert.deepEqual(integrator.update(3000, [], []).lost, []); // lost once, not every sample
  const back = integrator.update(4000, [rail(8)], []).readings[0];
  assert.equal(back.windowJoules, null);
  assert.equal(back.energyJoulesTotal, 2);
  assert.equal(integrator.update(5000, [rail(8)], []).readings[0].energyJoulesTotal, 10);
});

Deno.test("PowerIntegrator gives no power for a zero or negative time step", () => {
  const integrator = new PowerIntegrator();
  const counter = (energyUj: number): RawPowerMeasurement => ({
    source: "rapl:package-0",
    kind: "rapl",
    counted: true,
    energyUj,
    energyRangeUj: 1000,
  });
  integrator.update(1000, [counter(0)], []);
  assert.equal(integrator.update(1000, [counter(10)], []).readings[0].watts, null);
  assert.equal(integrator.update(500, [counter(20)], []).readings[0].watts, null);
});
