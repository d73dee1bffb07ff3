/**
 * Helpers of the host tests: temp copies of the fixture plugins (with their models
 * generated and their version or code edited), a recording {@linkcode TaskRecorder}, and
 * encoded test images.
 *
 * @module
 */

import { MQTT_CONFIG_DEFAULTS } from "../fleet/config.ts";
import { fileURLToPath } from "node:url";
import { encodePng, testPattern } from "../media/mod.ts";
import type { Config } from "../config/types.ts";
import type { TaskRecorder } from "../telemetry/recorder.ts";
import type { EncodedFrameImage } from "./types.ts";
import { writeTinyModel } from "../../test/fixtures/plugins/make_models.ts";

/** The folder of the fixture plugins. */
export const FIXTURES_DIR = fileURLToPath(new URL("../../test/fixtures/plugins", import.meta.url));

/** Options of {@linkcode copyFixture}. */
export interface CopyFixtureOptions {
  /** Folder name of the copy. Default: the fixture's name. */
  as?: string;
  /** Replaces `version` in the copy's plugin.json. */
  version?: string;
  /** Replaces `name` in the copy's plugin.json. */
  name?: string;
  /** Takes `mod.ts` from this other fixture (a broken version of a good plugin). */
  codeFrom?: string;
  /** Merged into the copy's plugin.json. */
  manifest?: Record<string, unknown>;
}

/**
 * Copies fixture `fixture` into `root` (the tiny model generated into it) and returns the
 * copy's absolute folder.
 */
export async function copyFixture(
  root: string,
  fixture: string,
  options: CopyFixtureOptions = {},
): Promise<string> {
  const dir = `${root}/${options.as ?? fixture}`;
  await Deno.mkdir(dir, { recursive: true });
  const source = `${FIXTURES_DIR}/${fixture}`;
  for await (const entry of Deno.readDir(source)) {
    if (!entry.isFile || entry.name === "plugin.json" || entry.name.startsWith(".")) continue;
    if (entry.name === "mod.ts" && options.codeFrom !== undefined) continue;
    await Deno.copyFile(`${source}/${entry.name}`, `${dir}/${entry.name}`);
  }
  if (options.codeFrom !== undefined) {
    await Deno.copyFile(`${FIXTURES_DIR}/${options.codeFrom}/mod.ts`, `${dir}/mod.ts`);
  }
  const manifest = JSON.parse(await Deno.readTextFile(`${source}/plugin.json`));
  if (options.version !== undefined) manifest.version = options.version;
  if (options.name !== undefined) manifest.name = options.name;
  Object.assign(manifest, options.manifest ?? {});
  if (fixture === "tiny") await writeTinyModel(dir);
  // Written last and atomically: a watcher never sees a half-written manifest.
  await Deno.writeTextFile(`${dir}/plugin.json.tmp`, JSON.stringify(manifest, null, 2));
  await Deno.rename(`${dir}/plugin.json.tmp`, `${dir}/plugin.json`);
  return dir;
}

/** Every call a {@linkcode RecordingRecorder} received. */
export interface RecordedCalls {
  inference: { task: string; latencyMs: number; busyMs: number }[];
  error: { task: string; code: string }[];
  dropped: { task: string; reason: string; count: number }[];
  queueDepth: { task: string; depth: number }[];
  reload: { task: string; version: string; ok: boolean }[];
  pluginVersion: { task: string; version: string | null }[];
  restart: { task: string }[];
}

/** A {@linkcode TaskRecorder} that keeps every call, for assertions. */
export class RecordingRecorder implements TaskRecorder {
  /** The calls so far. */
  readonly calls: RecordedCalls = {
    inference: [],
    error: [],
    dropped: [],
    queueDepth: [],
    reload: [],
    pluginVersion: [],
    restart: [],
  };
  /** Records an inference. */
  inference(task: string, latencyMs: number, busyMs: number): void {
    this.calls.inference.push({ task, latencyMs, busyMs });
  }
  /** Records an error. */
  error(task: string, code: string): void {
    this.calls.error.push({ task, code });
  }
  /** Records a drop. */
  dropped(task: string, reason: "queue_full" | "latest_wins", count = 1): void {
    this.calls.dropped.push({ task, reason, count });
  }
  /** Records a queue depth. */
  queueDepth(task: string, depth: number): void {
    this.calls.queueDepth.push({ task, depth });
  }
  /** Records a reload. */
  reload(task: string, version: string, ok: boolean): void {
    this.calls.reload.push({ task, version, ok });
  }
  /** Records a version change. */
  pluginVersion(task: string, version: string | null): void {
    this.calls.pluginVersion.push({ task, version });
  }
  /** Records a restart. */
  restart(task: string): void {
    this.calls.restart.push({ task });
  }
}

/** A PNG of the test pattern (fresh bytes every call: they get transferred). */
export function pngImage(width: number, height: number, channels: 1 | 3 = 3): EncodedFrameImage {
  return { bytes: encodePng(testPattern(width, height, channels)), mediaType: "image/png" };
}

/** A raw u8 HWC image filled with `value`. */
export function rawImage(
  width: number,
  height: number,
  channels: 1 | 3,
  value: number,
): EncodedFrameImage {
  return {
    bytes: new Uint8Array(width * height * channels).fill(value),
    mediaType: "application/octet-stream",
    shape: [height, width, channels],
  };
}

/** Resolves when `check()` is true, polling every 10 ms; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean,
  options: { timeoutMs?: number; what?: string } = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for ${options.what ?? "a condition"}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A full config for host tests: plugins from `pluginsDir`, nothing loaded by default. */
export function testConfig(
  pluginsDir: string,
  plugins: Partial<Config["plugins"]> = {},
  rest: { threads?: number } = {},
): Config {
  return {
    listen: { host: "127.0.0.1", port: 0 },
    auth: { token: null },
    limits: { bodyBytesMax: 16 << 20, imagePixelsMax: 4096 * 4096 },
    threads: rest.threads ?? 2,
    kernels: { level: null, libDir: null },
    plugins: {
      dir: pluginsDir,
      load: [],
      watch: false,
      watchDebounceMs: 50,
      defaults: { concurrency: 1, queueMax: 8, deadlineMs: 5_000, threads: 0 },
      overrides: {},
      ...plugins,
    },
    sources: [],
    telemetry: {
      intervalMs: 1000,
      powercapRoot: "/sys/class/powercap",
      hwmonRoot: "/sys/class/hwmon",
      powerSupplyRoot: "/sys/class/power_supply",
      thermalRoot: "/sys/class/thermal",
    },
    log: { level: "info" },
    mqtt: MQTT_CONFIG_DEFAULTS,
  };
}
