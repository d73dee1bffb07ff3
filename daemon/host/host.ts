/**
 * The plugin host: {@linkcode PluginHost} loads the configured plugins, shares the kernel
 * thread budget among them, routes frames to their tasks, hot-swaps them (HTTP, SIGHUP,
 * folder watch) and stops them.
 *
 * The host keeps the kernel library mapped in the main thread for its whole life (no
 * kernel call is ever made here): a worker that is terminated (a hang, a crash) drops its
 * own handle of the library without the chance to stop its context's pool threads, and the
 * host's handle keeps the code those threads sleep in from being unmapped.
 *
 * @module
 */

import { resolve } from "node:path";
import type { Config, PluginLimits } from "../config/types.ts";
import type { EventBus } from "../events.ts";
import { readCpuinfo } from "../kernels/cpu_level.ts";
import { defaultLibDir, type KernelLibrary, openKernels, THREADS_MAX } from "../kernels/library.ts";
import { isCpuLevel } from "../kernels/cpu_level.ts";
import type { PluginManifest } from "../sdk/plugin.ts";
import type { TaskRecorder } from "../telemetry/recorder.ts";
import { errorMessage, PluginError } from "./errors.ts";
import { MANIFEST_FILE, readManifest, resolveOptions } from "./manifest.ts";
import { type BackoffOptions, PluginTask, type VersionSpec } from "./task.ts";
import type {
  InferOutcome,
  InferRequest,
  LastFrame,
  LoadOptions,
  PluginStatus,
  TaskHost,
} from "./types.ts";

/** Log levels of the host's log function. */
export type HostLogLevel = "debug" | "info" | "warn" | "error";

/** Options of {@linkcode PluginHost}. */
export interface PluginHostOptions {
  /** The validated daemon config. */
  readonly config: Config;
  /** Folder `plugins.dir` is relative to. Default: the current directory. */
  readonly configDir?: string;
  readonly recorder: TaskRecorder;
  readonly events: EventBus;
  /** Log lines. Default: dropped. */
  readonly log?: (level: HostLogLevel, message: string) => void;
  /** Worker permissions. Default `restricted` (needs `--unstable-worker-options`). */
  readonly permissions?: "restricted" | "inherit";
  /** Restart backoff (defaults in task.ts: 100 ms doubling to 30 s, reset after 10 s). */
  readonly backoff?: BackoffOptions;
  /** Grace of a cooperative worker stop, ms. Default 5 000. */
  readonly stopGraceMs?: number;
}

/** One plugin's claim on the thread budget. */
export interface ThreadClaim {
  readonly name: string;
  /** Workers of the plugin. */
  readonly concurrency: number;
  /** Threads per worker it asks for; 0 = an even share. */
  readonly threads: number;
}

/**
 * Kernel threads per worker of each plugin: an explicit `threads` is kept; the budget left
 * after those is split evenly among the workers of the others (rounded down). Every worker
 * gets at least 1 and at most `THREADS_MAX`, so the sum stays within `budget` unless there
 * are more workers than threads, or explicit claims already exceed it.
 *
 * @example
 * ```ts
 * import { threadShares } from "./host.ts";
 * const shares = threadShares(8, [
 *   { name: "a", concurrency: 1, threads: 2 },
 *   { name: "b", concurrency: 1, threads: 0 },
 *   { name: "c", concurrency: 2, threads: 0 },
 * ]);
 * console.log(shares.get("a"), shares.get("b"), shares.get("c")); // 2 2 2
 * ```
 */
export function threadShares(budget: number, claims: readonly ThreadClaim[]): Map<string, number> {
  if (!Number.isInteger(budget) || budget < 1) {
    throw new RangeError(`threadShares: budget is ${budget}, expected an integer ≥ 1`);
  }
  let explicit = 0;
  let autoWorkers = 0;
  for (const claim of claims) {
    if (claim.threads > 0) explicit += claim.threads * claim.concurrency;
    else autoWorkers += claim.concurrency;
  }
  const share = autoWorkers === 0
    ? 1
    : Math.max(1, Math.floor(Math.max(0, budget - explicit) / autoWorkers));
  const shares = new Map<string, number>();
  for (const claim of claims) {
    const threads = claim.threads > 0 ? claim.threads : share;
    shares.set(claim.name, Math.min(Math.max(1, threads), THREADS_MAX));
  }
  return shares;
}

/** What {@linkcode PluginHost.startConfigured} and {@linkcode PluginHost.reloadAll} did. */
export interface LoadReport {
  /** Plugins now serving (loaded, or swapped). */
  readonly ok: string[];
  /** Folders or names that failed, with the error. */
  readonly failed: { readonly target: string; readonly code: string; readonly message: string }[];
}

/**
 * Plugins by name, on top of {@linkcode PluginTask}s.
 *
 * @example
 * ```ts ignore
 * const host = new PluginHost({ config, configDir: "configs", recorder, events });
 * const report = await host.startConfigured();
 * const outcome = await host.infer("detect", { images: [{ bytes, mediaType: "image/jpeg" }] });
 * await host.close();
 * ```
 */
export class PluginHost implements TaskHost {
  #config: Config;
  readonly #options: PluginHostOptions;
  readonly #tasks = new Map<string, PluginTask>();
  /** Names being loaded (reserved so two loads of one name cannot race). */
  readonly #loading = new Set<string>();
  #started = false;
  #closing = false;
  #frameId = 0;
  #pin: KernelLibrary | null = null;
  #cpuinfo: string | null = null;
  #watcher: Deno.FsWatcher | null = null;
  #watchLoop: Promise<void> | null = null;
  readonly #debounce = new Map<string, ReturnType<typeof setTimeout>>();
  readonly #watchWork = new Set<Promise<unknown>>();
  /** Loads in progress, awaited by close(). */
  readonly #loads = new Set<Promise<unknown>>();

  /** A host with nothing loaded; {@linkcode PluginHost.startConfigured} loads the config's plugins. */
  constructor(options: PluginHostOptions) {
    this.#options = options;
    this.#config = options.config;
  }

  /** True once every configured plugin has been tried. */
  get started(): boolean {
    return this.#started;
  }

  /** Absolute `plugins.dir`. */
  get pluginsDir(): string {
    return resolve(this.#options.configDir ?? Deno.cwd(), this.#config.plugins.dir);
  }

  /** The CPU level of the kernel library the workers load (`null` before the first load). */
  get kernelLevel(): string | null {
    return this.#pin?.level ?? null;
  }

  /** Kernel thread budget: `config.threads`, or every core when 0. */
  get threadBudget(): number {
    return this.#config.threads > 0
      ? this.#config.threads
      : Math.max(1, navigator.hardwareConcurrency);
  }

  #log(level: HostLogLevel, message: string): void {
    this.#options.log?.(level, message);
  }

  /** Every loaded plugin, by name order. */
  list(): PluginStatus[] {
    return [...this.#tasks.values()].filter((task) => task.spec !== null)
      .map((task) => task.status()).sort((a, b) => a.name.localeCompare(b.name));
  }

  /** One plugin, or `undefined`. */
  get(name: string): PluginStatus | undefined {
    const task = this.#tasks.get(name);
    return task?.spec ? task.status() : undefined;
  }

  /** Limits of plugin `name`: the defaults with its overrides (threads not yet resolved). */
  limitsOf(name: string): PluginLimits {
    const { defaults, overrides } = this.#config.plugins;
    const override = Object.hasOwn(overrides, name) ? overrides[name] : {};
    return {
      concurrency: override.concurrency ?? defaults.concurrency,
      queueMax: override.queueMax ?? defaults.queueMax,
      deadlineMs: override.deadlineMs ?? defaults.deadlineMs,
      threads: override.threads ?? defaults.threads,
    };
  }

  /**
   * Threads per worker of `name` when it joins the plugins loaded now (and `others` about
   * to be loaded): see {@linkcode threadShares}.
   */
  threadsFor(name: string, others: readonly string[] = []): number {
    const names = new Set([...this.#tasks.keys(), ...this.#loading, ...others, name]);
    const claims = [...names].map((each) => {
      const limits = this.limitsOf(each);
      return { name: each, concurrency: limits.concurrency, threads: limits.threads };
    });
    return threadShares(this.threadBudget, claims).get(name)!;
  }

  /** Opens (once) the kernel library the workers will load, and keeps it mapped. */
  #kernels(): { level: string | null; libDir: string; cpuinfo: string } {
    const { level, libDir } = this.#config.kernels;
    const dir = libDir === null
      ? defaultLibDir()
      : resolve(this.#options.configDir ?? Deno.cwd(), libDir);
    if (this.#pin === null) {
      if (level !== null && !isCpuLevel(level)) {
        throw new PluginError(
          "load_failed",
          `Cannot load kernels: kernels.level '${level}' is not a CPU level`,
        );
      }
      try {
        this.#pin = openKernels({ ...(level === null ? {} : { level }), libDir: dir });
      } catch (error) {
        throw new PluginError("load_failed", `Cannot load kernels: ${errorMessage(error)}`, {
          cause: error,
        });
      }
      this.#cpuinfo = readCpuinfo();
    }
    // Workers load exactly the level the host pinned.
    return { level: this.#pin.level, libDir: dir, cpuinfo: this.#cpuinfo ?? "" };
  }

  async #spec(dir: string, others: readonly string[] = []): Promise<VersionSpec> {
    const manifest: PluginManifest = await readManifest(dir);
    const { overrides } = this.#config.plugins;
    const override = Object.hasOwn(overrides, manifest.name) ? overrides[manifest.name] : {};
    const options = resolveOptions(manifest, override.options ?? {});
    const limits = {
      ...this.limitsOf(manifest.name),
      threads: this.threadsFor(manifest.name, others),
    };
    return { dir, manifest, options, limits };
  }

  #newTask(name: string): PluginTask {
    const kernels = this.#kernels();
    return new PluginTask(name, {
      recorder: this.#options.recorder,
      events: this.#options.events,
      kernels,
      imagePixelsMax: this.#config.limits.imagePixelsMax,
      nextFrameId: () => ++this.#frameId,
      ...(this.#options.permissions === undefined
        ? {}
        : { permissions: this.#options.permissions }),
      ...(this.#options.backoff === undefined ? {} : { backoff: this.#options.backoff }),
      ...(this.#options.stopGraceMs === undefined
        ? {}
        : { stopGraceMs: this.#options.stopGraceMs }),
      log: (level, message) => this.#log(level, message),
    });
  }

  /**
   * Loads the plugin in `dir` (absolute, or relative to `plugins.dir`); resolves once it
   * serves. Throws `plugin_not_found`, `plugin_exists`, `bad_manifest`, `bad_options`,
   * `load_failed`, `warmup_failed` or `shutting_down`.
   */
  load(dir: string): Promise<PluginStatus> {
    return this.#load(dir);
  }

  #load(dir: string, others: readonly string[] = []): Promise<PluginStatus> {
    const load = this.#loadNow(dir, others);
    const tracked = load.catch(() => {}).finally(() => this.#loads.delete(tracked));
    this.#loads.add(tracked);
    return load;
  }

  async #loadNow(dir: string, others: readonly string[]): Promise<PluginStatus> {
    if (this.#closing) {
      throw new PluginError("shutting_down", `Cannot load ${dir}: the host is closing`);
    }
    const folder = resolve(this.pluginsDir, dir);
    let spec: VersionSpec;
    try {
      spec = await this.#spec(folder, others);
    } catch (error) {
      this.#options.events.publish({
        type: "plugin",
        task: folder.split("/").at(-1) ?? folder,
        action: "failed",
        version: "unknown",
        message: errorMessage(error),
        atMs: Date.now(),
      });
      throw error;
    }
    const { name } = spec.manifest;
    if (this.#tasks.has(name) || this.#loading.has(name)) {
      throw new PluginError(
        "plugin_exists",
        `Cannot load ${folder}: plugin '${name}' is already loaded (reload it instead)`,
      );
    }
    this.#loading.add(name);
    try {
      const task = this.#newTask(name);
      await task.start(spec);
      if (this.#closing) {
        await task.close();
        throw new PluginError("shutting_down", `Cannot load ${folder}: the host is closing`);
      }
      this.#tasks.set(name, task);
      this.#log("info", `Loaded plugin '${name}' ${spec.manifest.version} from ${folder}`);
      return task.status();
    } finally {
      this.#loading.delete(name);
    }
  }

  /**
   * Hot swap of plugin `name` from `options.dir` (default: its folder, re-read). Rejects
   * `plugin_not_found` or `reload_failed` (the old version keeps serving).
   */
  async reload(name: string, options: LoadOptions = {}): Promise<PluginStatus> {
    const task = this.#task(name);
    const dir = options.dir === undefined ? task.spec!.dir : resolve(this.pluginsDir, options.dir);
    await task.swap(() => this.#spec(dir));
    this.#log("info", `Swapped plugin '${name}' to ${task.spec!.manifest.version} from ${dir}`);
    return task.status();
  }

  /** Stops plugin `name` (in-flight frames finish) and forgets it. Throws `plugin_not_found`. */
  async unload(name: string): Promise<void> {
    const task = this.#task(name);
    this.#tasks.delete(name);
    await task.close();
    this.#log("info", `Unloaded plugin '${name}'`);
  }

  /** Runs a frame on plugin `name` (see {@linkcode PluginTask.infer}). */
  infer(name: string, request: InferRequest): Promise<InferOutcome> {
    if (this.#closing) {
      return Promise.reject(new PluginError("shutting_down", "The plugin host is closing"));
    }
    const task = this.#tasks.get(name);
    if (task === undefined) {
      return Promise.reject(
        new PluginError(
          "plugin_not_found",
          `No plugin '${name}' is loaded (loaded: ${this.#names()})`,
        ),
      );
    }
    return task.infer(request);
  }

  /**
   * The last processed frame of plugin `name` (see {@linkcode PluginTask.lastFrame}), or
   * `null` when none was kept yet. Throws `plugin_not_found`.
   */
  lastFrame(name: string): LastFrame | null {
    return this.#task(name).lastFrame();
  }

  #names(): string {
    const names = [...this.#tasks.keys()].sort();
    return names.length === 0 ? "none" : names.join(", ");
  }

  #task(name: string): PluginTask {
    const task = this.#tasks.get(name);
    if (task === undefined) {
      throw new PluginError(
        "plugin_not_found",
        `No plugin '${name}' is loaded (loaded: ${this.#names()})`,
      );
    }
    return task;
  }

  /** Plugin folders of `plugins.dir` holding a plugin.json, sorted. */
  async discover(): Promise<string[]> {
    const folders: string[] = [];
    try {
      for await (const entry of Deno.readDir(this.pluginsDir)) {
        if (!entry.isDirectory) continue;
        try {
          const info = await Deno.stat(`${this.pluginsDir}/${entry.name}/${MANIFEST_FILE}`);
          if (info.isFile) folders.push(entry.name);
        } catch {
          // Not a plugin folder.
        }
      }
    } catch (error) {
      this.#log("error", `Cannot list plugins.dir ${this.pluginsDir}: ${errorMessage(error)}`);
    }
    return folders.sort();
  }

  /**
   * Loads `plugins.load` (`"*"`: every folder of `plugins.dir` with a plugin.json), one
   * after another; a plugin that fails is logged and reported and the others still load.
   * Then starts the watch when `plugins.watch`. Sets {@linkcode PluginHost.started}.
   */
  async startConfigured(): Promise<LoadReport> {
    const report: LoadReport = { ok: [], failed: [] };
    const { load } = this.#config.plugins;
    const folders = load.includes("*") ? await this.discover() : [...load];
    // Names are folder names here; the budget counts every configured plugin from the start.
    const others = folders.map((folder) => folder.split("/").at(-1) ?? folder);
    for (const folder of folders) {
      try {
        const status = await this.#load(folder, others);
        report.ok.push(status.name);
      } catch (error) {
        const code = error instanceof PluginError ? error.code : "load_failed";
        report.failed.push({ target: folder, code, message: errorMessage(error) });
        this.#log("error", `Cannot load plugin folder '${folder}': ${errorMessage(error)}`);
      }
    }
    this.#started = true;
    if (this.#config.plugins.watch) this.#startWatch();
    return report;
  }

  /** Hot-swaps every loaded plugin from its folder (SIGHUP). Failures keep the old version. */
  async reloadAll(): Promise<LoadReport> {
    const report: LoadReport = { ok: [], failed: [] };
    for (const name of [...this.#tasks.keys()].sort()) {
      try {
        await this.reload(name);
        report.ok.push(name);
      } catch (error) {
        const code = error instanceof PluginError ? error.code : "reload_failed";
        report.failed.push({ target: name, code, message: errorMessage(error) });
      }
    }
    return report;
  }

  /**
   * Adopts a new config: limits, options and thread shares take effect at each plugin's
   * next swap; the watch follows `plugins.watch` and `plugins.dir` now.
   */
  async applyConfig(config: Config): Promise<void> {
    const previous = this.#config;
    this.#config = config;
    const watchChanged = previous.plugins.watch !== config.plugins.watch ||
      previous.plugins.dir !== config.plugins.dir;
    if (watchChanged && this.#started) {
      await this.#stopWatch();
      if (config.plugins.watch) this.#startWatch();
    }
  }

  #startWatch(): void {
    if (this.#watcher !== null || this.#closing) return;
    const root = this.pluginsDir;
    try {
      this.#watcher = Deno.watchFs(root, { recursive: true });
    } catch (error) {
      this.#log("error", `Cannot watch ${root}: ${errorMessage(error)}`);
      return;
    }
    const watcher = this.#watcher;
    this.#watchLoop = (async () => {
      try {
        for await (const event of watcher) {
          for (const path of event.paths) this.#onChange(root, path);
        }
      } catch (error) {
        if (!this.#closing) {
          this.#log("error", `The watch on ${root} ended: ${errorMessage(error)}`);
        }
      }
    })();
  }

  async #stopWatch(): Promise<void> {
    const watcher = this.#watcher;
    this.#watcher = null;
    if (watcher !== null) {
      try {
        watcher.close();
      } catch {
        // Already closed.
      }
    }
    await this.#watchLoop;
    this.#watchLoop = null;
    for (const timer of this.#debounce.values()) clearTimeout(timer);
    this.#debounce.clear();
  }

  /** A path changed under `root`: debounce per plugin folder, then reload or load it. */
  #onChange(root: string, path: string): void {
    if (!path.startsWith(`${root}/`)) return;
    const folderName = path.slice(root.length + 1).split("/")[0];
    if (folderName === "" || folderName.startsWith(".")) return;
    const folder = `${root}/${folderName}`;
    const existing = this.#debounce.get(folder);
    if (existing !== undefined) clearTimeout(existing);
    this.#debounce.set(
      folder,
      setTimeout(() => {
        this.#debounce.delete(folder);
        const work = this.#onFolderSettled(folder).finally(() => this.#watchWork.delete(work));
        this.#watchWork.add(work);
      }, this.#config.plugins.watchDebounceMs),
    );
  }

  async #onFolderSettled(folder: string): Promise<void> {
    if (this.#closing) return;
    const task = [...this.#tasks.values()].find((each) => each.spec?.dir === folder);
    try {
      if (task !== undefined) {
        await this.reload(task.name);
      } else {
        try {
          await Deno.stat(`${folder}/${MANIFEST_FILE}`);
        } catch {
          return;
        }
        await this.load(folder);
      }
    } catch (error) {
      this.#log("warn", `Watch: ${errorMessage(error)}`);
    }
  }

  /** Stops the watch, refuses new work, finishes in-flight work, stops every worker. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await this.#stopWatch();
    await Promise.allSettled([...this.#watchWork]);
    const tasks = [...this.#tasks.values()];
    this.#tasks.clear();
    await Promise.all(tasks.map((task) => task.close()));
    // Loads in progress see #closing and close their own task.
    await Promise.allSettled([...this.#loads]);
    const pin = this.#pin;
    this.#pin = null;
    pin?.close();
  }
}
