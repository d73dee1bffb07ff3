/**
 * TI INA2xx and INA3221 power monitors through the Linux hwmon class (`/sys/class/hwmon`),
 * as found on Jetson boards and on many drones' power modules.
 *
 * A chip is a folder `hwmon<N>` whose `name` starts with `ina` (ina219, ina226, ina230,
 * ina231, ina238, ina260, ina3221, ...). Per chip:
 * - with `power<n>_input` files (µW; the INA2xx driver): one rail per power channel;
 * - otherwise, one rail per `curr<n>_input` (mA) with a matching `in<n>_input` (mV, the bus
 *   voltage; INA3221 channels 1..3 and INA2xx channel 1), power = V × I. A channel whose
 *   `in<n>_enable` is 0 is off and skipped.
 *
 * Rails are named by `in<n>_label` (or `power<n>_label`), else `<hwmonN>.ch<n>`; the source
 * label is `hwmon:<chip>:<rail>`.
 *
 * Counted in the hwmon total: the board input rails, those whose label ends in `IN`
 * (`VDD_IN` on Jetson Xavier/Orin, `POM_5V_IN` on Jetson Nano), because the other rails are
 * parts of that input; when no rail is labelled as an input, every rail is counted.
 *
 * @module
 */

import { listNames, readInteger, readOptional } from "./sysfs.ts";
import type { PowerReader, RawPowerMeasurement, RawPowerScan } from "./types.ts";

/** Most hwmon chips read in one scan. */
export const HWMON_CHIPS_MAX = 64;
/** Most channels read per chip. */
export const HWMON_CHANNELS_MAX = 16;

const INPUT_RAIL = /(^|[_\s-])IN$/i;

interface Rail {
  readonly source: string;
  readonly label: string | null;
  /** Reads the rail's watts; throws when a file vanished or failed. */
  readonly read: () => Promise<number>;
}

/**
 * A reader of the INA2xx/INA3221 chips under a hwmon root.
 *
 * @example
 * ```ts
 * import { HwmonReader } from "./hwmon.ts";
 * const scan = await new HwmonReader("/sys/class/hwmon").scan();
 * console.log(scan.measurements.map((m) => `${m.source} ${m.watts} W`));
 * ```
 */
export class HwmonReader implements PowerReader {
  /** Always `hwmon`. */
  readonly kind = "hwmon" as const;
  /** The hwmon root. */
  readonly root: string;

  /** Reads chips under `root` (default layout: `/sys/class/hwmon`). */
  constructor(root: string) {
    this.root = root;
  }

  /** Discovers the INA chips and reads every rail. */
  async scan(): Promise<RawPowerScan> {
    const rails: Rail[] = [];
    const seen = new Set<string>();
    let chips = 0;
    for (const dirName of await listNames(this.root)) {
      if (!/^hwmon\d+$/.test(dirName) || chips >= HWMON_CHIPS_MAX) continue;
      const dir = `${this.root}/${dirName}`;
      const chip = await readOptional(`${dir}/name`);
      if (chip === null || !/^ina\d/i.test(chip)) continue;
      chips += 1;
      for (const rail of await chipRails(dir, dirName, chip)) {
        // Two chips with the same rail label keep apart by their folder.
        const source = seen.has(rail.source) ? `${rail.source}@${dirName}` : rail.source;
        seen.add(source);
        rails.push({ ...rail, source });
      }
    }
    const anyInput = rails.some((rail) => rail.label !== null && INPUT_RAIL.test(rail.label));
    const measurements: RawPowerMeasurement[] = [];
    const failed: string[] = [];
    for (const rail of rails) {
      try {
        const watts = await rail.read();
        const counted = !anyInput || (rail.label !== null && INPUT_RAIL.test(rail.label));
        measurements.push({ source: rail.source, kind: "hwmon", counted, watts });
      } catch {
        failed.push(rail.source);
      }
    }
    return { measurements, failed };
  }
}

async function chipRails(dir: string, dirName: string, chip: string): Promise<Rail[]> {
  const files = new Set(await listNames(dir));
  const channels = (pattern: RegExp): number[] =>
    [...files].map((name) => pattern.exec(name)).filter((m) => m !== null).map((m) => Number(m[1]))
      .sort((a, b) => a - b).slice(0, HWMON_CHANNELS_MAX);
  const rails: Rail[] = [];
  const powerChannels = channels(/^power(\d+)_input$/);
  if (powerChannels.length > 0) {
    for (const n of powerChannels) {
      const label = (await readOptional(`${dir}/power${n}_label`)) ??
        (await readOptional(`${dir}/in${n}_label`));
      rails.push({
        source: `hwmon:${chip}:${label ?? `${dirName}.ch${n}`}`,
        label,
        read: async () => (await readInteger(`${dir}/power${n}_input`)) / 1e6,
      });
    }
    return rails;
  }
  for (const n of channels(/^curr(\d+)_input$/)) {
    if (!files.has(`in${n}_input`)) continue;
    if ((await readOptional(`${dir}/in${n}_enable`)) === "0") continue;
    const label = (await readOptional(`${dir}/in${n}_label`)) ??
      (await readOptional(`${dir}/curr${n}_label`));
    rails.push({
      source: `hwmon:${chip}:${label ?? `${dirName}.ch${n}`}`,
      label,
      read: async () => {
        const millivolts = await readInteger(`${dir}/in${n}_input`);
        const milliamps = await readInteger(`${dir}/curr${n}_input`);
        return (millivolts * milliamps) / 1e6;
      },
    });
  }
  return rails;
}
