/**
 * One served plugin name: {@linkcode PluginTask} owns the serving version's workers, a
 * bounded FIFO queue, per-frame deadlines, hot swaps with rollback, and crash/hang restarts
 * with exponential backoff.
 *
 * Concurrency is the number of workers of a version (`limits.concurrency`): a plugin
 * instance runs one frame at a time (the plugin contract), so N frames at once need N
 * instances, each with its own kernel context of `threads` threads.
 *
 * A frame's deadline runs from its receipt, queueing included. A frame that expires while
 * queued fails with `deadline_exceeded` and nothing else happens; one that expires inside a
 * worker also gets that worker terminated (it may be stuck in a synchronous loop, which
 * nothing else can interrupt) and restarted with backoff.
 *
 * @module
 */

import type { PluginLimits } from "../config/types.ts";
import type { EventBus, PluginAction } from "../events.ts";
import type { PluginManifest } from "../sdk/plugin.ts";
import type { TaskRecorder } from "../telemetry/recorder.ts";
import { errorMessage, PluginError } from "./errors.ts";
import { LastFrameKeeper, type LastFrameOptions } from "./last_frame.ts";
import { PluginWorker, type WorkerOutcome } from "./plugin_worker.ts";
import type { InferOutcome, InferRequest, LastFrame, PluginState, PluginStatus } from "./types.ts";

/** Everything one version of a plugin runs with. */
export interface VersionSpec {
  /** Absolute plugin folder. */
  readonly dir: string;
  /** Its validated manifest. */
  readonly manifest: PluginManifest;
  /** Resolved option values. */
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /** Limits, `threads` resolved to the per-worker kernel thread count (≥ 1). */
  readonly limits: PluginLimits;
}

/** Restart backoff: `initialMs` doubling to `maxMs`, back to `initialMs` after `healthyMs`. */
export interface BackoffOptions {
  /** First delay, ms. Default 100. */
  readonly initialMs?: number;
  /** Largest delay, ms. Default 30 000. */
  readonly maxMs?: number;
  /** A worker that served this long before dying restarts after `initialMs` again. Default 10 000. */
  readonly healthyMs?: number;
}

/** What a {@linkcode PluginTask} needs from the host. */
export interface TaskDeps {
  readonly recorder: TaskRecorder;
  readonly events: EventBus;
  /** CPU level (`null`: detect), absolute library folder, cpuinfo text. */
  readonly kernels: {
    readonly level: string | null;
    readonly libDir: string;
    readonly cpuinfo?: string;
  };
  readonly imagePixelsMax: number;
  /** Daemon-wide frame numbers. */
  readonly nextFrameId: () => number;
  /** Worker permissions; default `restricted`. */
  readonly permissions?: "restricted" | "inherit";
  readonly backoff?: BackoffOptions;
  /** Grace of a cooperative worker stop, ms. Default 5 000. */
  readonly stopGraceMs?: number;
  /** Load + setup + warm-up time allowed, ms. Default 60 000. */
  readonly startTimeoutMs?: number;
  /** How the last processed frame is kept (defaults in last_frame.ts: 4/s, 16 MiB). */
  readonly lastFrame?: LastFrameOptions;
  readonly log?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
}

/**
 * The delay after `previousMs` (`null`: first failure, or after a healthy period).
 *
 * @example
 * ```ts
 * import { nextBackoffMs } from "./task.ts";
 * console.log(nextBackoffMs(null), nextBackoffMs(100), nextBackoffMs(20_000)); // 100 200 30000
 * ```
 */
export function nextBackoffMs(previousMs: number | null, options: BackoffOptions = {}): number {
  const initialMs = options.initialMs ?? 100;
  const maxMs = options.maxMs ?? 30_000;
  if (previousMs === null) return Math.min(initialMs, maxMs);
  return Math.min(previousMs * 2, maxMs);
}

interface Job {
  readonly frameId: number;
  readonly request: InferRequest;
  readonly receivedAtMs: number;
  readonly deadlineMs: number;
  readonly resolve: (outcome: InferOutcome) => void;
  readonly reject: (error: PluginError) => void;
  timer: ReturnType<typeof setTimeout> | null;
}

/** One worker place of a version: its current worker and its restart state. */
interface Slot {
  worker: PluginWorker | null;
  readySinceMs: number | null;
  backoffMs: number | null;
  restartTimer: ReturnType<typeof setTimeout> | null;
}

/** The workers of one version. */
interface Generation {
  readonly spec: VersionSpec;
  readonly slots: Slot[];
  stopped: boolean;
  readySinceMs: number | null;
}

/**
 * One plugin name and its serving version.
 *
 * @example
 * ```ts ignore
 * const task = new PluginTask("echo", deps);
 * await task.start(spec);
 * const outcome = await task.infer({ images: [{ bytes, mediaType: "image/png" }] });
 * await task.swap(newSpec); // hot swap; rejects reload_failed and keeps the old one
 * await task.close();
 * ```
 */
export class PluginTask {
  /** The plugin name. */
  readonly name: string;
  readonly #deps: TaskDeps;
  #serving: Generation | null = null;
  readonly #retiring = new Set<Generation>();
  readonly #waiting: Job[] = [];
  #inFlight = 0;
  #reloads = 0;
  #restarts = 0;
  #lastError: { code: string; message: string; atMs: number } | null = null;
  #state: PluginState = "starting";
  #closing = false;
  #swapChain: Promise<unknown> = Promise.resolve();
  readonly #lastFrame: LastFrameKeeper;

  /** A task with nothing loaded yet; {@linkcode PluginTask.start} loads the first version. */
  constructor(name: string, deps: TaskDeps) {
    this.name = name;
    this.#deps = deps;
    this.#lastFrame = new LastFrameKeeper(deps.lastFrame);
  }

  /**
   * The last frame whose result was published, as kept (a copy of at most a few frames per
   * second), or `null` when none was kept yet.
   */
  lastFrame(): LastFrame | null {
    return this.#lastFrame.current();
  }

  /** The serving version's spec (`null` before the first load). */
  get spec(): VersionSpec | null {
    return this.#serving?.spec ?? null;
  }

  /** Frames in workers now. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Frames waiting. */
  get queueDepth(): number {
    return this.#waiting.length;
  }

  /** The status `/v1/plugins` shows. Throws when nothing was ever loaded. */
  status(): PluginStatus {
    const generation = this.#serving;
    if (generation === null) throw new Error(`PluginTask '${this.name}' has no version`);
    const { spec } = generation;
    return {
      name: this.name,
      version: spec.manifest.version,
      manifest: spec.manifest,
      dir: spec.dir,
      state: this.#state,
      readySinceMs: generation.readySinceMs,
      reloads: this.#reloads,
      restarts: this.#restarts,
      lastError: this.#lastError,
      queueDepth: this.#waiting.length,
      queueMax: spec.limits.queueMax,
      inFlight: this.#inFlight,
      concurrency: spec.limits.concurrency,
      threads: spec.limits.threads,
      deadlineMs: spec.limits.deadlineMs,
    };
  }

  /**
   * Loads the first version: every worker started and warm. Rejects with the worker's
   * `load_failed` / `warmup_failed` (nothing is left running).
   */
  async start(spec: VersionSpec): Promise<void> {
    if (this.#serving !== null) throw new Error(`PluginTask '${this.name}' is already started`);
    const version = spec.manifest.version;
    try {
      this.#serving = await this.#startGeneration(spec);
    } catch (error) {
      const failure = error as PluginError;
      this.#note(failure);
      this.#publish("failed", version, failure.message);
      throw failure;
    }
    this.#state = "ready";
    this.#deps.recorder.pluginVersion(this.name, version);
    this.#publish("loaded", version);
    this.#pump();
  }

  /**
   * Hot swap to `spec`: starts its workers beside the serving ones, warms them up, switches
   * new frames to them atomically, lets frames in the old workers finish and stops those
   * cooperatively. On failure the old version keeps serving and this rejects with
   * `reload_failed` (its `cause` is the load or warm-up error). Swaps run one at a time.
   * `spec` may be a function that prepares it (reads the manifest) inside the swap's turn:
   * its failure is a failed swap like any other.
   */
  swap(spec: VersionSpec | (() => Promise<VersionSpec>)): Promise<void> {
    const prepare = typeof spec === "function" ? spec : () => Promise.resolve(spec);
    const run = this.#swapChain.then(() => this.#swap(prepare));
    this.#swapChain = run.catch(() => {});
    return run;
  }

  async #swap(prepare: () => Promise<VersionSpec>): Promise<void> {
    const old = this.#serving;
    if (old === null) throw new Error(`PluginTask '${this.name}' has no version to swap`);
    if (this.#closing) throw this.#shuttingDown();
    let version = "unknown";
    let from = old.spec.dir;
    let next: Generation;
    try {
      const spec = await prepare();
      version = spec.manifest.version;
      from = spec.dir;
      if (spec.manifest.name !== this.name) {
        throw new PluginError(
          "bad_manifest",
          `${spec.dir}/plugin.json names plugin '${spec.manifest.name}', expected '${this.name}'`,
        );
      }
      next = await this.#startGeneration(spec);
    } catch (error) {
      const cause = error as PluginError;
      const failure = new PluginError(
        "reload_failed",
        `Cannot swap plugin '${this.name}' to ${version} from ${from}; ` +
          `${old.spec.manifest.version} keeps serving: ${errorMessage(cause)}`,
        { cause },
      );
      this.#note(failure);
      this.#deps.recorder.reload(this.name, version, false);
      this.#publish("rolled_back", version, failure.message);
      throw failure;
    }
    if (this.#closing) {
      await this.#stopGeneration(next);
      throw this.#shuttingDown();
    }
    // The switch: from here every new dispatch goes to `next`.
    this.#serving = next;
    this.#retiring.add(old);
    this.#reloads++;
    this.#state = "ready";
    this.#deps.recorder.reload(this.name, version, true);
    this.#deps.recorder.pluginVersion(this.name, version);
    this.#publish("swapped", version, `from ${old.spec.manifest.version}`);
    this.#pump();
    await this.#stopGeneration(old);
    this.#retiring.delete(old);
  }

  /**
   * Queues a frame and resolves with its outcome. Rejects with `queue_full` (the frame is
   * counted as dropped), `deadline_exceeded`, `bad_image`, `process_failed`,
   * `plugin_crashed` or `shutting_down`; every rejection but `queue_full` is counted as an
   * error of the task.
   */
  infer(request: InferRequest): Promise<InferOutcome> {
    const generation = this.#serving;
    if (this.#closing || generation === null) return Promise.reject(this.#shuttingDown());
    const { limits } = generation.spec;
    if (this.#waiting.length >= limits.queueMax && this.#idleSlot(generation) === null) {
      this.#deps.recorder.dropped(this.name, "queue_full");
      return Promise.reject(
        new PluginError(
          "queue_full",
          `Cannot queue a frame for plugin '${this.name}': ${this.#waiting.length} frame(s) ` +
            `waiting and ${this.#inFlight} in flight, queueMax ${limits.queueMax}`,
        ),
      );
    }
    const deadlineMs = request.deadlineMs ?? limits.deadlineMs;
    return new Promise<InferOutcome>((resolve, reject) => {
      const job: Job = {
        frameId: this.#deps.nextFrameId(),
        request,
        receivedAtMs: Date.now(),
        deadlineMs,
        resolve,
        reject: (error) => {
          this.#deps.recorder.error(this.name, error.code);
          reject(error);
        },
        timer: null,
      };
      job.timer = setTimeout(() => {
        job.timer = null;
        const index = this.#waiting.indexOf(job);
        if (index < 0) return;
        this.#waiting.splice(index, 1);
        this.#deps.recorder.queueDepth(this.name, this.#waiting.length);
        job.reject(
          new PluginError(
            "deadline_exceeded",
            `Frame ${job.frameId} of plugin '${this.name}' waited past its deadline of ` +
              `${deadlineMs} ms in the queue`,
          ),
        );
      }, deadlineMs);
      this.#waiting.push(job);
      this.#pump();
      this.#deps.recorder.queueDepth(this.name, this.#waiting.length);
    });
  }

  /**
   * Refuses new frames, fails the waiting ones with `shutting_down`, lets in-flight frames
   * finish, and stops every worker cooperatively. Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closing) {
      await this.#swapChain;
      return;
    }
    this.#closing = true;
    this.#state = "stopping";
    for (const job of this.#waiting.splice(0)) {
      if (job.timer !== null) clearTimeout(job.timer);
      job.reject(this.#shuttingDown());
    }
    this.#deps.recorder.queueDepth(this.name, 0);
    await this.#swapChain;
    const generations = [...this.#retiring];
    if (this.#serving !== null) generations.push(this.#serving);
    await Promise.all(generations.map((generation) => this.#stopGeneration(generation)));
    if (this.#serving !== null) {
      this.#deps.recorder.pluginVersion(this.name, null);
      this.#publish("unloaded", this.#serving.spec.manifest.version);
    }
  }

  #shuttingDown(): PluginError {
    return new PluginError(
      "shutting_down",
      `Plugin '${this.name}' is stopping and takes no new frames`,
    );
  }

  #note(error: PluginError): void {
    this.#lastError = { code: error.code, message: error.message, atMs: Date.now() };
    this.#deps.log?.("warn", error.message);
  }

  #publish(action: PluginAction, version: string, message?: string): void {
    this.#deps.events.publish({
      type: "plugin",
      task: this.name,
      action,
      version,
      ...(message === undefined ? {} : { message }),
      atMs: Date.now(),
    });
  }

  #newWorker(generation: Generation, slot: Slot): PluginWorker {
    const { spec } = generation;
    const deps = this.#deps;
    const worker: PluginWorker = new PluginWorker({
      dir: spec.dir,
      manifest: spec.manifest,
      options: spec.options,
      threads: spec.limits.threads,
      kernels: deps.kernels,
      imagePixelsMax: deps.imagePixelsMax,
      ...(deps.permissions === undefined ? {} : { permissions: deps.permissions }),
      ...(deps.stopGraceMs === undefined ? {} : { stopGraceMs: deps.stopGraceMs }),
      ...(deps.startTimeoutMs === undefined ? {} : { startTimeoutMs: deps.startTimeoutMs }),
      onLog: (level, message) =>
        deps.log?.(level, `[${spec.manifest.name} ${spec.manifest.version}] ${message}`),
      onDeath: (error) => this.#onDeath(generation, slot, worker, error),
    });
    return worker;
  }

  /** Starts every worker of a version; on any failure stops the others and rethrows. */
  async #startGeneration(spec: VersionSpec): Promise<Generation> {
    const generation: Generation = { spec, slots: [], stopped: false, readySinceMs: null };
    for (let index = 0; index < spec.limits.concurrency; index++) {
      generation.slots.push({
        worker: null,
        readySinceMs: null,
        backoffMs: null,
        restartTimer: null,
      });
    }
    const starts = generation.slots.map((slot) => {
      slot.worker = this.#newWorker(generation, slot);
      return slot.worker.start().then(() => {
        slot.readySinceMs = Date.now();
      });
    });
    const results = await Promise.allSettled(starts);
    const failed = results.find((result) => result.status === "rejected");
    if (failed !== undefined) {
      await this.#stopGeneration(generation);
      const reason = (failed as PromiseRejectedResult).reason;
      throw reason instanceof PluginError
        ? reason
        : new PluginError("load_failed", errorMessage(reason), { cause: reason });
    }
    generation.readySinceMs = Date.now();
    return generation;
  }

  async #stopGeneration(generation: Generation): Promise<void> {
    generation.stopped = true;
    const stops: Promise<void>[] = [];
    for (const slot of generation.slots) {
      if (slot.restartTimer !== null) {
        clearTimeout(slot.restartTimer);
        slot.restartTimer = null;
      }
      if (slot.worker !== null) stops.push(slot.worker.stop());
    }
    await Promise.all(stops);
  }

  /** A worker died unexpectedly: report it, restart it after a backoff. */
  #onDeath(generation: Generation, slot: Slot, worker: PluginWorker, error: PluginError): void {
    if (slot.worker !== worker) return;
    slot.worker = null;
    const version = generation.spec.manifest.version;
    this.#note(error);
    this.#publish("crashed", version, error.message);
    if (generation.stopped || this.#closing) return;
    const healthyMs = this.#deps.backoff?.healthyMs ?? 10_000;
    const healthy = slot.readySinceMs !== null && Date.now() - slot.readySinceMs >= healthyMs;
    slot.readySinceMs = null;
    slot.backoffMs = nextBackoffMs(healthy ? null : slot.backoffMs, this.#deps.backoff);
    if (generation === this.#serving && this.#readyCount(generation) === 0) {
      this.#state = "restarting";
    }
    this.#scheduleRestart(generation, slot);
  }

  #scheduleRestart(generation: Generation, slot: Slot): void {
    const delayMs = slot.backoffMs ?? nextBackoffMs(null, this.#deps.backoff);
    this.#deps.log?.(
      "info",
      `Restarting a worker of plugin '${this.name}' ${generation.spec.manifest.version} in ${delayMs} ms`,
    );
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (generation.stopped || this.#closing) return;
      const worker = this.#newWorker(generation, slot);
      slot.worker = worker;
      worker.start().then(() => {
        if (slot.worker !== worker) return;
        slot.readySinceMs = Date.now();
        this.#restarts++;
        this.#deps.recorder.restart(this.name);
        this.#publish("restarted", generation.spec.manifest.version);
        if (generation === this.#serving) this.#state = "ready";
        this.#pump();
      }, (error: unknown) => {
        if (slot.worker !== worker) return;
        slot.worker = null;
        this.#note(
          error instanceof PluginError
            ? error
            : new PluginError("load_failed", errorMessage(error)),
        );
        if (generation.stopped || this.#closing) return;
        slot.backoffMs = nextBackoffMs(slot.backoffMs, this.#deps.backoff);
        this.#scheduleRestart(generation, slot);
      });
    }, delayMs);
  }

  #readyCount(generation: Generation): number {
    return generation.slots.filter((slot) => slot.worker?.state === "ready").length;
  }

  #idleSlot(generation: Generation): Slot | null {
    for (const slot of generation.slots) {
      if (slot.worker !== null && slot.worker.state === "ready" && !slot.worker.busy) return slot;
    }
    return null;
  }

  /** Moves waiting frames into idle workers of the serving version, oldest first. */
  #pump(): void {
    const generation = this.#serving;
    if (generation === null || this.#closing) return;
    // Bounded: every pass removes one waiting frame.
    while (this.#waiting.length > 0) {
      const slot = this.#idleSlot(generation);
      if (slot === null) break;
      const job = this.#waiting.shift()!;
      this.#dispatch(generation, slot.worker!, job);
    }
    this.#deps.recorder.queueDepth(this.name, this.#waiting.length);
  }

  #dispatch(generation: Generation, worker: PluginWorker, job: Job): void {
    if (job.timer !== null) {
      clearTimeout(job.timer);
      job.timer = null;
    }
    const dispatchedAtMs = Date.now();
    const remainingMs = Math.max(1, job.receivedAtMs + job.deadlineMs - dispatchedAtMs);
    this.#inFlight++;
    const version = generation.spec.manifest.version;
    // Before worker.infer: it transfers (detaches) the images' buffers.
    this.#lastFrame.offer(job.frameId, job.request.images);
    worker.infer({
      frameId: job.frameId,
      images: job.request.images,
      source: job.request.source ?? "http",
      receivedAtMs: job.receivedAtMs,
    }, { deadlineMs: remainingMs }).then(
      (outcome: WorkerOutcome) => {
        this.#inFlight--;
        const latencyMs = Date.now() - job.receivedAtMs;
        this.#deps.recorder.inference(this.name, latencyMs, outcome.busyMs);
        // Before the event: a subscriber that fetches the frame on it finds this one.
        this.#lastFrame.markProcessed(job.frameId);
        this.#deps.events.publish({
          type: "result",
          task: this.name,
          version,
          frameId: job.frameId,
          source: job.request.source ?? "http",
          latencyMs,
          data: outcome.result.data,
          images: Object.keys(outcome.result.images ?? {}),
          atMs: Date.now(),
        });
        job.resolve({
          task: this.name,
          version,
          frameId: job.frameId,
          result: outcome.result,
          latencyMs,
          queuedMs: dispatchedAtMs - job.receivedAtMs,
        });
        this.#pump();
      },
      (error: unknown) => {
        this.#inFlight--;
        this.#lastFrame.drop(job.frameId);
        job.reject(
          error instanceof PluginError
            ? error
            : new PluginError("process_failed", errorMessage(error), { cause: error }),
        );
        this.#pump();
      },
    );
  }
}
