/**
 * Batteries through the Linux power_supply class (`/sys/class/power_supply`).
 *
 * A supply is a folder whose `type` is `Battery` (and whose `present`, when it exists, is
 * not 0). Power is `power_now` (µW), else `voltage_now` (µV) × `current_now` (µA).
 *
 * Sign convention: drivers disagree on the sign of `current_now`/`power_now`, so the magnitude
 * is taken and `status` gives the direction: **positive watts = the battery delivers power
 * (`Discharging`), negative = it is being charged (`Charging`)**; any other status (`Full`,
 * `Not charging`, `Unknown`) reports the magnitude as positive. Only a discharging battery is
 * counted in the battery total, since only then is its output the system's consumption; the
 * energy counter integrates the delivered (positive) part only.
 *
 * @module
 */

import { listNames, readInteger, readOptional } from "./sysfs.ts";
import type { PowerReader, RawPowerMeasurement, RawPowerScan } from "./types.ts";

/** Most supplies read in one scan. */
export const POWER_SUPPLIES_MAX = 64;

/**
 * A reader of the batteries under a power_supply root.
 *
 * @example
 * ```ts
 * import { BatteryReader } from "./battery.ts";
 * const scan = await new BatteryReader("/sys/class/power_supply").scan();
 * console.log(scan.measurements.map((m) => `${m.source} ${m.watts} W`));
 * ```
 */
export class BatteryReader implements PowerReader {
  /** Always `battery`. */
  readonly kind = "battery" as const;
  /** The power_supply root. */
  readonly root: string;

  /** Reads supplies under `root` (default layout: `/sys/class/power_supply`). */
  constructor(root: string) {
    this.root = root;
  }

  /** Discovers the batteries and reads their power. */
  async scan(): Promise<RawPowerScan> {
    const measurements: RawPowerMeasurement[] = [];
    const failed: string[] = [];
    const names = (await listNames(this.root)).slice(0, POWER_SUPPLIES_MAX);
    for (const name of names) {
      const dir = `${this.root}/${name}`;
      if ((await readOptional(`${dir}/type`)) !== "Battery") continue;
      if ((await readOptional(`${dir}/present`)) === "0") continue;
      const source = `battery:${name}`;
      try {
        const magnitude = Math.abs(await readWatts(dir));
        const status = await readOptional(`${dir}/status`);
        const watts = status === "Charging" ? -magnitude : magnitude;
        measurements.push({ source, kind: "battery", counted: status === "Discharging", watts });
      } catch {
        failed.push(source);
      }
    }
    return { measurements, failed };
  }
}

async function readWatts(dir: string): Promise<number> {
  try {
    return await readInteger(`${dir}/power_now`) / 1e6;
  } catch (error) {
    // No power_now on this driver: derive it. Any other failure is the sensor failing.
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const microvolts = await readInteger(`${dir}/voltage_now`);
  const microamps = await readInteger(`${dir}/current_now`);
  return (microvolts * microamps) / 1e12;
}
