/**
 * Power telemetry: one reader per sensor family (RAPL powercap, hwmon INA2xx/INA3221,
 * battery), combined by a {@linkcode PowerMonitor} into per-sensor readings and one system
 * total.
 *
 * The system total comes from the first family, in the order of `prefer` (default RAPL,
 * hwmon, battery), that has a counted sensor: RAPL measures the CPU packages that run the
 * kernels; hwmon the board input (Jetson); a battery the whole system while discharging.
 * With no sensor at all the source is `"none"` and power and energy are `null`: the daemon
 * never reports a number it did not measure.
 *
 * Sensors are discovered again on every sample, so a sensor that vanishes (file gone, read
 * error) is dropped from the readings without throwing, counted per source in
 * `sensorErrorsTotal`, and picked up again when it comes back.
 *
 * @module
 */

import { BatteryReader } from "./battery.ts";
import { HwmonReader } from "./hwmon.ts";
import { PowerIntegrator } from "./integrator.ts";
import { RaplReader } from "./rapl.ts";
import {
  POWER_KINDS,
  type PowerKind,
  type PowerReader,
  type PowerReading,
  type PowerSourceName,
} from "./types.ts";

export * from "./types.ts";
export { BatteryReader, POWER_SUPPLIES_MAX } from "./battery.ts";
export { HWMON_CHANNELS_MAX, HWMON_CHIPS_MAX, HwmonReader } from "./hwmon.ts";
export {
  counterDelta,
  type IntegratedSample,
  POWER_SENSORS_MAX,
  PowerIntegrator,
} from "./integrator.ts";
export { RAPL_ZONES_MAX, RaplReader } from "./rapl.ts";

/** Sysfs roots of the power sensors (configurable so tests read fixture trees). */
export interface PowerRoots {
  /** Powercap class, normally `/sys/class/powercap`. */
  readonly powercap: string;
  /** Hwmon class, normally `/sys/class/hwmon`. */
  readonly hwmon: string;
  /** Power supply class, normally `/sys/class/power_supply`. */
  readonly powerSupply: string;
}

/** The Linux defaults of {@linkcode PowerRoots}. */
export const DEFAULT_POWER_ROOTS: PowerRoots = {
  powercap: "/sys/class/powercap",
  hwmon: "/sys/class/hwmon",
  powerSupply: "/sys/class/power_supply",
};

/** Options of {@linkcode discoverPowerReaders}. */
export interface PowerMonitorOptions {
  /** Order in which families are tried for the system total. Default RAPL, hwmon, battery. */
  readonly prefer?: readonly PowerKind[];
}

/** One sample of every power sensor. */
export interface PowerSample {
  /** When it was taken (the clock passed to `sample`), ms. */
  readonly atMs: number;
  /** Family giving the system total, or `none` when no sensor was read. */
  readonly source: PowerSourceName;
  /** System power, W: the sum of the counted sensors of `source`; `null` when `none` or not yet known. */
  readonly watts: number | null;
  /** System energy since the previous sample, J; `null` when not measured over the whole window. */
  readonly windowJoules: number | null;
  /** Every sensor read now, with its own source label. */
  readonly readings: readonly PowerReading[];
  /** Sensors lost (vanished or failed) since start, by source label. */
  readonly sensorErrorsTotal: Readonly<Record<string, number>>;
}

/**
 * Samples every power reader and picks the system total.
 *
 * @example
 * ```ts
 * import { discoverPowerReaders, DEFAULT_POWER_ROOTS } from "./mod.ts";
 * const monitor = discoverPowerReaders(DEFAULT_POWER_ROOTS);
 * const sample = await monitor.sample(Date.now());
 * console.log(sample.source, sample.watts); // "none null" on a machine without sensors
 * ```
 */
export class PowerMonitor {
  /** The readers, one per family. */
  readonly readers: readonly PowerReader[];
  readonly #prefer: readonly PowerKind[];
  readonly #integrator = new PowerIntegrator();
  readonly #errors = new Map<string, number>();
  #sampling: Promise<PowerSample> | null = null;

  /** Combines `readers`; `prefer` orders the families for the system total. */
  constructor(readers: readonly PowerReader[], options: PowerMonitorOptions = {}) {
    this.readers = readers;
    this.#prefer = options.prefer ?? POWER_KINDS;
  }

  /**
   * Scans every reader and integrates at `nowMs`. Never throws. Concurrent calls share one
   * scan (the later caller gets the same sample).
   */
  sample(nowMs: number): Promise<PowerSample> {
    if (this.#sampling !== null) return this.#sampling;
    this.#sampling = this.#sample(nowMs).finally(() => {
      this.#sampling = null;
    });
    return this.#sampling;
  }

  async #sample(nowMs: number): Promise<PowerSample> {
    const measurements = [];
    const failed = [];
    for (const reader of this.readers) {
      try {
        const scan = await reader.scan();
        measurements.push(...scan.measurements);
        failed.push(...scan.failed);
      } catch {
        // Readers do not throw; a reader that does is one failed source named after its root.
        failed.push(`${reader.kind}:${reader.root}`);
      }
    }
    const { readings, lost } = this.#integrator.update(nowMs, measurements, failed);
    for (const source of lost) this.#errors.set(source, (this.#errors.get(source) ?? 0) + 1);
    return {
      atMs: nowMs,
      ...systemTotal(readings, this.#prefer),
      readings,
      sensorErrorsTotal: Object.fromEntries(this.#errors),
    };
  }
}

function systemTotal(
  readings: readonly PowerReading[],
  prefer: readonly PowerKind[],
): { source: PowerSourceName; watts: number | null; windowJoules: number | null } {
  for (const kind of prefer) {
    const counted = readings.filter((reading) => reading.kind === kind && reading.counted);
    if (counted.length === 0) continue;
    const complete = (values: (number | null)[]): number | null =>
      values.some((value) => value === null)
        ? null
        : values.reduce((sum: number, value) => sum + (value as number), 0);
    return {
      source: kind,
      watts: complete(counted.map((reading) => reading.watts)),
      windowJoules: complete(counted.map((reading) => reading.windowJoules)),
    };
  }
  return { source: "none", watts: null, windowJoules: null };
}

/**
 * Creates the readers of every family under `roots` and the monitor combining them.
 * Discovery itself happens on every {@linkcode PowerMonitor.sample}, so roots that do not
 * exist are fine (source `none`) and sensors appearing later are found.
 */
export function discoverPowerReaders(
  roots: PowerRoots,
  options: PowerMonitorOptions = {},
): PowerMonitor {
  return new PowerMonitor(
    [
      new RaplReader(roots.powercap),
      new HwmonReader(roots.hwmon),
      new BatteryReader(roots.powerSupply),
    ],
    options,
  );
}
