/**
 * The plugin contract (DESIGN.md section 5), version {@linkcode PLUGIN_API_VERSION}.
 *
 * A plugin is a folder holding `plugin.json` (a {@linkcode PluginManifest}) and the module it
 * names as `entry`, whose default export is a {@linkcode Plugin}. The daemon runs each plugin
 * instance in its own Web Worker with its own kernel context: `setup` once, then `process`
 * for every frame (never two at once in one instance), then `teardown` when the instance is
 * stopped or replaced by a new version.
 *
 * @example
 * ```ts ignore
 * import { definePlugin } from "../../daemon/sdk/mod.ts";
 *
 * let model: ModelInstance;
 * export default definePlugin({
 *   async setup(ctx) {
 *     model = await ctx.loadModel("model");
 *   },
 *   process(frame, ctx) {
 *     // fill model inputs from frame.images[0], model.run(), read the outputs
 *     return { data: { width: frame.images[0].width } };
 *   },
 * });
 * ```
 *
 * @module
 */

import type { KernelContext, KernelLibrary } from "../kernels/library.ts";
import type { ModelInstance, ModelInstanceOptions } from "../runtime/executor.ts";
import type { EncodedImage, Image, ImageChannels } from "./image.ts";

/** The version of this contract; a manifest's `apiVersion` must equal it. */
export const PLUGIN_API_VERSION = 1;

/** The task families the daemon knows; `custom` is anything else. */
export type TaskKind = "classify" | "detect" | "segment" | "match" | "superres" | "custom";

/** Every {@linkcode TaskKind}. */
export const TASK_KINDS: readonly TaskKind[] = Object.freeze([
  "classify",
  "detect",
  "segment",
  "match",
  "superres",
  "custom",
]);

/** A JSON value: what a plugin's result data and options are made of. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | readonly JsonValue[]
  | { readonly [key: string]: JsonValue };

/** How a frame is fitted to the plugin's input size before `process`. */
export type ResizeMode = "stretch" | "letterbox" | "none";

/** One option a plugin accepts (`options` in the manifest). */
export interface PluginOptionSpec {
  /** JSON type of the value. */
  readonly type: "number" | "integer" | "boolean" | "string";
  /** Used when the config gives no value. */
  readonly default: number | boolean | string;
  /** Inclusive bounds for numbers. */
  readonly minimum?: number;
  readonly maximum?: number;
  /** Allowed values for strings. */
  readonly enum?: readonly string[];
  /** What the option does. */
  readonly description?: string;
}

/** `plugin.json`. */
export interface PluginManifest {
  /** Task name the daemon serves it under: `[a-z][a-z0-9_-]{0,39}`. */
  readonly name: string;
  /** Semantic version `MAJOR.MINOR.PATCH`. */
  readonly version: string;
  /** Task family. */
  readonly task: TaskKind;
  /** Must equal {@linkcode PLUGIN_API_VERSION}. */
  readonly apiVersion: number;
  /** Module file, relative to the folder, default-exporting a {@linkcode Plugin}. */
  readonly entry: string;
  /** Model files by name, relative to the folder (`{ "model": "model.safetensors" }`). */
  readonly models: Readonly<Record<string, string>>;
  /** The image size `process` receives. */
  readonly input: {
    readonly width: number;
    readonly height: number;
    readonly channels: ImageChannels;
    /** Default `stretch`. `none` passes the decoded image through at its own size. */
    readonly resize?: ResizeMode;
  };
  /** Images per frame `process` expects: 1, or 2 for a pair (matching). Default 1. */
  readonly frames?: 1 | 2;
  /** Options with their defaults; the daemon config may override values per plugin. */
  readonly options?: Readonly<Record<string, PluginOptionSpec>>;
  /** Image file in the folder used for the warm-up run; default: a synthetic test pattern. */
  readonly selftest?: string;
  /** One-line description. */
  readonly description?: string;
}

/** A frame as `process` receives it: decoded and fitted to the manifest's input. */
export interface Frame {
  /** Daemon-wide increasing frame number. */
  readonly id: number;
  /** `manifest.frames` images (usually one), each at the manifest's input size. */
  readonly images: readonly Image[];
  /** Size of each image before fitting, to map results back to it. */
  readonly originalSizes: readonly { readonly width: number; readonly height: number }[];
  /** Where it came from: `http`, a source name, or `selftest`. */
  readonly source: string;
  /** `Date.now()` when the daemon received it. */
  readonly receivedAtMs: number;
}

/** What `process` returns. */
export interface PluginResult {
  /** Result data, sent to the caller and to subscribers as JSON. */
  readonly data: JsonValue;
  /** Encoded images by name (a PNG mask, an upscaled picture). */
  readonly images?: Readonly<Record<string, EncodedImage>>;
}

/** Log levels of {@linkcode PluginContext.log}. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** What the host gives a plugin instance. */
export interface PluginContext {
  /** The validated manifest. */
  readonly manifest: PluginManifest;
  /** Option values: the manifest defaults with the config's overrides, validated. */
  readonly options: Readonly<Record<string, number | boolean | string>>;
  /** Absolute path of the plugin folder. */
  readonly dir: string;
  /** The kernel library of this worker. */
  readonly library: KernelLibrary;
  /** This instance's kernel context (its thread share of the daemon's budget). */
  readonly kernels: KernelContext;
  /**
   * Loads the model file the manifest names `name` (default: the first one), validates it
   * and binds it to {@linkcode PluginContext.kernels}. Throws a `ModelError` for a bad file.
   */
  loadModel(name?: string, options?: ModelInstanceOptions): Promise<ModelInstance>;
  /** Writes a line to the daemon's log, tagged with the plugin name and version. */
  log(level: LogLevel, message: string): void;
}

/** The object a plugin module default-exports. */
export interface Plugin {
  /** Prepares the instance (load models, allocate buffers). Throwing fails the load. */
  setup(ctx: PluginContext): void | Promise<void>;
  /** Handles one frame. Throwing fails that frame only. */
  process(frame: Frame, ctx: PluginContext): PluginResult | Promise<PluginResult>;
  /** Releases what `setup` took; called once before the worker stops. */
  teardown?(): void | Promise<void>;
}

/**
 * Returns `plugin` unchanged, typed: the identity that lets an editor check a plugin
 * object literal against {@linkcode Plugin}.
 */
export function definePlugin(plugin: Plugin): Plugin {
  return plugin;
}
