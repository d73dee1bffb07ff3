/**
 * Turns successive raw scans into readings: power from energy counters (Δenergy/Δt, with the
 * counter's wrap-around), energy from power (trapezoid rule), per-sensor energy totals that
 * stay monotonic when a sensor vanishes and comes back, and the count of sensors lost.
 *
 * @module
 */

import type { PowerReading, RawPowerMeasurement } from "./types.ts";

/** Most sensors tracked at once (state is kept for vanished sensors so their totals survive). */
export const POWER_SENSORS_MAX = 1024;

interface SensorState {
  /** Whether the previous sample read it. */
  active: boolean;
  energyJoulesTotal: number;
  /** The previous sample, when `active`. */
  lastAtMs: number;
  lastEnergyUj: number | null;
  lastWatts: number | null;
}

/** What one integration step returns. */
export interface IntegratedSample {
  /** Readings of the sensors read now. */
  readonly readings: readonly PowerReading[];
  /** Sources that were read before and are gone or failed now (each counts as one sensor error). */
  readonly lost: readonly string[];
}

/**
 * Keeps per-sensor state between samples.
 *
 * @example
 * ```ts
 * import { PowerIntegrator } from "./integrator.ts";
 * const integrator = new PowerIntegrator();
 * integrator.update(0, [{ source: "rapl:package-0", kind: "rapl", counted: true, energyUj: 0, energyRangeUj: 1e9 }], []);
 * const { readings } = integrator.update(1000, [{ source: "rapl:package-0", kind: "rapl", counted: true, energyUj: 5e6, energyRangeUj: 1e9 }], []);
 * console.log(readings[0].watts); // 5
 * ```
 */
export class PowerIntegrator {
  readonly #sensors = new Map<string, SensorState>();

  /**
   * Integrates the sensors read at `nowMs` (`measurements`) and those that failed
   * (`failed`). A sensor active before and now missing or failed is lost: its state is reset
   * (the next reading starts a new difference, the gap is not measured) but its energy total
   * is kept.
   */
  update(
    nowMs: number,
    measurements: readonly RawPowerMeasurement[],
    failed: readonly string[],
  ): IntegratedSample {
    const present = new Set<string>();
    const readings: PowerReading[] = [];
    for (const measurement of measurements) {
      if (present.has(measurement.source)) continue;
      present.add(measurement.source);
      const reading = this.#integrate(nowMs, measurement);
      if (reading !== null) readings.push(reading);
    }
    const lost: string[] = [];
    for (const [source, state] of this.#sensors) {
      if (present.has(source) || !state.active) continue;
      state.active = false;
      state.lastEnergyUj = null;
      state.lastWatts = null;
      lost.push(source);
    }
    // A failure of a sensor never read successfully still counts as one error.
    for (const source of failed) {
      if (!lost.includes(source) && !this.#sensors.has(source)) lost.push(source);
    }
    return { readings, lost };
  }

  #integrate(nowMs: number, measurement: RawPowerMeasurement): PowerReading | null {
    let state = this.#sensors.get(measurement.source);
    if (state === undefined) {
      if (this.#sensors.size >= POWER_SENSORS_MAX) return null;
      state = {
        active: false,
        energyJoulesTotal: 0,
        lastAtMs: nowMs,
        lastEnergyUj: null,
        lastWatts: null,
      };
      this.#sensors.set(measurement.source, state);
    }
    const dtS = (nowMs - state.lastAtMs) / 1000;
    const continuing = state.active && dtS > 0;
    let watts: number | null = null;
    let windowJoules: number | null = null;
    if (measurement.energyUj !== undefined) {
      if (continuing && state.lastEnergyUj !== null) {
        const deltaUj = counterDelta(
          state.lastEnergyUj,
          measurement.energyUj,
          measurement.energyRangeUj ?? 0,
        );
        if (deltaUj !== null) {
          windowJoules = deltaUj / 1e6;
          watts = windowJoules / dtS;
        }
      }
      state.lastEnergyUj = measurement.energyUj;
    } else if (measurement.watts !== undefined && Number.isFinite(measurement.watts)) {
      watts = measurement.watts;
      if (continuing && state.lastWatts !== null) {
        // Only delivered energy is integrated (a charging battery reads negative).
        windowJoules = ((Math.max(0, state.lastWatts) + Math.max(0, watts)) / 2) * dtS;
      }
      state.lastWatts = watts;
    }
    if (windowJoules !== null) state.energyJoulesTotal += windowJoules;
    state.active = true;
    state.lastAtMs = nowMs;
    return {
      source: measurement.source,
      kind: measurement.kind,
      counted: measurement.counted,
      watts,
      energyJoulesTotal: state.energyJoulesTotal,
      windowJoules,
    };
  }
}

/**
 * The increase of a wrapping counter from `previous` to `current`, or `null` when it went
 * back and no range is known (a reset, not a wrap) or the result is outside the range.
 */
export function counterDelta(previous: number, current: number, range: number): number | null {
  if (current >= previous) return current - previous;
  if (!(range > 0) || previous > range) return null;
  return range - previous + current;
}
