/**
 * Telemetry: per-task metrics, power (RAPL, hwmon INA2xx/INA3221, battery), temperatures,
 * process CPU and RSS, energy per inference; Prometheus text, JSON snapshots, bus events.
 *
 * @module
 */

export * from "./telemetry.ts";
export type { TaskRecorder } from "./recorder.ts";
export { TelemetryError, type TelemetryErrorCode } from "./errors.ts";
export {
  ENERGY_TASKS_MAX,
  EnergyAccount,
  type TaskEnergy,
  type WindowAttribution,
} from "./energy.ts";
export {
  CPU_RATIO_INTERVAL_MS_MIN,
  type ProcessSample,
  ProcessSampler,
  type ProcessSamplerOptions,
} from "./process.ts";
export { readTemperatures, type Temperature, THERMAL_ZONES_MAX } from "./thermal.ts";
export {
  ERROR_CODES_MAX,
  type LatencyPercentiles,
  TaskStats,
  type TaskStatsOptions,
} from "./task_stats.ts";
export * from "./power/mod.ts";
