import assert from "node:assert/strict";
import { withTempDir, writeTree } from "../test_support.ts";
import { HwmonReader } from "./hwmon.ts";
import { PowerIntegrator } from "./integrator.ts";

Deno.test("HwmonReader reads INA219 and INA226 power1_input in microwatts", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "hwmon0/name": "ina219",
      "hwmon0/in0_input": 12, // shunt voltage, mV: not a rail
      "hwmon0/in1_input": 5000,
      "hwmon0/curr1_input": 400,
      "hwmon0/power1_input": 2_000_000,
      "hwmon1/name": "ina226",
      "hwmon1/power1_input": 3_500_000,
      "hwmon2/name": "coretemp", // not a power monitor
      "hwmon2/temp1_input": 45000,
    });
    const scan = await new HwmonReader(root).scan();
    assert.deepEqual(scan.failed, []);
    assert.deepEqual(scan.measurements.map((m) => [m.source, m.watts, m.counted]), [
      ["hwmon:ina219:hwmon0.ch1", 2, true],
      ["hwmon:ina226:hwmon1.ch1", 3.5, true],
    ]);
  });
});

Deno.test("HwmonReader reads INA3221 channels as V x I with their labels", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "hwmon3/name": "ina3221",
      "hwmon3/in1_label": "VDD_IN",
      "hwmon3/in1_input": 5000,
      "hwmon3/curr1_input": 1200,
      "hwmon3/in2_label": "VDD_CPU_GPU_CV",
      "hwmon3/in2_input": 5000,
      "hwmon3/curr2_input": 400,
      "hwmon3/in3_label": "VDD_SOC",
      "hwmon3/in3_input": 4990,
      "hwmon3/curr3_input": 300,
      "hwmon3/in4_input": 20, // shunt voltages: no matching current channel
      "hwmon3/in5_input": 8,
      "hwmon3/in6_input": 6,
    });
    const reader = new HwmonReader(root);
    const integrator = new PowerIntegrator();
    let scan = await reader.scan();
    assert.deepEqual(scan.measurements.map((m) => [m.source, m.watts, m.counted]), [
      ["hwmon:ina3221:VDD_IN", 6, true],
      ["hwmon:ina3221:VDD_CPU_GPU_CV", 2, false], // part of VDD_IN
      ["hwmon:ina3221:VDD_SOC", 1.497, false],
    ]);
    integrator.update(0, scan.measurements, scan.failed);
    await writeTree(root, { "hwmon3/curr1_input": 2000 }); // 10 W
    scan = await reader.scan();
    const vddIn = integrator.update(500, scan.measurements, scan.failed).readings[0];
    assert.equal(vddIn.watts, 10);
    assert.equal(vddIn.windowJoules, 4); // (6 + 10) / 2 W over 0.5 s
  });
});

Deno.test("HwmonReader skips disabled INA3221 channels and counts all rails without an input rail", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "hwmon0/name": "ina3221",
      "hwmon0/in1_label": "CPU",
      "hwmon0/in1_input": 1000,
      "hwmon0/curr1_input": 1000,
      "hwmon0/in2_enable": 0,
      "hwmon0/in2_input": 0,
      "hwmon0/curr2_input": 0,
      "hwmon0/in3_input": 2000,
      "hwmon0/curr3_input": 500,
    });
    const scan = await new HwmonReader(root).scan();
    assert.deepEqual(scan.measurements.map((m) => [m.source, m.watts, m.counted]), [
      ["hwmon:ina3221:CPU", 1, true],
      ["hwmon:ina3221:hwmon0.ch3", 1, true],
    ]);
  });
});

Deno.test("HwmonReader reports a rail with an unreadable value as failed", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "hwmon0/name": "ina226",
      "hwmon0/power1_input": "not a number",
    });
    const scan = await new HwmonReader(root).scan();
    assert.deepEqual(scan.measurements, []);
    assert.deepEqual(scan.failed, ["hwmon:ina226:hwmon0.ch1"]);
  });
});
