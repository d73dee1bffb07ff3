/**
 * Shapes shared by the power readers: what a reader measures (raw) and what the integrator
 * turns it into (readings with watts and accumulated joules).
 *
 * Source labels are `<kind>:<sensor>`: `rapl:package-0`, `rapl:package-0/dram`,
 * `hwmon:ina3221:VDD_IN`, `battery:BAT0`. They are the `source` label of
 * `onebit_power_watts` and `onebit_energy_joules_total`.
 *
 * @module
 */

/** The sensor families the daemon reads. */
export type PowerKind = "rapl" | "hwmon" | "battery";

/** What a power source can be: a sensor family, or `none` when no sensor exists. */
export type PowerSourceName = PowerKind | "none";

/** Every kind, in the default order of preference for the system total. */
export const POWER_KINDS: readonly PowerKind[] = ["rapl", "hwmon", "battery"];

/**
 * One sensor as a reader found it in one scan, before integration over time. Exactly one of
 * `energyUj` (a cumulative counter, RAPL) and `watts` (an instantaneous power) is set.
 */
export interface RawPowerMeasurement {
  /** `<kind>:<sensor>`, stable across scans. */
  readonly source: string;
  /** The family of the reader that found it. */
  readonly kind: PowerKind;
  /** Whether it is part of its kind's total (top-level RAPL packages, board input rails, a discharging battery). */
  readonly counted: boolean;
  /** Cumulative energy counter, µJ (RAPL `energy_uj`). */
  readonly energyUj?: number;
  /** Where the counter wraps to 0, µJ (RAPL `max_energy_range_uj`); 0 if unknown. */
  readonly energyRangeUj?: number;
  /** Instantaneous power, W (negative: a battery being charged). */
  readonly watts?: number;
}

/** What one scan of one reader returns. */
export interface RawPowerScan {
  /** Sensors read successfully. */
  readonly measurements: readonly RawPowerMeasurement[];
  /** Sources found but whose files could not be read (vanished mid-scan, I/O error, EACCES). */
  readonly failed: readonly string[];
}

/** A reader of one sensor family under one root. */
export interface PowerReader {
  /** The family. */
  readonly kind: PowerKind;
  /** The root it scans. */
  readonly root: string;
  /** Discovers the sensors under the root and reads them. Never throws: a missing root is an empty scan. */
  scan(): Promise<RawPowerScan>;
}

/** One sensor after integration over time. */
export interface PowerReading {
  /** `<kind>:<sensor>`. */
  readonly source: string;
  /** Family. */
  readonly kind: PowerKind;
  /** Part of its kind's total. */
  readonly counted: boolean;
  /** Power now, W; `null` until two samples exist (RAPL needs a difference). */
  readonly watts: number | null;
  /** Energy since the sensor was first seen, J (monotonic; survives the sensor vanishing). */
  readonly energyJoulesTotal: number;
  /** Energy since the previous sample of this sensor, J; `null` on its first sample. */
  readonly windowJoules: number | null;
}
