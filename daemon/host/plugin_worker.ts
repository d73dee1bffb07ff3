/**
 * The main-thread handle of one plugin worker: {@linkcode PluginWorker} starts
 * `worker_main.ts` in a Web Worker with restricted permissions, sends it frames one at a
 * time with a deadline, notices when it dies, and stops it cooperatively.
 *
 * Restricted worker permissions (`deno.permissions` in the Worker options) are still an
 * unstable API in Deno 2.9.6: the daemon process needs `--unstable-worker-options` (or
 * `"unstable": ["worker-options"]` in deno.json). Without it Deno 2.9.6 exits the whole
 * process at the first Worker constructor ("Unstable API 'Worker.deno.permissions'"), so
 * the flag is a hard requirement of the daemon and its tests; `permissions: "inherit"`
 * avoids the unstable option (no restriction) for embedders that cannot pass it.
 *
 * What the worker may do: read the plugin folder, the kernel library folder, the daemon's
 * own source folder (modules the plugin imports, e.g. the SDK or the runtime); use FFI
 * (unscoped: Deno's pointer API refuses a path-scoped grant, and the kernel context handle
 * is a pointer); read the `ONEBIT_CPU_LEVEL` and `ONEBIT_LIB_DIR` variables. No network,
 * no subprocesses, no writes, no other environment. `/proc/cpuinfo` is read by the host
 * and passed in: Deno refuses `/proc` to anything short of `--allow-all`.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { readCpuinfo } from "../kernels/cpu_level.ts";
import type { PluginManifest, PluginResult } from "../sdk/plugin.ts";
import { errorMessage, isPluginErrorCode, PluginError, type PluginErrorCode } from "./errors.ts";
import type { HostMessage, ReadyMessage, WireError, WorkerMessage } from "./protocol.ts";
import type { EncodedFrameImage } from "./types.ts";

/** Options of {@linkcode PluginWorker}. */
export interface PluginWorkerOptions {
  /** Absolute plugin folder. */
  readonly dir: string;
  /** Its validated manifest. */
  readonly manifest: PluginManifest;
  /** Resolved option values. */
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /** Kernel threads of the worker's context (≥ 1). */
  readonly threads: number;
  /**
   * Forced CPU level (`null`: detect), the folder of the libraries (absolute), and the
   * `/proc/cpuinfo` text (default: read here once, as workers cannot read `/proc`).
   */
  readonly kernels: {
    readonly level: string | null;
    readonly libDir: string;
    readonly cpuinfo?: string;
  };
  /** Largest decoded image, pixels. */
  readonly imagePixelsMax: number;
  /** `restricted` (default) or `inherit` (the daemon's own permissions; tests, debugging). */
  readonly permissions?: "restricted" | "inherit";
  /** Time allowed for load + setup + warm-up, ms. Default 60 000. */
  readonly startTimeoutMs?: number;
  /** Time a cooperative stop may take before the worker is terminated, ms. Default 5 000. */
  readonly stopGraceMs?: number;
  /** Log lines of the plugin. Default: dropped. */
  readonly onLog?: (level: "debug" | "info" | "warn" | "error", message: string) => void;
  /**
   * Called once when a started worker dies without being asked to stop: an uncaught error
   * (`plugin_crashed`) or a frame past its deadline (`deadline_exceeded`, the worker is
   * terminated because a hung worker can only be terminated).
   */
  readonly onDeath?: (error: PluginError) => void;
}

/** A frame for {@linkcode PluginWorker.infer}. */
export interface WorkerJob {
  readonly frameId: number;
  /** Encoded images; their buffers are transferred to the worker. */
  readonly images: readonly EncodedFrameImage[];
  readonly source: string;
  readonly receivedAtMs: number;
}

/** What a frame produced. */
export interface WorkerOutcome {
  readonly result: PluginResult;
  /** Decode + fit + process time in the worker, ms. */
  readonly busyMs: number;
}

/** What the worker reported when it became ready. */
export type WorkerReady = Omit<ReadyMessage, "type">;

/** Life of a {@linkcode PluginWorker}. */
export type PluginWorkerState = "new" | "starting" | "ready" | "stopping" | "dead";

interface Pending {
  readonly frameId: number;
  readonly resolve: (outcome: WorkerOutcome) => void;
  readonly reject: (error: PluginError) => void;
  readonly timer: ReturnType<typeof setTimeout>;
}

/** The repository's `daemon/` folder, readable by workers for the modules plugins import. */
const DAEMON_DIR = fileURLToPath(new URL("../", import.meta.url));

let cpuinfoCache: string | undefined;

/** `/proc/cpuinfo` of this machine, read once ("" when unreadable: the library checks). */
function hostCpuinfo(): string {
  cpuinfoCache ??= readCpuinfo();
  return cpuinfoCache;
}

/** The flag (or deno.json `unstable` entry) restricted worker permissions need. */
export const WORKER_OPTIONS_FLAG = "--unstable-worker-options";

function toPluginError(error: WireError, fallback: PluginErrorCode): PluginError {
  return new PluginError(isPluginErrorCode(error.code) ? error.code : fallback, error.message);
}

/** The permissions a plugin worker gets (see the module doc). */
export function workerPermissions(
  dir: string,
  libDir: string,
): Deno.PermissionOptionsObject {
  return {
    // Deno refuses /proc to anything short of --allow-all: the host passes cpuinfo instead.
    read: [dir, libDir, DAEMON_DIR],
    // Deno.UnsafePointer (the kernel context handle) needs unscoped ffi: a path list makes
    // ob_ctx_create's pointer unusable ("Requires ffi access").
    ffi: true,
    env: ["ONEBIT_CPU_LEVEL", "ONEBIT_LIB_DIR"],
    net: false,
    run: false,
    write: false,
    sys: false,
    import: false,
  };
}

/**
 * One plugin instance in its own worker. Not reentrant by design: one frame at a time
 * (`busy`); the task queues the rest.
 *
 * @example
 * ```ts ignore
 * const worker = new PluginWorker({ dir, manifest, options: {}, threads: 1,
 *   kernels: { level: null, libDir }, imagePixelsMax: 1 << 24 });
 * await worker.start();
 * const { result } = await worker.infer(
 *   { frameId: 1, images: [{ bytes, mediaType: "image/png" }], source: "http", receivedAtMs: Date.now() },
 *   { deadlineMs: 1000 },
 * );
 * await worker.stop();
 * ```
 */
export class PluginWorker {
  /** The manifest the worker runs. */
  readonly manifest: PluginManifest;
  /** Its folder. */
  readonly dir: string;
  readonly #options: PluginWorkerOptions;
  #worker: Worker | null = null;
  #state: PluginWorkerState = "new";
  #pending: Pending | null = null;
  #ready: WorkerReady | null = null;
  #startWaiter: { resolve: (ready: WorkerReady) => void; reject: (e: PluginError) => void } | null =
    null;
  #stopWaiter: (() => void) | null = null;
  #stopPromise: Promise<void> | null = null;

  /** Prepares the handle; {@linkcode PluginWorker.start} starts the worker. */
  constructor(options: PluginWorkerOptions) {
    if (!Number.isInteger(options.threads) || options.threads < 1) {
      throw new RangeError(`PluginWorker: threads is ${options.threads}, expected an integer ≥ 1`);
    }
    this.#options = options;
    this.manifest = options.manifest;
    this.dir = options.dir;
  }

  /** Where the worker is in its life. */
  get state(): PluginWorkerState {
    return this.#state;
  }

  /** True while a frame is in the worker. */
  get busy(): boolean {
    return this.#pending !== null;
  }

  /** What the worker reported at ready (`null` before). */
  get ready(): WorkerReady | null {
    return this.#ready;
  }

  get #who(): string {
    return `plugin '${this.manifest.name}' ${this.manifest.version}`;
  }

  /**
   * Starts the worker: kernels, import, `setup`, warm-up. Resolves once it serves; rejects
   * with `load_failed` or `warmup_failed` (the worker is then gone).
   */
  start(): Promise<WorkerReady> {
    if (this.#state !== "new") {
      return Promise.reject(new Error(`PluginWorker.start: state is ${this.#state}, expected new`));
    }
    this.#state = "starting";
    const options = this.#options;
    const restricted = (options.permissions ?? "restricted") === "restricted";
    try {
      this.#worker = new Worker(import.meta.resolve("./worker_main.ts"), {
        type: "module",
        name: `plugin ${this.manifest.name}@${this.manifest.version}`,
        ...(restricted
          ? { deno: { permissions: workerPermissions(options.dir, options.kernels.libDir) } }
          : {}),
      } as WorkerOptions);
    } catch (error) {
      this.#state = "dead";
      const hint = /unstable/i.test(errorMessage(error))
        ? ` (run the daemon with ${WORKER_OPTIONS_FLAG})`
        : "";
      return Promise.reject(
        new PluginError(
          "load_failed",
          `Cannot start a worker for ${this.#who}: ${errorMessage(error)}${hint}`,
          {
            cause: error,
          },
        ),
      );
    }
    const worker = this.#worker;
    worker.onmessage = (event: MessageEvent<WorkerMessage>) => this.#onMessage(event.data);
    worker.onerror = (event: ErrorEvent) => {
      // Without preventDefault an error in the worker would also be raised in this thread.
      event.preventDefault();
      this.#die(
        new PluginError("plugin_crashed", `The worker of ${this.#who} crashed: ${event.message}`),
      );
    };
    worker.onmessageerror = () => {
      this.#die(
        new PluginError(
          "plugin_crashed",
          `The worker of ${this.#who} sent a message that cannot be read`,
        ),
      );
    };
    const startTimeoutMs = options.startTimeoutMs ?? 60_000;
    return new Promise<WorkerReady>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#die(
          new PluginError(
            "load_failed",
            `Cannot load ${this.#who}: not ready after ${startTimeoutMs} ms`,
          ),
        );
      }, startTimeoutMs);
      this.#startWaiter = {
        resolve: (ready) => {
          clearTimeout(timer);
          resolve(ready);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.#post({
        type: "init",
        dir: options.dir,
        manifest: options.manifest,
        options: options.options,
        threads: options.threads,
        kernels: {
          level: options.kernels.level,
          libDir: options.kernels.libDir,
          cpuinfo: options.kernels.cpuinfo ?? hostCpuinfo(),
        },
        imagePixelsMax: options.imagePixelsMax,
      });
    });
  }

  /**
   * Runs one frame. Rejects with `bad_image` or `process_failed` (the worker keeps
   * serving), `deadline_exceeded` after `deadlineMs` (the worker is terminated: it may be
   * stuck in a synchronous loop), `plugin_crashed` when the worker dies meanwhile, or
   * `shutting_down` when it is not serving.
   */
  infer(job: WorkerJob, options: { deadlineMs: number }): Promise<WorkerOutcome> {
    if (this.#state !== "ready") {
      return Promise.reject(
        new PluginError(
          "shutting_down",
          `The worker of ${this.#who} is ${this.#state}, not serving`,
        ),
      );
    }
    if (this.#pending !== null) {
      return Promise.reject(
        new Error(`PluginWorker.infer: frame ${this.#pending.frameId} is still in the worker`),
      );
    }
    const deadlineMs = Math.max(0, options.deadlineMs);
    return new Promise<WorkerOutcome>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#die(
          new PluginError(
            "deadline_exceeded",
            `Frame ${job.frameId} of ${this.#who} was not done within its deadline of ` +
              `${deadlineMs} ms; the worker is restarted`,
          ),
        );
      }, deadlineMs);
      this.#pending = { frameId: job.frameId, resolve, reject, timer };
      const transfer = new Set<ArrayBuffer>();
      for (const image of job.images) {
        if (image.bytes.buffer instanceof ArrayBuffer) transfer.add(image.bytes.buffer);
      }
      this.#post({ type: "infer", ...job }, [...transfer]);
    });
  }

  /**
   * Stops cooperatively: the frame in progress finishes, `teardown` runs, the kernel
   * context is destroyed and the library closed in the worker, which answers `stopped`; only
   * then is it terminated. A worker that does not answer within the grace period is
   * terminated (its frame, if any, fails with `plugin_crashed`). Idempotent.
   */
  stop(): Promise<void> {
    if (this.#stopPromise !== null) return this.#stopPromise;
    if (this.#state === "dead" || this.#state === "new" || this.#worker === null) {
      this.#state = "dead";
      this.#stopPromise = Promise.resolve();
      return this.#stopPromise;
    }
    this.#state = "stopping";
    const graceMs = this.#options.stopGraceMs ?? 5_000;
    this.#stopPromise = new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#die(
          new PluginError(
            "plugin_crashed",
            `The worker of ${this.#who} did not stop within ${graceMs} ms`,
          ),
          { silent: true },
        );
        resolve();
      }, graceMs);
      this.#stopWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.#post({ type: "stop" });
    });
    return this.#stopPromise;
  }

  /** Terminates the worker at once (a hang, or shutdown after the grace period). */
  terminate(reason = "terminated"): void {
    this.#die(new PluginError("shutting_down", `The worker of ${this.#who} was ${reason}`), {
      silent: true,
    });
  }

  #post(message: HostMessage, transfer: Transferable[] = []): void {
    try {
      this.#worker?.postMessage(message, transfer);
    } catch (error) {
      this.#die(
        new PluginError(
          "plugin_crashed",
          `Cannot send to the worker of ${this.#who}: ${errorMessage(error)}`,
        ),
      );
    }
  }

  #onMessage(message: WorkerMessage): void {
    switch (message.type) {
      case "ready": {
        if (this.#state !== "starting") return;
        const { type: _type, ...ready } = message;
        this.#ready = ready;
        this.#state = "ready";
        const waiter = this.#startWaiter;
        this.#startWaiter = null;
        waiter?.resolve(ready);
        return;
      }
      case "init_failed":
        this.#die(toPluginError(message.error, "load_failed"), { silent: true });
        return;
      case "result":
      case "failed": {
        const pending = this.#pending;
        if (pending === null || pending.frameId !== message.frameId) return;
        this.#pending = null;
        clearTimeout(pending.timer);
        if (message.type === "result") {
          pending.resolve({ result: message.result, busyMs: message.busyMs });
        } else {
          pending.reject(toPluginError(message.error, "process_failed"));
        }
        return;
      }
      case "log":
        this.#options.onLog?.(message.level, message.message);
        return;
      case "fatal":
        this.#die(
          new PluginError(
            "plugin_crashed",
            `The worker of ${this.#who} crashed: uncaught ${message.error.message}`,
          ),
        );
        return;
      case "stopped": {
        this.#finish();
        const waiter = this.#stopWaiter;
        this.#stopWaiter = null;
        waiter?.();
        return;
      }
    }
  }

  /** Terminates and settles everything; reports an unexpected death once. */
  #die(error: PluginError, options: { silent?: boolean } = {}): void {
    if (this.#state === "dead") return;
    const wasServing = this.#state === "ready";
    const wasStarting = this.#state === "starting";
    this.#finish();
    const pending = this.#pending;
    this.#pending = null;
    if (pending !== null) {
      clearTimeout(pending.timer);
      pending.reject(error);
    }
    const startWaiter = this.#startWaiter;
    this.#startWaiter = null;
    if (wasStarting) {
      startWaiter?.reject(
        error.code === "plugin_crashed"
          ? new PluginError("load_failed", `Cannot load ${this.#who}: ${error.message}`, {
            cause: error,
          })
          : error,
      );
    }
    const stopWaiter = this.#stopWaiter;
    this.#stopWaiter = null;
    stopWaiter?.();
    if (wasServing && !options.silent) this.#options.onDeath?.(error);
  }

  #finish(): void {
    this.#state = "dead";
    const worker = this.#worker;
    this.#worker = null;
    worker?.terminate();
  }
}
