/**
 * Intel/AMD RAPL through the Linux powercap class (`/sys/class/powercap`).
 *
 * Zones are folders `intel-rapl:<p>` (a package or `psys`) and subzones `intel-rapl:<p>:<s>`
 * (`core`, `uncore`, `dram`), listed flat at the class root and also nested inside their
 * zone under `/sys/devices/virtual/powercap`; both layouts are read. `amd-rapl:*` is read the
 * same way. Each has `name`, `energy_uj` (a cumulative counter that wraps at
 * `max_energy_range_uj`).
 *
 * Only top-level zones named `package-*` are counted in the RAPL total: subzones are parts of
 * their package (counting them would count that energy twice) and `psys` (platform) already
 * includes the packages. The others are still reported under their own source label
 * (`rapl:package-0/dram`, `rapl:psys`). `intel-rapl-mmio` zones mirror the MSR packages and
 * are skipped.
 *
 * Since Linux 5.10 `energy_uj` is readable by root only; an unreadable counter is reported as a
 * failed sensor (and so counted in `onebit_power_sensor_errors_total`), never guessed.
 *
 * @module
 */

import { listNames, readAttribute, readInteger } from "./sysfs.ts";
import type { PowerReader, RawPowerMeasurement, RawPowerScan } from "./types.ts";

const ZONE_PATTERN = /^(intel-rapl|amd-rapl)((?::\d+)+)$/;

/** Most RAPL zones read in one scan. */
export const RAPL_ZONES_MAX = 256;

interface ZoneDir {
  readonly dir: string;
  readonly dirName: string;
  /** Indices after the prefix: `[0]` for a zone, `[0, 1]` for a subzone. */
  readonly indices: readonly number[];
  readonly prefix: string;
}

/**
 * A reader of the RAPL zones under a powercap root.
 *
 * @example
 * ```ts
 * import { RaplReader } from "./rapl.ts";
 * const scan = await new RaplReader("/sys/class/powercap").scan();
 * console.log(scan.measurements.map((m) => `${m.source} ${m.energyUj} µJ`));
 * ```
 */
export class RaplReader implements PowerReader {
  /** Always `rapl`. */
  readonly kind = "rapl" as const;
  /** The powercap root. */
  readonly root: string;

  /** Reads zones under `root` (default layout: `/sys/class/powercap`). */
  constructor(root: string) {
    this.root = root;
  }

  /** Discovers the zones and reads their counters. */
  async scan(): Promise<RawPowerScan> {
    const zones = await this.#discover();
    const names = new Map<string, string>();
    const measurements: RawPowerMeasurement[] = [];
    const failed: string[] = [];
    // Parents first (fewer indices), so that a subzone finds its package's name.
    zones.sort((a, b) => a.indices.length - b.indices.length);
    for (const zone of zones) {
      const parentKey = `${zone.prefix}:${zone.indices.slice(0, -1).join(":")}`;
      let name: string;
      try {
        name = await readAttribute(`${zone.dir}/name`);
      } catch {
        failed.push(`rapl:${zone.dirName}`);
        continue;
      }
      names.set(`${zone.prefix}:${zone.indices.join(":")}`, name);
      const topLevel = zone.indices.length === 1;
      const parentName = topLevel ? null : names.get(parentKey) ?? parentKey;
      const source = parentName === null ? `rapl:${name}` : `rapl:${parentName}/${name}`;
      try {
        const energyUj = await readInteger(`${zone.dir}/energy_uj`);
        let energyRangeUj = 0;
        try {
          energyRangeUj = await readInteger(`${zone.dir}/max_energy_range_uj`);
        } catch {
          // Without the range a wrap reads as a counter reset; the integrator skips that window.
        }
        measurements.push({
          source,
          kind: "rapl",
          counted: topLevel && name.startsWith("package"),
          energyUj,
          energyRangeUj,
        });
      } catch {
        failed.push(source);
      }
    }
    return { measurements, failed };
  }

  async #discover(): Promise<ZoneDir[]> {
    const found = new Map<string, ZoneDir>();
    const visit = async (parent: string, depth: number): Promise<void> => {
      for (const dirName of await listNames(parent)) {
        const match = ZONE_PATTERN.exec(dirName);
        if (match === null || found.size >= RAPL_ZONES_MAX) continue;
        const dir = `${parent}/${dirName}`;
        if (!found.has(dirName)) {
          const indices = match[2].slice(1).split(":").map(Number);
          found.set(dirName, { dir, dirName, indices, prefix: match[1] });
        }
        // Nested layout: subzones live inside their zone (bounded depth: zone → subzone).
        if (depth < 1) await visit(dir, depth + 1);
      }
    };
    await visit(this.root, 0);
    return [...found.values()];
  }
}
