/**
 * Testing helpers for plugin authors: run a plugin folder through a real
 * {@linkcode PluginHost} (its own worker, restricted permissions, the warm-up run) as the
 * daemon would, and make deterministic textured test images.
 *
 * @example
 * ```ts ignore
 * import { openTestHost, sceneImage } from "../../daemon/sdk/testing.ts";
 * import { encodePng } from "../../daemon/media/mod.ts";
 * await using host = await openTestHost(import.meta.dirname!);
 * const outcome = await host.infer([encodePng(sceneImage(64, 48))]);
 * console.log(outcome.result.data);
 * ```
 *
 * @module
 */

import { dirname, relative, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseConfig } from "../config/schema.ts";
import { EventBus } from "../events.ts";
import { PluginHost } from "../host/host.ts";
import type { InferOutcome, PluginStatus } from "../host/types.ts";
import type { TaskRecorder } from "../telemetry/recorder.ts";
import type { Image, ImageChannels } from "./image.ts";

/** A recorder that keeps nothing: plugin tests assert on results, not on telemetry. */
const NULL_RECORDER: TaskRecorder = Object.freeze({
  inference() {},
  error() {},
  dropped() {},
  queueDepth() {},
  reload() {},
  pluginVersion() {},
  restart() {},
});

/** Options of {@linkcode openTestHost}. */
export interface TestHostOptions {
  /** Option overrides, as the daemon config's `plugins.overrides.<name>.options`. Default none. */
  options?: Readonly<Record<string, number | boolean | string>>;
  /** Kernel threads of the plugin's worker. Default 1. */
  threads?: number;
  /** Per-frame deadline, ms. Default 30 000 (tests run on busy machines). */
  deadlineMs?: number;
  /** Receives the host's log lines. Default: dropped. */
  log?: (level: string, message: string) => void;
}

/** A plugin loaded in a real host, for tests; dispose it to stop the worker. */
export interface TestHost {
  /** The host (for reloads and status). */
  readonly host: PluginHost;
  /** The plugin's status after loading. */
  readonly status: PluginStatus;
  /**
   * Runs one frame of encoded images (PNG, JPEG, PPM; media type from the signature) and
   * returns the outcome; rejects with the host's `PluginError` when the plugin fails.
   */
  infer(images: readonly Uint8Array[]): Promise<InferOutcome>;
  /** Stops the worker; idempotent. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The media type of an encoded image from its first bytes. */
export function sniffMediaType(bytes: Uint8Array): string {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return "image/png";
  }
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return "image/jpeg";
  if (bytes[0] === 0x50 && (bytes[1] === 0x35 || bytes[1] === 0x36)) {
    return "image/x-portable-pixmap";
  }
  throw new TypeError(
    `sniffMediaType: the bytes start with [${[...bytes.subarray(0, 4)].join(", ")}], ` +
      "not a PNG, JPEG or PPM/PGM signature",
  );
}

/**
 * Loads the plugin in `dir` into a fresh {@linkcode PluginHost} (its worker runs with the
 * permissions the daemon gives it, and the warm-up run must pass), and returns a handle to
 * run frames through it. Rejects with the host's `PluginError` when loading fails.
 *
 * @example
 * ```ts ignore
 * await using plugin = await openTestHost("plugins/classify", { options: { k: 3 } });
 * ```
 */
export async function openTestHost(
  dir: string,
  options: TestHostOptions = {},
): Promise<TestHost> {
  const absolute = resolve(dir);
  const name = JSON.parse(await Deno.readTextFile(`${absolute}/plugin.json`)).name;
  const config = parseConfig({
    threads: options.threads ?? 1,
    plugins: {
      dir: dirname(absolute),
      load: [],
      watch: false,
      defaults: { concurrency: 1, queueMax: 4, deadlineMs: options.deadlineMs ?? 30_000 },
      overrides: typeof name === "string" && options.options !== undefined
        ? { [name]: { options: options.options } }
        : {},
    },
  }, { file: "<openTestHost>" });
  const host = new PluginHost({
    config,
    recorder: NULL_RECORDER,
    events: new EventBus(),
    ...(options.log === undefined ? {} : { log: options.log }),
  });
  let status: PluginStatus;
  try {
    status = await host.load(absolute);
  } catch (error) {
    await host.close();
    throw error;
  }
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await host.close();
  };
  return {
    host,
    status,
    infer(images) {
      return host.infer(status.name, {
        images: images.map((bytes) => ({ bytes: bytes.slice(), mediaType: sniffMediaType(bytes) })),
      });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** A 32-bit hash of integers, for deterministic noise. */
function hash3(x: number, y: number, seed: number): number {
  let h = Math.imul(x, 0x27d4eb2d) ^ Math.imul(y, 0x165667b1) ^ Math.imul(seed, 0x9e3779b9);
  h = Math.imul(h ^ (h >>> 15), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Smooth value noise in [0, 1) with cells of `cell` pixels. */
function valueNoise(x: number, y: number, cell: number, seed: number): number {
  const gx = x / cell;
  const gy = y / cell;
  const x0 = Math.floor(gx);
  const y0 = Math.floor(gy);
  const fx = gx - x0;
  const fy = gy - y0;
  const sx = fx * fx * (3 - 2 * fx);
  const sy = fy * fy * (3 - 2 * fy);
  const at = (ix: number, iy: number) => hash3(ix, iy, seed) / 2 ** 32;
  const top = at(x0, y0) * (1 - sx) + at(x0 + 1, y0) * sx;
  const bottom = at(x0, y0 + 1) * (1 - sx) + at(x0 + 1, y0 + 1) * sx;
  return top * (1 - sy) + bottom * sy;
}

/** Options of {@linkcode sceneImage}. */
export interface SceneOptions {
  /** Channels. Default 3. */
  channels?: ImageChannels;
  /** Seed of the texture and shapes. Default 1. */
  seed?: number;
}

/**
 * A deterministic, textured synthetic scene: a smooth multi-scale noise background with
 * a few filled rectangles and discs of distinct colours. Unlike a flat test pattern it has
 * corners, edges and texture everywhere, so detectors, matchers and segmenters see
 * structure. Shapes scale with the image size.
 *
 * @example
 * ```ts
 * import { sceneImage } from "./testing.ts";
 * const image = sceneImage(64, 48);
 * console.log(image.data.length); // 9216
 * ```
 */
export function sceneImage(width: number, height: number, options: SceneOptions = {}): Image {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`sceneImage: size is ${width}x${height}, expected positive integers`);
  }
  const seed = options.seed ?? 1;
  const channels = options.channels ?? 3;
  const side = Math.min(width, height);
  const shapes = Array.from({ length: 6 }, (_, index) => {
    const r = (k: number) => hash3(index, k, seed) / 2 ** 32;
    return {
      disc: index % 2 === 1,
      cx: r(1) * width,
      cy: r(2) * height,
      half: side * (0.08 + 0.12 * r(3)),
      color: [r(4) * 255, r(5) * 255, r(6) * 255],
    };
  });
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const n = 0.5 * valueNoise(x, y, side / 3, seed) +
        0.3 * valueNoise(x, y, side / 9, seed + 1) + 0.2 * valueNoise(x, y, 3, seed + 2);
      let rgb = [n * 200 + 20, n * 160 + 40, 230 - n * 180];
      for (const shape of shapes) {
        const dx = x - shape.cx;
        const dy = y - shape.cy;
        const inside = shape.disc
          ? dx * dx + dy * dy <= shape.half * shape.half
          : Math.abs(dx) <= shape.half && Math.abs(dy) <= shape.half * 0.7;
        if (inside) rgb = shape.color;
      }
      const o = (y * width + x) * channels;
      if (channels === 3) {
        data[o] = rgb[0];
        data[o + 1] = rgb[1];
        data[o + 2] = rgb[2];
      } else {
        data[o] = Math.round(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]);
      }
    }
  }
  return { width, height, channels, data };
}

/** Options of {@linkcode copyPlugin}. */
export interface CopyPluginOptions {
  /** Merged into the copy's `plugin.json` (top-level fields replaced). */
  manifest?: Record<string, unknown>;
  /** Extra files written into the copy, by relative name (a model, a reference image). */
  files?: Readonly<Record<string, Uint8Array | string>>;
}

/** `import ... from "x"`, `export ... from "x"` and `import("x")` specifiers. */
const SPECIFIER = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"']+)\2/g;

/**
 * Rewrites the relative import specifiers of a TypeScript module at `from` that point
 * outside `folder` to absolute `file:` URLs, so a copy of the module elsewhere still finds
 * the SDK. Specifiers inside the folder are kept.
 */
export function absolutizeImports(code: string, from: string, folder: string): string {
  const base = pathToFileURL(from);
  return code.replace(SPECIFIER, (whole, lead: string, quote: string, specifier: string) => {
    const target = fileURLToPath(new URL(specifier, base));
    const inside = !relative(folder, target).startsWith("..");
    return inside ? whole : `${lead}${quote}${pathToFileURL(target).href}${quote}`;
  });
}

/**
 * Copies the plugin folder `source` into `target` (created) for a test: every file (not
 * sub-folders or dot files), `.ts` modules with their out-of-folder imports made absolute
 * ({@linkcode absolutizeImports}), `plugin.json` merged with `options.manifest`, and
 * `options.files` written. The manifest is written last and atomically. Returns `target`.
 *
 * @example
 * ```ts ignore
 * const dir = await copyPlugin("plugins/classify", `${tmp}/classify`, {
 *   files: { "model.safetensors": buildBinealResNet18({ width: 0.25, inputSize: 28, classes: 10 }).bytes },
 * });
 * ```
 */
export async function copyPlugin(
  source: string,
  target: string,
  options: CopyPluginOptions = {},
): Promise<string> {
  const from = resolve(source);
  const to = resolve(target);
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (!entry.isFile || entry.name.startsWith(".") || entry.name === "plugin.json") continue;
    if (entry.name.endsWith(".ts")) {
      const code = await Deno.readTextFile(`${from}/${entry.name}`);
      await Deno.writeTextFile(
        `${to}/${entry.name}`,
        absolutizeImports(code, `${from}/${entry.name}`, from),
      );
    } else {
      await Deno.copyFile(`${from}/${entry.name}`, `${to}/${entry.name}`);
    }
  }
  for (const [name, content] of Object.entries(options.files ?? {})) {
    if (typeof content === "string") await Deno.writeTextFile(`${to}/${name}`, content);
    else await Deno.writeFile(`${to}/${name}`, content);
  }
  const manifest = {
    ...JSON.parse(await Deno.readTextFile(`${from}/plugin.json`)),
    ...(options.manifest ?? {}),
  };
  await Deno.writeTextFile(`${to}/plugin.json.tmp`, JSON.stringify(manifest, null, 2) + "\n");
  await Deno.rename(`${to}/plugin.json.tmp`, `${to}/plugin.json`);
  return to;
}
