/**
 * The messages between the host (main thread, {@linkcode PluginWorker}) and a plugin
 * worker (`worker_main.ts`). Bytes cross by transfer, never by copy.
 *
 * Host → worker: `init` once, then `infer` one frame at a time (the host never sends a
 * second before the answer to the first), then `stop`.
 * Worker → host: `ready` or `init_failed` after `init`; `result` or `failed` for each
 * `infer`; `log` at any time; `fatal` when the plugin left an uncaught error (the host then
 * terminates the worker); `stopped` after `stop`, as its last message.
 *
 * @module
 */

import type { PluginManifest, PluginResult } from "../sdk/plugin.ts";
import type { EncodedFrameImage } from "./types.ts";

/** A failure as it crosses the worker boundary: a stable code and a message. */
export interface WireError {
  readonly code: string;
  readonly message: string;
}

/** Starts the plugin: open kernels, import the entry, `setup`, warm up. */
export interface InitMessage {
  readonly type: "init";
  /** Absolute plugin folder. */
  readonly dir: string;
  readonly manifest: PluginManifest;
  /** Resolved option values. */
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /** Kernel threads of this worker's context. */
  readonly threads: number;
  /**
   * CPU level (`null`: detect), library folder, and `/proc/cpuinfo` as the main thread read
   * it: a worker cannot read `/proc` without `--allow-all`, so the host reads it.
   */
  readonly kernels: {
    readonly level: string | null;
    readonly libDir: string | null;
    readonly cpuinfo: string;
  };
  /** Largest decoded image, pixels. */
  readonly imagePixelsMax: number;
}

/** Runs one frame. */
export interface InferMessage {
  readonly type: "infer";
  readonly frameId: number;
  readonly images: readonly EncodedFrameImage[];
  readonly source: string;
  readonly receivedAtMs: number;
}

/** Finish the frame in progress, tear down, close the kernels, answer `stopped`. */
export interface StopMessage {
  readonly type: "stop";
}

/** Host → worker. */
export type HostMessage = InitMessage | InferMessage | StopMessage;

/** The plugin is set up and warmed up. */
export interface ReadyMessage {
  readonly type: "ready";
  /** CPU level of the loaded kernel library. */
  readonly level: string;
  /** Threads of the kernel context. */
  readonly threads: number;
  /** `simd` or `scalar`. */
  readonly variant: string;
  /** Time of the warm-up frame, ms. */
  readonly warmupMs: number;
}

/** The plugin could not start (`load_failed`, `warmup_failed`, `bad_manifest`). */
export interface InitFailedMessage {
  readonly type: "init_failed";
  readonly error: WireError;
}

/** The answer to an `infer`. */
export interface ResultMessage {
  readonly type: "result";
  readonly frameId: number;
  readonly result: PluginResult;
  /** Decode + fit + process time in the worker, ms. */
  readonly busyMs: number;
}

/** An `infer` that failed (`bad_image`, `process_failed`). The worker keeps serving. */
export interface FailedMessage {
  readonly type: "failed";
  readonly frameId: number;
  readonly error: WireError;
  readonly busyMs: number;
}

/** A log line of the plugin (`ctx.log`) or of the worker. */
export interface LogMessage {
  readonly type: "log";
  readonly level: "debug" | "info" | "warn" | "error";
  readonly message: string;
}

/** The plugin left an uncaught error or rejection; the worker is no longer trustworthy. */
export interface FatalMessage {
  readonly type: "fatal";
  readonly error: WireError;
}

/** The last message of a worker after `stop`. */
export interface StoppedMessage {
  readonly type: "stopped";
}

/** Worker → host. */
export type WorkerMessage =
  | ReadyMessage
  | InitFailedMessage
  | ResultMessage
  | FailedMessage
  | LogMessage
  | FatalMessage
  | StoppedMessage;
