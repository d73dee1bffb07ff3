/**
 * Temperatures from the Linux thermal class: `<root>/thermal_zone<N>/{type,temp}`, `temp` in
 * millidegrees Celsius. A zone whose files are missing or unreadable (some report EIO or
 * ENODATA while their device sleeps) is left out of that sample.
 *
 * @module
 */

import { listNames, readAttribute, readInteger } from "./power/sysfs.ts";

/** Most thermal zones read in one sample. */
export const THERMAL_ZONES_MAX = 128;

/** One zone's temperature. */
export interface Temperature {
  /** Folder name, `thermal_zone0`. */
  readonly zone: string;
  /** What it measures (`type`): `x86_pkg_temp`, `cpu-thermal`, `CPU-therm`, ... */
  readonly type: string;
  /** Degrees Celsius. */
  readonly celsius: number;
}

/**
 * Reads every thermal zone under `root` (normally `/sys/class/thermal`), in zone order.
 * A missing root gives an empty list; never throws.
 *
 * @example
 * ```ts
 * import { readTemperatures } from "./thermal.ts";
 * for (const t of await readTemperatures("/sys/class/thermal")) console.log(t.zone, t.type, t.celsius);
 * ```
 */
export async function readTemperatures(root: string): Promise<Temperature[]> {
  const temperatures: Temperature[] = [];
  const zones = (await listNames(root)).filter((name) => /^thermal_zone\d+$/.test(name));
  for (const zone of zones.slice(0, THERMAL_ZONES_MAX)) {
    try {
      const type = await readAttribute(`${root}/${zone}/type`);
      const millidegrees = await readInteger(`${root}/${zone}/temp`);
      temperatures.push({ zone, type, celsius: millidegrees / 1000 });
    } catch {
      // Unreadable now; it is read again on the next sample.
    }
  }
  return temperatures;
}
