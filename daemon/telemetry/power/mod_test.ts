import assert from "node:assert/strict";
import { withTempDir, writeTree } from "../test_support.ts";
import { discoverPowerReaders } from "./mod.ts";

const rootsUnder = (dir: string) => ({
  powercap: `${dir}/powercap`,
  hwmon: `${dir}/hwmon`,
  powerSupply: `${dir}/power_supply`,
});

Deno.test("discoverPowerReaders reports source none and no number when no sensor exists", async () => {
  const monitor = discoverPowerReaders({
    powercap: "/nonexistent/onebit/powercap",
    hwmon: "/nonexistent/onebit/hwmon",
    powerSupply: "/nonexistent/onebit/power_supply",
  });
  for (const atMs of [0, 1000]) {
    const sample = await monitor.sample(atMs);
    assert.equal(sample.source, "none");
    assert.equal(sample.watts, null);
    assert.equal(sample.windowJoules, null);
    assert.deepEqual(sample.readings, []);
    assert.deepEqual(sample.sensorErrorsTotal, {});
  }
});

Deno.test("PowerMonitor prefers RAPL packages and sums them for the system total", async () => {
  await withTempDir(async (dir) => {
    const zones = (pkg0: number, pkg1: number) => ({
      "powercap/intel-rapl:0/name": "package-0",
      "powercap/intel-rapl:0/energy_uj": pkg0,
      "powercap/intel-rapl:1/name": "package-1",
      "powercap/intel-rapl:1/energy_uj": pkg1,
      "powercap/intel-rapl:0:0/name": "dram",
      "powercap/intel-rapl:0:0/energy_uj": pkg0,
    });
    await writeTree(dir, {
      ...zones(0, 0),
      "power_supply/BAT0/type": "Battery",
      "power_supply/BAT0/status": "Discharging",
      "power_supply/BAT0/power_now": 9_000_000,
    });
    const monitor = discoverPowerReaders(rootsUnder(dir));
    const first = await monitor.sample(0);
    assert.equal(first.source, "rapl");
    assert.equal(first.watts, null); // a counter needs two samples
    await writeTree(dir, zones(3_000_000, 1_000_000));
    const second = await monitor.sample(1000);
    assert.equal(second.watts, 4); // the dram subzone is not added
    assert.equal(second.windowJoules, 4);
    assert.equal(second.readings.length, 4);
    const batteryFirst = discoverPowerReaders(rootsUnder(dir), { prefer: ["battery", "rapl"] });
    assert.equal((await batteryFirst.sample(0)).source, "battery");
    assert.equal((await batteryFirst.sample(0)).watts, 9);
  });
});

Deno.test("PowerMonitor drops a sensor that disappears, counts it and finds it again", async () => {
  await withTempDir(async (dir) => {
    const rail = (milliamps: number) => ({
      "hwmon/hwmon0/name": "ina3221",
      "hwmon/hwmon0/in1_label": "VDD_IN",
      "hwmon/hwmon0/in1_input": 5000,
      "hwmon/hwmon0/curr1_input": milliamps,
    });
    await writeTree(dir, rail(1000));
    const monitor = discoverPowerReaders(rootsUnder(dir));
    await monitor.sample(0);
    const before = await monitor.sample(1000);
    assert.equal(before.source, "hwmon");
    assert.equal(before.windowJoules, 5);

    // A file vanishes between samples (the driver unbound mid-read).
    await Deno.remove(`${dir}/hwmon/hwmon0/curr1_input`);
    const gone = await monitor.sample(2000);
    assert.equal(gone.source, "none");
    assert.equal(gone.watts, null);
    assert.deepEqual(gone.readings, []);
    assert.deepEqual(gone.sensorErrorsTotal, { "hwmon:ina3221:VDD_IN": 1 });
    const still = await monitor.sample(2500);
    assert.deepEqual(still.readings, []);
    assert.deepEqual(still.sensorErrorsTotal, { "hwmon:ina3221:VDD_IN": 1 }); // lost once

    // The whole chip folder vanishes too, then everything comes back.
    await Deno.remove(`${dir}/hwmon/hwmon0`, { recursive: true });
    await monitor.sample(3000);
    await writeTree(dir, rail(2000));
    const back = await monitor.sample(4000);
    assert.equal(back.source, "hwmon");
    assert.equal(back.watts, 10);
    assert.equal(back.windowJoules, null); // the gap is not measured
    assert.equal(back.readings[0].energyJoulesTotal, 5); // the total survived
    const after = await monitor.sample(5000);
    assert.equal(after.windowJoules, 10);
    assert.equal(after.readings[0].energyJoulesTotal, 15);
    assert.deepEqual(after.sensorErrorsTotal, { "hwmon:ina3221:VDD_IN": 1 });
  });
});
