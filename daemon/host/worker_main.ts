/**
 * The entry of a plugin worker (one Web Worker per plugin instance). It speaks the protocol
 * of `protocol.ts`: on `init` it opens the kernel library and one kernel context, imports
 * the plugin's entry, runs `setup` and a warm-up frame, and answers `ready`; then it runs
 * `infer` frames one at a time (decode and fit in here, never on the main thread); on `stop`
 * it finishes the frame in progress, calls `teardown`, destroys the context, closes the
 * library, answers `stopped` and closes itself.
 *
 * FFI calls are synchronous, so while this worker runs plugin code no kernel call is ever
 * pending between tasks: the host may terminate it at any time (a hang) without the Deno
 * crash that terminating a worker with a pending `nonblocking` call causes.
 *
 * @module
 */

/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { pathToFileURL } from "node:url";
import { KernelContext, type KernelLibrary, openKernels } from "../kernels/library.ts";
import { isCpuLevel } from "../kernels/cpu_level.ts";
import { decodeImage, fitImage, MediaError, testPattern } from "../media/mod.ts";
import { readModel } from "../runtime/model_file.ts";
import { ModelInstance, type ModelInstanceOptions } from "../runtime/executor.ts";
import type { Image } from "../sdk/image.ts";
import type {
  Frame,
  LogLevel,
  Plugin,
  PluginContext,
  PluginManifest,
  PluginResult,
} from "../sdk/plugin.ts";
import { errorMessage } from "./errors.ts";
import type {
  HostMessage,
  InferMessage,
  InitMessage,
  WireError,
  WorkerMessage,
} from "./protocol.ts";
import type { EncodedFrameImage } from "./types.ts";

/** Media types of self-test images, by file extension. */
const SELFTEST_MEDIA_TYPES: Readonly<Record<string, string>> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  ppm: "image/x-portable-pixmap",
  pgm: "image/x-portable-graymap",
  pnm: "image/x-portable-anymap",
};

/** Frame id of the warm-up frame (real frames start at 1). */
const SELFTEST_FRAME_ID = 0;

interface Loaded {
  readonly plugin: Plugin;
  readonly ctx: PluginContext;
  readonly lib: KernelLibrary;
  readonly kernels: KernelContext;
  readonly manifest: PluginManifest;
  readonly imagePixelsMax: number;
}

let loaded: Loaded | null = null;
/** Every message is handled after the previous one finished: frames never overlap. */
let chain: Promise<void> = Promise.resolve();
let stopping = false;
let dead = false;

function post(message: WorkerMessage, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

function wire(code: string, error: unknown): WireError {
  return { code, message: errorMessage(error) };
}

function log(level: LogLevel, message: string): void {
  post({ type: "log", level, message });
}

/** The plugin object a module default-exports, checked. */
function pluginOf(module: Record<string, unknown>, entry: string): Plugin {
  const plugin = module.default as Partial<Plugin> | undefined;
  if (typeof plugin !== "object" || plugin === null) {
    throw new Error(`${entry} has no default export object (export default definePlugin({...}))`);
  }
  if (typeof plugin.setup !== "function" || typeof plugin.process !== "function") {
    throw new Error(`${entry}'s default export lacks setup() or process()`);
  }
  if (plugin.teardown !== undefined && typeof plugin.teardown !== "function") {
    throw new Error(`${entry}'s default export has a teardown that is not a function`);
  }
  return plugin as Plugin;
}

class FrameError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Builds the frame `process` receives. Throws `FrameError` `bad_image`. */
function buildFrame(message: InferMessage, state: Loaded): Frame {
  const expected = state.manifest.frames ?? 1;
  if (message.images.length !== expected) {
    throw new FrameError(
      "bad_image",
      `Plugin '${state.manifest.name}' takes ${expected} image(s) per frame, got ` +
        `${message.images.length}`,
    );
  }
  const images: Image[] = [];
  const originalSizes: { width: number; height: number }[] = [];
  for (let index = 0; index < message.images.length; index++) {
    let decoded: Image;
    try {
      decoded = decodeImage(message.images[index], { pixelsMax: state.imagePixelsMax });
      originalSizes.push({ width: decoded.width, height: decoded.height });
      const { input } = state.manifest;
      images.push(fitImage(decoded, {
        width: input.width,
        height: input.height,
        channels: input.channels,
        mode: input.resize ?? "stretch",
      }));
    } catch (error) {
      if (error instanceof MediaError) {
        const which = message.images.length > 1 ? `image ${index}: ` : "";
        throw new FrameError("bad_image", `${which}${error.message}`, { cause: error });
      }
      throw error;
    }
  }
  return Object.freeze({
    id: message.frameId,
    images: Object.freeze(images),
    originalSizes: Object.freeze(originalSizes),
    source: message.source,
    receivedAtMs: message.receivedAtMs,
  });
}

/** Checks what `process` returned; returns the buffers to transfer. */
function checkResult(result: unknown, name: string): ArrayBuffer[] {
  if (typeof result !== "object" || result === null || !("data" in result)) {
    throw new Error(`process() of '${name}' returned ${String(result)}, expected { data }`);
  }
  const images = (result as PluginResult).images;
  const buffers = new Set<ArrayBuffer>();
  if (images === undefined) return [];
  for (const [key, image] of Object.entries(images)) {
    if (!(image?.bytes instanceof Uint8Array) || typeof image.mediaType !== "string") {
      throw new Error(
        `process() of '${name}' returned image '${key}' without { mediaType, bytes: Uint8Array }`,
      );
    }
    if (image.bytes.buffer instanceof ArrayBuffer) buffers.add(image.bytes.buffer);
  }
  return [...buffers];
}

async function runFrame(message: InferMessage): Promise<void> {
  const state = loaded;
  const start = performance.now();
  if (state === null) {
    post({
      type: "failed",
      frameId: message.frameId,
      error: { code: "load_failed", message: "The plugin is not loaded" },
      busyMs: 0,
    });
    return;
  }
  let frame: Frame;
  try {
    frame = buildFrame(message, state);
  } catch (error) {
    const code = error instanceof FrameError ? error.code : "process_failed";
    post({
      type: "failed",
      frameId: message.frameId,
      error: wire(code, error),
      busyMs: performance.now() - start,
    });
    return;
  }
  try {
    const result = await state.plugin.process(frame, state.ctx);
    const transfer = checkResult(result, state.manifest.name);
    post(
      { type: "result", frameId: message.frameId, result, busyMs: performance.now() - start },
      transfer,
    );
  } catch (error) {
    post({
      type: "failed",
      frameId: message.frameId,
      error: {
        code: "process_failed",
        message: `Plugin '${state.manifest.name}' ${state.manifest.version} failed on frame ` +
          `${message.frameId}: ${errorMessage(error)}`,
      },
      busyMs: performance.now() - start,
    });
  }
}

/** The warm-up frame: the manifest's self-test image, or a test pattern. */
async function selftestImages(init: InitMessage): Promise<EncodedFrameImage[]> {
  const { manifest, dir } = init;
  const count = manifest.frames ?? 1;
  const images: EncodedFrameImage[] = [];
  for (let index = 0; index < count; index++) {
    if (manifest.selftest !== undefined) {
      const extension = manifest.selftest.split(".").at(-1)?.toLowerCase() ?? "";
      const mediaType = SELFTEST_MEDIA_TYPES[extension] ?? "application/octet-stream";
      images.push({ bytes: await Deno.readFile(`${dir}/${manifest.selftest}`), mediaType });
    } else {
      const { width, height, channels } = manifest.input;
      const pattern = testPattern(width, height, channels);
      images.push({
        bytes: pattern.data,
        mediaType: "application/octet-stream",
        shape: [pattern.height, pattern.width, pattern.channels],
      });
    }
  }
  return images;
}

async function init(message: InitMessage): Promise<void> {
  const { manifest, dir } = message;
  const who = `plugin '${manifest.name}' ${manifest.version}`;
  let lib: KernelLibrary | null = null;
  let kernels: KernelContext | null = null;
  let plugin: Plugin | null = null;
  let phase = "open the kernel library";
  try {
    const level = message.kernels.level;
    if (level !== null && !isCpuLevel(level)) throw new Error(`'${level}' is not a CPU level`);
    lib = openKernels({
      ...(level === null ? {} : { level }),
      ...(message.kernels.libDir === null ? {} : { libDir: message.kernels.libDir }),
      cpuinfo: message.kernels.cpuinfo,
    });
    phase = "create its kernel context";
    kernels = new KernelContext(lib, { threads: message.threads });
    phase = `import ${manifest.entry}`;
    const module = await import(pathToFileURL(`${dir}/${manifest.entry}`).href);
    plugin = pluginOf(module, manifest.entry);
    const kernelContext = kernels;
    const kernelLibrary = lib;
    const ctx: PluginContext = Object.freeze({
      manifest,
      options: Object.freeze({ ...message.options }),
      dir,
      library: kernelLibrary,
      kernels: kernelContext,
      async loadModel(name?: string, options?: ModelInstanceOptions): Promise<ModelInstance> {
        const names = Object.keys(manifest.models);
        const key = name ?? names[0];
        if (key === undefined || !Object.hasOwn(manifest.models, key)) {
          throw new Error(
            `${who} has no model '${name ?? "(default)"}' (its models: ${
              names.length === 0 ? "none" : names.join(", ")
            })`,
          );
        }
        const model = await readModel(`${dir}/${manifest.models[key]}`);
        return new ModelInstance(model, kernelContext, options);
      },
      log(level: LogLevel, text: string): void {
        log(level, text);
      },
    });
    phase = "run setup()";
    await plugin.setup(ctx);
    loaded = { plugin, ctx, lib, kernels, manifest, imagePixelsMax: message.imagePixelsMax };
  } catch (error) {
    loaded = null;
    // setup may have taken resources; teardown is its pair.
    await safeTeardown(plugin);
    kernels?.destroy();
    lib?.close();
    post({
      type: "init_failed",
      error: {
        code: "load_failed",
        message: `Cannot load ${who}: cannot ${phase}: ${errorMessage(error)}`,
      },
    });
    return;
  }
  const state = loaded;
  const start = performance.now();
  try {
    const frame = buildFrame({
      type: "infer",
      frameId: SELFTEST_FRAME_ID,
      images: await selftestImages(message),
      source: "selftest",
      receivedAtMs: Date.now(),
    }, state);
    const result = await state.plugin.process(frame, state.ctx);
    checkResult(result, manifest.name);
  } catch (error) {
    loaded = null;
    await safeTeardown(plugin);
    state.kernels.destroy();
    state.lib.close();
    post({
      type: "init_failed",
      error: {
        code: "warmup_failed",
        message: `Cannot warm up ${who} on its self-test frame: ${errorMessage(error)}`,
      },
    });
    return;
  }
  post({
    type: "ready",
    level: state.lib.level,
    threads: state.kernels.threads,
    variant: state.kernels.variant,
    warmupMs: performance.now() - start,
  });
}

async function safeTeardown(plugin: Plugin | null): Promise<void> {
  if (plugin?.teardown === undefined) return;
  try {
    await plugin.teardown();
  } catch (error) {
    log("warn", `teardown() threw: ${errorMessage(error)}`);
  }
}

async function stop(): Promise<void> {
  const state = loaded;
  loaded = null;
  if (state !== null) {
    await safeTeardown(state.plugin);
    state.kernels.destroy();
    state.lib.close();
  }
  post({ type: "stopped" });
  self.close();
}

/** An uncaught error of plugin code: report it, free the kernels, await termination. */
function fatal(error: unknown): void {
  if (dead) return;
  dead = true;
  const state = loaded;
  loaded = null;
  // Between tasks no FFI call is running, so destroying the context here is safe; the
  // runtime reads the context handle on every call, so a late run throws instead of crashing.
  try {
    state?.kernels.destroy();
    state?.lib.close();
  } catch {
    // The host terminates this worker next; the library is also pinned by the host.
  }
  post({ type: "fatal", error: wire("plugin_crashed", error) });
}

self.addEventListener("error", (event: ErrorEvent) => {
  event.preventDefault();
  fatal(event.error ?? event.message);
});

self.addEventListener("unhandledrejection", (event: PromiseRejectionEvent) => {
  event.preventDefault();
  fatal(event.reason);
});

self.onmessage = (event: MessageEvent<HostMessage>) => {
  const message = event.data;
  if (dead || stopping) return;
  if (message.type === "stop") stopping = true;
  chain = chain.then(async () => {
    if (dead) return;
    switch (message.type) {
      case "init":
        await init(message);
        return;
      case "infer":
        await runFrame(message);
        return;
      case "stop":
        await stop();
        return;
    }
  }).catch((error) => fatal(error));
};
