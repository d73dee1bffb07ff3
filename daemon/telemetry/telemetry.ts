/**
 * The daemon's telemetry: per-task counters fed through {@linkcode TaskRecorder}, and a
 * sampling loop reading power, temperatures and the process every `intervalMs`. Exposed as
 * Prometheus text (a prom-client registry of its own, every metric named `onebit_`), as a
 * JSON snapshot, and as a {@linkcode TelemetryEvent} on the event bus after every sample.
 *
 * Metrics (DESIGN.md section 6):
 * - per task: `onebit_inferences_total{task}`, `onebit_errors_total{task,code}`,
 *   `onebit_inference_latency_seconds{task}` (histogram), `onebit_fps{task}`,
 *   `onebit_frames_dropped_total{task,reason}`, `onebit_queue_depth{task}`,
 *   `onebit_plugin_reloads_total{task,result}`, `onebit_plugin_restarts_total{task}`,
 *   `onebit_plugin_info{task,version}` (1 for the version serving),
 *   `onebit_energy_per_inference_joules{task}` (last window with energy measured);
 * - power, per sensor (`source` = `<kind>:<sensor>`, see power/types.ts):
 *   `onebit_power_watts{source}`, `onebit_energy_joules_total{source}`,
 *   `onebit_power_sensor_errors_total{source}`, and `onebit_power_sources` (sensors read in the
 *   last sample). With no sensor, `onebit_power_sources` is 0 and there is no
 *   `onebit_power_watts` series at all: no number is made up; the JSON says `"source": "none"`;
 * - `onebit_temperature_celsius{zone,type}`, `onebit_process_cpu_seconds_total`,
 *   `onebit_process_cpu_ratio` (cores busy), `onebit_process_resident_memory_bytes`,
 *   `onebit_build_info{version,cpu_level,deno}`.
 *
 * @module
 */

import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { EventBus } from "../events.ts";
import type { JsonValue } from "../sdk/plugin.ts";
import { EnergyAccount } from "./energy.ts";
import { TelemetryError } from "./errors.ts";
import { discoverPowerReaders, type PowerMonitor, type PowerSample } from "./power/mod.ts";
import { type ProcessSample, ProcessSampler, type ProcessSamplerOptions } from "./process.ts";
import type { TaskRecorder } from "./recorder.ts";
import { TaskStats } from "./task_stats.ts";
import { readTemperatures, type Temperature } from "./thermal.ts";

/** Sysfs roots read by the sampling loop. */
export interface TelemetryRoots {
  /** Normally `/sys/class/powercap`. */
  readonly powercap: string;
  /** Normally `/sys/class/hwmon`. */
  readonly hwmon: string;
  /** Normally `/sys/class/power_supply`. */
  readonly powerSupply: string;
  /** Normally `/sys/class/thermal`. */
  readonly thermal: string;
}

/** What `onebit_build_info` says. */
export interface BuildInfo {
  /** onebit version. */
  readonly version: string;
  /** Kernel CPU level in use (`avx512`, `avx2`, `neon`, `scalar`). */
  readonly cpuLevel: string;
  /** Deno version. */
  readonly deno: string;
}

/** Options of {@linkcode Telemetry}. */
export interface TelemetryOptions {
  /** Sensor roots. */
  readonly roots: TelemetryRoots;
  /** Sampling period, ms: an integer >= 10. */
  readonly intervalMs: number;
  /** Where a {@linkcode TelemetryEvent} goes after every sample. Default: nowhere. */
  readonly events?: EventBus;
  /** Build info. */
  readonly buildInfo: BuildInfo;
  /** Clock, ms. Default `Date.now`. Used for FPS, power integration, CPU ratio and `atMs`. */
  readonly now?: () => number;
  /** FPS sliding window, ms. Default 5000. */
  readonly fpsWindowMs?: number;
  /** Recent latencies kept per task for exact percentiles. Default 1024. */
  readonly latencyRing?: number;
  /** Latency histogram bucket bounds, s. Default 1 ms .. 10 s. */
  readonly latencyBucketsS?: readonly number[];
  /** Replaces the process sources (tests). Default: the real process. */
  readonly process?: Omit<ProcessSamplerOptions, "now">;
}

/** Most tasks tracked; records for further tasks are ignored (and counted in `tasksRefused`). */
export const TELEMETRY_TASKS_MAX = 256;

/** Default latency histogram bounds, s. */
export const DEFAULT_LATENCY_BUCKETS_S: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];

/** The JSON of one task in {@linkcode TelemetrySnapshot}. */
export type TaskSnapshot = {
  /** Version serving, `null` when unloaded. */
  readonly version: string | null;
  readonly inferences: number;
  readonly errorsTotal: number;
  /** By stable error code. */
  readonly errors: { readonly [code: string]: number };
  /** Completions per second over the FPS window. */
  readonly fps: number;
  /** Exact nearest-rank percentiles over the recent-latency ring, ms. */
  readonly latencyMs: {
    readonly count: number;
    readonly p50: number | null;
    readonly p95: number | null;
    readonly p99: number | null;
    readonly max: number | null;
  };
  readonly queueDepth: number;
  readonly dropped: { readonly queue_full: number; readonly latest_wins: number };
  readonly reloads: { readonly ok: number; readonly failed: number };
  readonly restarts: number;
  /** Energy attributed to the task (null per-inference figures until measured). */
  readonly energy: {
    readonly joulesTotal: number;
    readonly joulesPerInferenceLast: number | null;
    readonly joulesPerInferenceCumulative: number | null;
  };
};

/** One power sensor in {@linkcode TelemetrySnapshot}. */
export type SensorSnapshot = {
  readonly source: string;
  readonly kind: string;
  /** Part of its kind's total. */
  readonly counted: boolean;
  readonly watts: number | null;
  readonly energyJoulesTotal: number;
};

/**
 * The JSON of `/v1/telemetry` and of every {@linkcode TelemetryEvent}'s `snapshot`.
 * Figures sampled by the loop (power, temperatures, process) are those of the last sample
 * (`sampledAtMs`, `null` before the first); task figures are live.
 */
export type TelemetrySnapshot = {
  /** Clock at snapshot, ms. */
  readonly atMs: number;
  /** Clock of the last sample, ms, or `null`. */
  readonly sampledAtMs: number | null;
  readonly intervalMs: number;
  readonly build: { readonly version: string; readonly cpuLevel: string; readonly deno: string };
  /** `null` before the first sample. */
  readonly process: {
    readonly cpuSecondsTotal: number;
    /** CPU time / wall time over the last interval, percent of one core (may exceed 100). */
    readonly cpuPercent: number | null;
    readonly residentBytes: number;
  } | null;
  readonly temperatures: readonly {
    readonly zone: string;
    readonly type: string;
    readonly celsius: number;
  }[];
  readonly power: {
    /** Family giving the system figures: `rapl`, `hwmon`, `battery`, or `none`. */
    readonly source: string;
    /** System power, W, `null` when `none` or not yet measured. */
    readonly watts: number | null;
    /** System energy measured over sampling windows since start, J; `null` while none measured. */
    readonly energyJoulesTotal: number | null;
    /** Energy of windows in which no task was busy, J. */
    readonly idleJoulesTotal: number;
    readonly sensors: readonly SensorSnapshot[];
    /** Sensor losses since start, by source. */
    readonly sensorErrorsTotal: { readonly [source: string]: number };
  };
  readonly tasks: { readonly [task: string]: TaskSnapshot };
};

interface LastSample {
  readonly atMs: number;
  readonly power: PowerSample;
  readonly temperatures: readonly Temperature[];
  readonly process: ProcessSample;
}

/**
 * Telemetry of the daemon: the {@linkcode TaskRecorder} the host and sources report to, and
 * the sampler of power, temperatures and the process.
 *
 * @example
 * ```ts
 * import { EventBus } from "../events.ts";
 * import { Telemetry } from "./telemetry.ts";
 * const telemetry = new Telemetry({
 *   roots: { powercap: "/sys/class/powercap", hwmon: "/sys/class/hwmon",
 *     powerSupply: "/sys/class/power_supply", thermal: "/sys/class/thermal" },
 *   intervalMs: 1000,
 *   events: new EventBus(),
 *   buildInfo: { version: "0.1.0", cpuLevel: "avx2", deno: Deno.version.deno },
 * });
 * telemetry.start();
 * telemetry.inference("detect", 12.5, 11);
 * console.log(await telemetry.prometheus());
 * await telemetry.stop();
 * ```
 */
export class Telemetry implements TaskRecorder {
  /** Content type of {@linkcode Telemetry.prometheus}'s text. */
  readonly prometheusContentType: string;
  readonly #options: TelemetryOptions;
  readonly #now: () => number;
  readonly #registry = new Registry();
  readonly #tasks = new Map<string, TaskStats>();
  readonly #energy = new EnergyAccount();
  readonly #power: PowerMonitor;
  readonly #process: ProcessSampler;
  readonly #latency: Histogram<"task">;
  #last: LastSample | null = null;
  #measuredJoulesTotal: number | null = null;
  #tasksRefused = 0;
  #sampleErrors = 0;
  #queue: Promise<void> = Promise.resolve();
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running = false;

  /** Validates `options` and registers the metrics; throws {@linkcode TelemetryError}. */
  constructor(options: TelemetryOptions) {
    if (!Number.isInteger(options.intervalMs) || options.intervalMs < 10) {
      throw new TelemetryError(
        "invalid_option",
        `intervalMs is ${options.intervalMs}, expected an integer >= 10`,
      );
    }
    for (const name of ["fpsWindowMs", "latencyRing"] as const) {
      const value = options[name];
      if (value !== undefined && (!Number.isInteger(value) || value < 1)) {
        throw new TelemetryError("invalid_option", `${name} is ${value}, expected an integer >= 1`);
      }
    }
    const buckets = options.latencyBucketsS ?? DEFAULT_LATENCY_BUCKETS_S;
    if (
      buckets.length === 0 || buckets.some((b, i) => !(b > 0) || (i > 0 && b <= buckets[i - 1]))
    ) {
      throw new TelemetryError(
        "invalid_option",
        `latencyBucketsS is [${buckets.join(", ")}], expected increasing positive bounds`,
      );
    }
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#power = discoverPowerReaders(options.roots);
    this.#process = new ProcessSampler({ ...options.process, now: this.#now });
    this.prometheusContentType = this.#registry.contentType;
    this.#latency = new Histogram({
      name: "onebit_inference_latency_seconds",
      help: "Inference latency from receipt to result, queueing included, seconds.",
      labelNames: ["task"],
      buckets: [...buckets],
      registers: [this.#registry],
    });
    this.#registerMetrics();
  }

  // --- TaskRecorder -------------------------------------------------------------------

  /** One successful inference (see {@linkcode TaskRecorder.inference}). */
  inference(task: string, latencyMs: number, busyMs: number): void {
    const stats = this.#task(task);
    if (stats === null) return;
    stats.inference(latencyMs, this.#now());
    if (Number.isFinite(latencyMs) && latencyMs >= 0) {
      this.#latency.observe({ task }, latencyMs / 1000);
    }
    this.#energy.inference(task, busyMs);
  }

  /** One failed request by code. */
  error(task: string, code: string): void {
    this.#task(task)?.error(code);
  }

  /** Frames dropped (`count` default 1; non-positive or non-integer counts are ignored). */
  dropped(task: string, reason: "queue_full" | "latest_wins", count = 1): void {
    const stats = this.#task(task);
    if (stats === null || !Number.isInteger(count) || count <= 0) return;
    if (reason !== "queue_full" && reason !== "latest_wins") return;
    stats.dropped[reason] += count;
  }

  /** Current queue depth (negative or non-finite values are ignored). */
  queueDepth(task: string, depth: number): void {
    const stats = this.#task(task);
    if (stats !== null && Number.isFinite(depth) && depth >= 0) stats.queueDepth = depth;
  }

  /** A reload attempt of `version` and whether it took. */
  reload(task: string, version: string, ok: boolean): void {
    const stats = this.#task(task);
    if (stats === null) return;
    if (ok) {
      stats.reloads.ok += 1;
      stats.version = version;
    } else {
      stats.reloads.failed += 1;
    }
  }

  /** The version serving now, `null` once unloaded (its counters stay). */
  pluginVersion(task: string, version: string | null): void {
    const stats = this.#task(task);
    if (stats !== null) stats.version = version;
  }

  /** A worker restart. */
  restart(task: string): void {
    const stats = this.#task(task);
    if (stats !== null) stats.restarts += 1;
  }

  // --- sampling -----------------------------------------------------------------------

  /**
   * Starts the loop: a sample now, then one every `intervalMs` after the previous finished,
   * each followed by a {@linkcode TelemetryEvent}. Calling it again does nothing.
   */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const tick = async (): Promise<void> => {
      this.#timer = null;
      await this.sampleNow();
      if (this.#running) this.#timer = setTimeout(tick, this.#options.intervalMs);
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Stops the loop and waits for a sample in progress; no timer is left. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== null) {
      clearTimeout(this.#timer);
      this.#timer = null;
    }
    await this.#queue;
  }

  /** Whether the loop runs. */
  get running(): boolean {
    return this.#running;
  }

  /**
   * Takes one sample now (power, temperatures, process), closes the energy window and
   * publishes a {@linkcode TelemetryEvent}. Samples never overlap; never throws.
   */
  sampleNow(): Promise<void> {
    this.#queue = this.#queue.then(() => this.#sample());
    return this.#queue;
  }

  async #sample(): Promise<void> {
    try {
      const atMs = this.#now();
      const [power, temperatures] = await Promise.all([
        this.#power.sample(atMs),
        readTemperatures(this.#options.roots.thermal),
      ]);
      const process = this.#process.sample(atMs);
      this.#energy.closeWindow(power.windowJoules);
      if (power.windowJoules !== null) {
        this.#measuredJoulesTotal = (this.#measuredJoulesTotal ?? 0) + power.windowJoules;
      }
      this.#last = { atMs, power, temperatures, process };
      this.#options.events?.publish({ type: "telemetry", snapshot: this.json(), atMs });
    } catch {
      // Readers do not throw; this guards the loop against the unexpected (counted).
      this.#sampleErrors += 1;
    }
  }

  /** Samples that failed unexpectedly since start (0 in a healthy daemon). */
  get sampleErrors(): number {
    return this.#sampleErrors;
  }

  /** Records ignored because {@linkcode TELEMETRY_TASKS_MAX} tasks were already tracked. */
  get tasksRefused(): number {
    return this.#tasksRefused;
  }

  // --- exposition ---------------------------------------------------------------------

  /**
   * The prom-client registry behind `/metrics`, for other parts of the daemon that expose
   * their own `onebit_*` metrics (the MQTT publisher); they register collect-on-scrape metrics.
   */
  get registry(): Registry {
    return this.#registry;
  }

  /** The Prometheus text exposition (content type {@linkcode Telemetry.prometheusContentType}). */
  prometheus(): Promise<string> {
    return this.#registry.metrics();
  }

  /** The snapshot as JSON (see {@linkcode TelemetrySnapshot}). */
  json(): JsonValue {
    return this.snapshot();
  }

  /** The typed snapshot. */
  snapshot(): TelemetrySnapshot {
    const nowMs = this.#now();
    const last = this.#last;
    const tasks: Record<string, TaskSnapshot> = {};
    for (const [name, stats] of this.#tasks) {
      const energy = this.#energy.task(name);
      tasks[name] = {
        version: stats.version,
        inferences: stats.inferences,
        errorsTotal: stats.errorsTotal,
        errors: Object.fromEntries(stats.errors),
        fps: stats.fps(nowMs),
        latencyMs: stats.latencyPercentiles(),
        queueDepth: stats.queueDepth,
        dropped: { ...stats.dropped },
        reloads: { ...stats.reloads },
        restarts: stats.restarts,
        energy: {
          joulesTotal: energy?.joulesTotal ?? 0,
          joulesPerInferenceLast: energy?.joulesPerInferenceLast ?? null,
          joulesPerInferenceCumulative: energy?.joulesPerInferenceCumulative ?? null,
        },
      };
    }
    const power = last?.power;
    return {
      atMs: nowMs,
      sampledAtMs: last?.atMs ?? null,
      intervalMs: this.#options.intervalMs,
      build: { ...this.#options.buildInfo },
      process: last === null ? null : {
        cpuSecondsTotal: last.process.cpuSecondsTotal,
        cpuPercent: last.process.cpuRatio === null ? null : last.process.cpuRatio * 100,
        residentBytes: last.process.residentBytes,
      },
      temperatures: last?.temperatures.map((t) => ({ ...t })) ?? [],
      power: {
        source: power?.source ?? "none",
        watts: power?.watts ?? null,
        energyJoulesTotal: this.#measuredJoulesTotal,
        idleJoulesTotal: this.#energy.idleJoulesTotal,
        sensors: power?.readings.map((r) => ({
          source: r.source,
          kind: r.kind,
          counted: r.counted,
          watts: r.watts,
          energyJoulesTotal: r.energyJoulesTotal,
        })) ?? [],
        sensorErrorsTotal: { ...power?.sensorErrorsTotal },
      },
      tasks,
    };
  }

  #task(task: string): TaskStats | null {
    let stats = this.#tasks.get(task);
    if (stats === undefined) {
      if (this.#tasks.size >= TELEMETRY_TASKS_MAX) {
        this.#tasksRefused += 1;
        return null;
      }
      stats = new TaskStats({
        latencyRing: this.#options.latencyRing,
        fpsWindowMs: this.#options.fpsWindowMs,
      });
      this.#tasks.set(task, stats);
    }
    return stats;
  }

  /** Registers every metric but the histogram; each reads the state when scraped. */
  #registerMetrics(): void {
    const registers = [this.#registry];
    // `self` because prom-client calls `collect` with `this` bound to the metric.
    // deno-lint-ignore no-this-alias
    const self = this;
    const tasks = () => this.#tasks;
    const last = () => this.#last;
    new Counter({
      name: "onebit_inferences_total",
      help: "Successful inferences per task.",
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        for (const [task, stats] of tasks()) this.inc({ task }, stats.inferences);
      },
    });
    new Counter({
      name: "onebit_errors_total",
      help: "Failed requests per task and stable error code.",
      labelNames: ["task", "code"],
      registers,
      collect() {
        this.reset();
        for (const [task, stats] of tasks()) {
          for (const [code, count] of stats.errors) this.inc({ task, code }, count);
        }
      },
    });
    new Gauge({
      name: "onebit_fps",
      help: "Inferences per second per task over the FPS window.",
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        const nowMs = self.#now();
        for (const [task, stats] of tasks()) this.set({ task }, stats.fps(nowMs));
      },
    });
    new Counter({
      name: "onebit_frames_dropped_total",
      help: "Frames dropped per task: queue_full (refused) or latest_wins (streaming source).",
      labelNames: ["task", "reason"],
      registers,
      collect() {
        this.reset();
        for (const [task, stats] of tasks()) {
          for (const reason of ["queue_full", "latest_wins"] as const) {
            this.inc({ task, reason }, stats.dropped[reason]);
          }
        }
      },
    });
    new Gauge({
      name: "onebit_queue_depth",
      help: "Frames waiting per task (not in flight).",
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        for (const [task, stats] of tasks()) this.set({ task }, stats.queueDepth);
      },
    });
    new Counter({
      name: "onebit_plugin_reloads_total",
      help: "Plugin reload and hot-swap attempts per task and result (ok, failed).",
      labelNames: ["task", "result"],
      registers,
      collect() {
        this.reset();
        for (const [task, stats] of tasks()) {
          this.inc({ task, result: "ok" }, stats.reloads.ok);
          this.inc({ task, result: "failed" }, stats.reloads.failed);
        }
      },
    });
    new Counter({
      name: "onebit_plugin_restarts_total",
      help: "Worker restarts after a crash or a hang, per task.",
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        for (const [task, stats] of tasks()) this.inc({ task }, stats.restarts);
      },
    });
    new Gauge({
      name: "onebit_plugin_info",
      help: "The plugin version serving each task (always 1).",
      labelNames: ["task", "version"],
      registers,
      collect() {
        this.reset();
        for (const [task, stats] of tasks()) {
          if (stats.version !== null) this.set({ task, version: stats.version }, 1);
        }
      },
    });
    new Gauge({
      name: "onebit_energy_per_inference_joules",
      help: "Energy per inference per task in the last window with measured energy, joules.",
      labelNames: ["task"],
      registers,
      collect() {
        this.reset();
        for (const task of tasks().keys()) {
          const last = self.#energy.task(task)?.joulesPerInferenceLast;
          if (last !== undefined && last !== null) this.set({ task }, last);
        }
      },
    });
    new Gauge({
      name: "onebit_power_watts",
      help: "Power per sensor, watts (source = kind:sensor); absent when not measured.",
      labelNames: ["source"],
      registers,
      collect() {
        this.reset();
        for (const reading of last()?.power.readings ?? []) {
          if (reading.watts !== null) this.set({ source: reading.source }, reading.watts);
        }
      },
    });
    new Counter({
      name: "onebit_energy_joules_total",
      help: "Energy per sensor since the daemon started, joules (source = kind:sensor).",
      labelNames: ["source"],
      registers,
      collect() {
        this.reset();
        for (const reading of last()?.power.readings ?? []) {
          this.inc({ source: reading.source }, reading.energyJoulesTotal);
        }
      },
    });
    new Counter({
      name: "onebit_power_sensor_errors_total",
      help: "Power sensors lost (vanished or failed to read), per source.",
      labelNames: ["source"],
      registers,
      collect() {
        this.reset();
        for (const [source, count] of Object.entries(last()?.power.sensorErrorsTotal ?? {})) {
          this.inc({ source }, count);
        }
      },
    });
    new Gauge({
      name: "onebit_power_sources",
      help: "Power sensors read in the last sample; 0 means power source none.",
      registers,
      collect() {
        this.set(last()?.power.readings.length ?? 0);
      },
    });
    new Gauge({
      name: "onebit_temperature_celsius",
      help: "Temperature per thermal zone, degrees Celsius.",
      labelNames: ["zone", "type"],
      registers,
      collect() {
        this.reset();
        for (const t of last()?.temperatures ?? []) {
          this.set({ zone: t.zone, type: t.type }, t.celsius);
        }
      },
    });
    new Counter({
      name: "onebit_process_cpu_seconds_total",
      help: "CPU time of the daemon process (user + system, all threads), seconds.",
      registers,
      collect() {
        this.reset();
        this.inc(last()?.process.cpuSecondsTotal ?? 0);
      },
    });
    new Gauge({
      name: "onebit_process_cpu_ratio",
      help: "CPU time over wall time in the last interval, in cores (1 = one core busy).",
      registers,
      collect() {
        this.set(last()?.process.cpuRatio ?? 0);
      },
    });
    new Gauge({
      name: "onebit_process_resident_memory_bytes",
      help: "Resident set size of the daemon process, bytes.",
      registers,
      collect() {
        this.set(last()?.process.residentBytes ?? Deno.memoryUsage().rss);
      },
    });
    const build = this.#options.buildInfo;
    new Gauge({
      name: "onebit_build_info",
      help:
        "Build of the daemon: onebit version, kernel CPU level in use, Deno version (always 1).",
      labelNames: ["version", "cpu_level", "deno"],
      registers,
    }).set({ version: build.version, cpu_level: build.cpuLevel, deno: build.deno }, 1);
  }
}
