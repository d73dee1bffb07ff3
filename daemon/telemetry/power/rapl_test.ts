import assert from "node:assert/strict";
import { withTempDir, writeTree } from "../test_support.ts";
import { PowerIntegrator } from "./integrator.ts";
import { RaplReader } from "./rapl.ts";

const RANGE_UJ = 262143328850;

function flatZones(energy: { pkg: number; core: number; dram: number; psys: number }) {
  return {
    "intel-rapl/enabled": 1, // the control type folder, not a zone
    "intel-rapl:0/name": "package-0",
    "intel-rapl:0/energy_uj": energy.pkg,
    "intel-rapl:0/max_energy_range_uj": RANGE_UJ,
    "intel-rapl:0:0/name": "core",
    "intel-rapl:0:0/energy_uj": energy.core,
    "intel-rapl:0:0/max_energy_range_uj": RANGE_UJ,
    "intel-rapl:0:1/name": "dram",
    "intel-rapl:0:1/energy_uj": energy.dram,
    "intel-rapl:0:1/max_energy_range_uj": 65712999613,
    "intel-rapl:1/name": "psys",
    "intel-rapl:1/energy_uj": energy.psys,
    "intel-rapl:1/max_energy_range_uj": RANGE_UJ,
    "intel-rapl-mmio:0/name": "package-0",
    "intel-rapl-mmio:0/energy_uj": 5,
  };
}

Deno.test("RaplReader labels zones and subzones and counts only packages", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, flatZones({ pkg: 1000, core: 500, dram: 100, psys: 3000 }));
    const scan = await new RaplReader(root).scan();
    assert.deepEqual(scan.failed, []);
    const bySource = Object.fromEntries(scan.measurements.map((m) => [m.source, m]));
    assert.deepEqual(Object.keys(bySource).sort(), [
      "rapl:package-0",
      "rapl:package-0/core",
      "rapl:package-0/dram",
      "rapl:psys",
    ]);
    assert.equal(bySource["rapl:package-0"].counted, true);
    assert.equal(bySource["rapl:package-0/core"].counted, false);
    assert.equal(bySource["rapl:psys"].counted, false);
    assert.equal(bySource["rapl:package-0"].energyUj, 1000);
    assert.equal(bySource["rapl:package-0/dram"].energyRangeUj, 65712999613);
  });
});

Deno.test("RaplReader power is the energy difference over time", async () => {
  await withTempDir(async (root) => {
    const reader = new RaplReader(root);
    const integrator = new PowerIntegrator();
    await writeTree(root, flatZones({ pkg: 10_000_000, core: 0, dram: 0, psys: 0 }));
    let scan = await reader.scan();
    const first = integrator.update(1000, scan.measurements, scan.failed).readings;
    assert.equal(first.find((r) => r.source === "rapl:package-0")?.watts, null);
    await writeTree(
      root,
      flatZones({ pkg: 25_000_000, core: 4_000_000, dram: 1_000_000, psys: 0 }),
    );
    scan = await reader.scan();
    const second = integrator.update(3000, scan.measurements, scan.failed).readings;
    const pkg = second.find((r) => r.source === "rapl:package-0");
    assert.equal(pkg?.watts, 7.5); // 15 J over 2 s
    assert.equal(pkg?.windowJoules, 15);
    assert.equal(pkg?.energyJoulesTotal, 15);
    assert.equal(second.find((r) => r.source === "rapl:package-0/core")?.watts, 2);
  });
});

Deno.test("RaplReader handles the counter wrapping around between two samples", async () => {
  await withTempDir(async (root) => {
    const reader = new RaplReader(root);
    const integrator = new PowerIntegrator();
    await writeTree(root, flatZones({ pkg: RANGE_UJ - 2_000_000, core: 0, dram: 0, psys: 0 }));
    let scan = await reader.scan();
    integrator.update(0, scan.measurements, scan.failed);
    await writeTree(root, flatZones({ pkg: 3_000_000, core: 0, dram: 0, psys: 0 }));
    scan = await reader.scan();
    const pkg = integrator.update(1000, scan.measurements, scan.failed).readings
      .find((r) => r.source === "rapl:package-0");
    assert.equal(pkg?.watts, 5); // 2 J before the wrap + 3 J after, over 1 s
    assert.equal(pkg?.energyJoulesTotal, 5);
  });
});

Deno.test("RaplReader reads the nested layout of /sys/devices/virtual/powercap", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "amd-rapl:0/name": "package-0",
      "amd-rapl:0/energy_uj": 7,
      "amd-rapl:0/max_energy_range_uj": 100,
      "amd-rapl:0/amd-rapl:0:0/name": "core",
      "amd-rapl:0/amd-rapl:0:0/energy_uj": 3,
    });
    const scan = await new RaplReader(root).scan();
    assert.deepEqual(scan.measurements.map((m) => [m.source, m.energyUj, m.counted]), [
      ["rapl:package-0", 7, true],
      ["rapl:package-0/core", 3, false],
    ]);
  });
});

Deno.test("RaplReader reports an unreadable counter as failed, never as a number", async () => {
  await withTempDir(async (root) => {
    await writeTree(root, {
      "intel-rapl:0/name": "package-0",
      "intel-rapl:0/energy_uj": "garbage",
      "intel-rapl:1/name": "package-1",
    });
    const scan = await new RaplReader(root).scan();
    assert.deepEqual(scan.measurements, []);
    assert.deepEqual([...scan.failed].sort(), ["rapl:package-0", "rapl:package-1"]);
  });
});

Deno.test("RaplReader finds nothing under a root that does not exist", async () => {
  const scan = await new RaplReader("/nonexistent/onebit/powercap").scan();
  assert.deepEqual(scan, { measurements: [], failed: [] });
});
