import assert from "node:assert/strict";
import { withTempDir, writeTree } from "../test_support.ts";
import { BatteryReader } from "./battery.ts";
import { PowerIntegrator } from "./integrator.ts";

Deno.test("BatteryReader reads power_now of a discharging battery as positive and counted", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "BAT0/type": "Battery",
      "BAT0/status": "Discharging",
      "BAT0/power_now": 12_500_000,
      "AC/type": "Mains",
      "AC/online": 0,
    });
    const reader = new BatteryReader(root);
    const integrator = new PowerIntegrator();
    let scan = await reader.scan();
    assert.deepEqual(scan.measurements, [
      { source: "battery:BAT0", kind: "battery", counted: true, watts: 12.5 },
    ]);
    integrator.update(0, scan.measurements, scan.failed);
    await writeTree(root, { "BAT0/power_now": 7_500_000 });
    scan = await reader.scan();
    const reading = integrator.update(4000, scan.measurements, scan.failed).readings[0];
    assert.equal(reading.windowJoules, 40); // (12.5 + 7.5) / 2 W over 4 s
  });
});

Deno.test("BatteryReader derives power from voltage x current and signs it by status", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "battery/type": "Battery",
      "battery/status": "Charging",
      "battery/voltage_now": 8_000_000, // 8 V
      "battery/current_now": -1_500_000, // drivers disagree on the sign; status decides
    });
    const reader = new BatteryReader(root);
    let scan = await reader.scan();
    assert.deepEqual(scan.measurements, [
      { source: "battery:battery", kind: "battery", counted: false, watts: -12 },
    ]);
    await writeTree(root, { "battery/status": "Discharging" });
    scan = await reader.scan();
    assert.equal(scan.measurements[0].watts, 12);
    assert.equal(scan.measurements[0].counted, true);
    // Charging energy is not counted as delivered.
    const integrator = new PowerIntegrator();
    integrator.update(0, [{ ...scan.measurements[0], watts: -12 }], []);
    assert.equal(
      integrator.update(1000, [{ ...scan.measurements[0], watts: -12 }], []).readings[0]
        .windowJoules,
      0,
    );
  });
});

Deno.test("BatteryReader skips absent batteries and fails one without readings", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "BAT0/type": "Battery",
      "BAT0/present": 0,
      "BAT0/power_now": 1,
      "BAT1/type": "Battery",
      "BAT1/status": "Discharging",
      "BAT1/voltage_now": 8_000_000,
    });
    const scan = await new BatteryReader(root).scan();
    assert.deepEqual(scan.measurements, []);
    assert.deepEqual(scan.failed, ["battery:BAT1"]);
  });
});
