/**
 * Test doubles for the source tests: a {@linkcode TaskHost} that records frames and can
 * hold them, a counting {@linkcode TaskRecorder}, and a test-pattern video made by ffmpeg.
 *
 * @module
 */

import type { PluginManifest } from "../sdk/plugin.ts";
import type {
  EncodedFrameImage,
  InferOutcome,
  InferRequest,
  LastFrame,
  PluginStatus,
  TaskHost,
} from "../host/types.ts";
import type { TaskRecorder } from "../telemetry/recorder.ts";

/** A manifest for a plugin named `name` with the given input. */
export function testManifest(
  name: string,
  input: PluginManifest["input"],
  frames: 1 | 2 = 1,
): PluginManifest {
  return {
    name,
    version: "1.0.0",
    task: "custom",
    apiVersion: 1,
    entry: "mod.ts",
    models: {},
    input,
    frames,
  };
}

/**
 * A host serving the given manifests: `infer` records each request's images (their bytes
 * copied, as a worker would receive them) and resolves at once, or, while `hold()` is in
 * effect, waits until `release()`.
 */
export class RecordingHost implements TaskHost {
  readonly requests: { task: string; source: string | undefined; images: EncodedFrameImage[] }[] =
    [];
  readonly started = true;
  readonly #manifests: Map<string, PluginManifest>;
  #gate: Promise<void> | null = null;
  #open: (() => void) | null = null;
  #failWith: Error | null = null;

  constructor(manifests: PluginManifest[]) {
    this.#manifests = new Map(manifests.map((m) => [m.name, m]));
  }

  /** Makes every following `infer` wait until {@linkcode RecordingHost.release}. */
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  /** Lets held and future requests finish. */
  release(): void {
    this.#open?.();
    this.#gate = null;
    this.#open = null;
  }

  /** Makes every following `infer` reject with `error` (after recording the request). */
  failWith(error: Error | null): void {
    this.#failWith = error;
  }

  /** Removes a plugin, as an unload would. */
  remove(name: string): void {
    this.#manifests.delete(name);
  }

  list(): PluginStatus[] {
    return [...this.#manifests.keys()].map((name) => this.get(name)!);
  }

  /** This host keeps no frames. */
  lastFrame(): LastFrame | null {
    return null;
  }

  get(name: string): PluginStatus | undefined {
    const manifest = this.#manifests.get(name);
    if (manifest === undefined) return undefined;
    return {
      name,
      version: manifest.version,
      manifest,
      dir: `/plugins/${name}`,
      state: "ready",
      readySinceMs: 0,
      reloads: 0,
      restarts: 0,
      lastError: null,
      queueDepth: 0,
      queueMax: 4,
      inFlight: 0,
      concurrency: 1,
      threads: 1,
      deadlineMs: 1000,
    };
  }

  load(_dir: string): Promise<PluginStatus> {
    return Promise.reject(new Error("RecordingHost does not load plugins"));
  }

  reload(_name: string): Promise<PluginStatus> {
    return Promise.reject(new Error("RecordingHost does not reload plugins"));
  }

  unload(name: string): Promise<void> {
    this.remove(name);
    return Promise.resolve();
  }

  async infer(name: string, request: InferRequest): Promise<InferOutcome> {
    const images = request.images.map((image) => ({ ...image, bytes: image.bytes.slice() }));
    this.requests.push({ task: name, source: request.source, images });
    if (this.#gate !== null) await this.#gate;
    if (this.#failWith !== null) throw this.#failWith;
    if (!this.#manifests.has(name)) {
      throw Object.assign(new Error(`plugin '${name}' is not loaded`), {
        code: "plugin_not_found",
      });
    }
    return {
      task: name,
      version: "1.0.0",
      frameId: this.requests.length,
      result: { data: null },
      latencyMs: 0,
      queuedMs: 0,
    };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/** A recorder that counts latest-wins drops per task and ignores the rest. */
export class CountingRecorder implements TaskRecorder {
  readonly drops = new Map<string, number>();
  inference(): void {}
  error(): void {}
  dropped(task: string, reason: "queue_full" | "latest_wins", count = 1): void {
    if (reason === "latest_wins") this.drops.set(task, (this.drops.get(task) ?? 0) + count);
  }
  queueDepth(): void {}
  reload(): void {}
  pluginVersion(): void {}
  restart(): void {}
}

/**
 * Makes sure the Debian ffmpeg is installed (through scripts/system_packages.sh) and
 * fails, rather than skips, when it cannot be.
 */
export async function requireFfmpeg(): Promise<void> {
  const root = new URL("../../", import.meta.url).pathname;
  const setup = await new Deno.Command("bash", {
    args: [`${root}scripts/system_packages.sh`, "ffmpeg"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (!setup.success) {
    throw new Error("ffmpeg is missing and scripts/system_packages.sh could not install it");
  }
}

/** Writes a `seconds`-long testsrc video (MPEG-4 in a .mkv) of `size` at 30 fps into `dir`. */
export async function makeTestVideo(
  dir: string,
  options: { size?: string; seconds?: number } = {},
): Promise<string> {
  const path = `${dir}/testsrc.mkv`;
  const result = await new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-nostdin",
      "-loglevel",
      "error",
      "-f",
      "lavfi",
      "-i",
      `testsrc=size=${options.size ?? "64x48"}:rate=30`,
      "-t",
      String(options.seconds ?? 2),
      "-c:v",
      "mpeg4",
      "-q:v",
      "3",
      path,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new Error(
      `ffmpeg could not make a test video: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
  return path;
}

/** Polls `condition` every 5 ms until it holds; throws after `timeoutMs` (default 10 s). */
export async function waitFor(
  condition: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Whether `path` exists (e.g. `/proc/<pid>` of a child that should be gone). */
export { exists } from "../telemetry/power/sysfs.ts";
