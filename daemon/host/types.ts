/**
 * The plugin host as the HTTP layer and the sources see it.
 *
 * @module
 */

import type { PluginManifest, PluginResult } from "../sdk/plugin.ts";

/** One image of a request, still encoded (decoding happens in the plugin's worker). */
export interface EncodedFrameImage {
  /** The body bytes; transferred to the worker (the caller must not reuse them). */
  readonly bytes: Uint8Array;
  /**
   * `image/png`, `image/jpeg`, `image/x-portable-pixmap` (PPM/PGM, also
   * `image/x-portable-graymap`), or `application/octet-stream` for a raw u8 HWC tensor
   * whose `shape` must be given.
   */
  readonly mediaType: string;
  /** Raw tensors only: `[height, width, channels]` with channels 1 or 3. */
  readonly shape?: readonly [number, number, number];
}

/** A frame to run. */
export interface InferRequest {
  /** `manifest.frames` images. */
  readonly images: readonly EncodedFrameImage[];
  /** `http` or a source name. Default `http`. */
  readonly source?: string;
  /** Overrides the plugin's deadline for this frame, ms. */
  readonly deadlineMs?: number;
}

/** The answer to an {@linkcode InferRequest}. */
export interface InferOutcome {
  readonly task: string;
  /** Plugin version that served it. */
  readonly version: string;
  readonly frameId: number;
  readonly result: PluginResult;
  /** Receipt to result. */
  readonly latencyMs: number;
  /** Time spent waiting in the queue. */
  readonly queuedMs: number;
}

/** One image of a kept frame: a copy of the bytes the plugin got, still encoded. */
export interface LastFrameImage {
  /** A private copy (the request's own buffer went to the worker). Never mutated. */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** As in {@linkcode EncodedFrameImage.mediaType}. */
  readonly mediaType: string;
  /** Raw tensors only: `[height, width, channels]`. */
  readonly shape?: readonly [number, number, number];
}

/** The last frame of a task whose result was published (see host/last_frame.ts). */
export interface LastFrame {
  /** The daemon-wide frame number, as in the `result` event of that frame. */
  readonly frameId: number;
  /** The frame's images, in request order. */
  readonly images: readonly LastFrameImage[];
  /** `Date.now()` when its result was published. */
  readonly atMs: number;
}

/** Where a plugin instance is in its life. */
export type PluginState = "starting" | "ready" | "restarting" | "failed" | "stopping";

/** A loaded plugin as `/v1/plugins` shows it. */
export interface PluginStatus {
  readonly name: string;
  readonly version: string;
  readonly manifest: PluginManifest;
  /** Absolute folder path of the serving version. */
  readonly dir: string;
  readonly state: PluginState;
  /** `Date.now()` when the serving version became ready. */
  readonly readySinceMs: number | null;
  /** Hot swaps that took, since the plugin was first loaded. */
  readonly reloads: number;
  /** Worker restarts after crashes or hangs. */
  readonly restarts: number;
  /** The last failure (a rolled-back version, a crash, a hang). */
  readonly lastError:
    | { readonly code: string; readonly message: string; readonly atMs: number }
    | null;
  readonly queueDepth: number;
  readonly queueMax: number;
  readonly inFlight: number;
  readonly concurrency: number;
  /** Kernel threads of each worker of this plugin. */
  readonly threads: number;
  readonly deadlineMs: number;
}

/** Options of a load or reload. */
export interface LoadOptions {
  /** Plugin folder; for a reload, default: the folder the plugin was loaded from. */
  readonly dir?: string;
}

/**
 * Plugins by name, their workers, queues and hot swaps. Errors are `PluginError`s with
 * stable codes (see host/errors.ts).
 */
export interface TaskHost {
  /** Every loaded plugin, by name. */
  list(): PluginStatus[];
  /** One plugin, or `undefined`. */
  get(name: string): PluginStatus | undefined;
  /** Loads the plugin in `dir` (name from its manifest); resolves once it serves. */
  load(dir: string): Promise<PluginStatus>;
  /**
   * Hot swap: starts the version in `options.dir` (default: the same folder, re-read)
   * beside the serving one, warms it up, switches, drains and stops the old one. On failure
   * the old version keeps serving and the promise rejects with `reload_failed`.
   */
  reload(name: string, options?: LoadOptions): Promise<PluginStatus>;
  /** Stops accepting, finishes in-flight work and stops the workers. */
  unload(name: string): Promise<void>;
  /** Queues a frame; rejects with `queue_full`, `deadline_exceeded`, `bad_image`, ... */
  infer(name: string, request: InferRequest): Promise<InferOutcome>;
  /**
   * The last processed frame of plugin `name` (a kept copy, at most a few per second), or
   * `null` when none was kept yet. Throws `plugin_not_found`.
   */
  lastFrame(name: string): LastFrame | null;
  /** True once every configured plugin has been tried (ready or failed). */
  readonly started: boolean;
  /** Refuses new work, finishes in-flight work, stops every worker. */
  close(): Promise<void>;
}
