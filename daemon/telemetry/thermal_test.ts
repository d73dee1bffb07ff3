import assert from "node:assert/strict";
import { readTemperatures } from "./thermal.ts";
import { withTempDir, writeTree } from "./test_support.ts";

Deno.test("readTemperatures reads every zone in millidegrees, in zone order", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "thermal_zone0/type": "acpitz",
      "thermal_zone0/temp": 27800,
      "thermal_zone10/type": "CPU-therm",
      "thermal_zone10/temp": -5500,
      "thermal_zone2/type": "x86_pkg_temp",
      "thermal_zone2/temp": 61000,
      "thermal_zone3/type": "iwlwifi_1", // sleeping device: EIO in real sysfs
      "thermal_zone3/temp": "",
      "cooling_device0/type": "Processor",
    });
    assert.deepEqual(await readTemperatures(root), [
      { zone: "thermal_zone0", type: "acpitz", celsius: 27.8 },
      { zone: "thermal_zone2", type: "x86_pkg_temp", celsius: 61 },
      { zone: "thermal_zone10", type: "CPU-therm", celsius: -5.5 },
    ]);
  });
});

Deno.test("readTemperatures gives an empty list for a root that does not exist", async () => {
  assert.deepEqual(await readTemperatures("/nonexistent/onebit/thermal"), []);
});
