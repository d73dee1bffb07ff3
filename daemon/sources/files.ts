/**
 * A frame source over an image file or a folder of images, paced at a target FPS.
 *
 * @module
 */

import { errorMessage } from "../errors.ts";
import type { EncodedFrameImage } from "../host/types.ts";
import { SourceError } from "./errors.ts";
import type { FrameHandler, FrameProducer } from "./producer.ts";

/** Media type by lower-case file extension. */
export const IMAGE_EXTENSIONS: Readonly<Record<string, string>> = Object.freeze({
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".ppm": "image/x-portable-pixmap",
  ".pgm": "image/x-portable-graymap",
});

/** Most files a folder source takes (sorted by name, the first ones win). */
export const FOLDER_FILES_MAX = 100_000;

/** Options of {@linkcode startFileSource}. */
export interface FileSourceOptions {
  /** Frames per second, > 0. */
  readonly fps: number;
  /** Start again after the last file. Default `false`. */
  readonly loop?: boolean;
  /** Largest file read; a bigger one fails the source. Default 64 MiB. */
  readonly fileBytesMax?: number;
}

/**
 * The media type of `path` by its extension, or `null` for an extension that is not an image.
 *
 * @example
 * ```ts
 * import { mediaTypeOfPath } from "./files.ts";
 * console.log(mediaTypeOfPath("a/B.JPG")); // image/jpeg
 * ```
 */
export function mediaTypeOfPath(path: string): string | null {
  const dot = path.lastIndexOf(".");
  if (dot < 0 || dot < path.lastIndexOf("/")) return null;
  return IMAGE_EXTENSIONS[path.slice(dot).toLowerCase()] ?? null;
}

/**
 * The image files of `input`: the file itself, or the images of a folder (not recursive)
 * sorted by name. Throws `bad_source` when there is none or `input` cannot be read.
 *
 * @example
 * ```ts ignore
 * const files = await listImageFiles("/data/frames"); // ["/data/frames/0001.png", ...]
 * ```
 */
export async function listImageFiles(input: string): Promise<string[]> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(input);
  } catch (error) {
    throw new SourceError("bad_source", `Cannot read input '${input}': ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (info.isFile) {
    if (mediaTypeOfPath(input) === null) {
      throw new SourceError(
        "bad_source",
        `Input '${input}' is not an image file: extensions are ${
          Object.keys(IMAGE_EXTENSIONS).join(", ")
        }`,
      );
    }
    return [input];
  }
  const files: string[] = [];
  try {
    for await (const entry of Deno.readDir(input)) {
      if ((entry.isFile || entry.isSymlink) && mediaTypeOfPath(entry.name) !== null) {
        files.push(entry.name);
      }
    }
  } catch (error) {
    throw new SourceError("bad_source", `Cannot list folder '${input}': ${errorMessage(error)}`, {
      cause: error,
    });
  }
  if (files.length === 0) {
    throw new SourceError(
      "bad_source",
      `Folder '${input}' holds no image file (${Object.keys(IMAGE_EXTENSIONS).join(", ")})`,
    );
  }
  files.sort();
  const base = input.endsWith("/") ? input : `${input}/`;
  return files.slice(0, FOLDER_FILES_MAX).map((name) => base + name);
}

/**
 * Starts emitting the images of `input` (see {@linkcode listImageFiles}) to `onFrame`, one
 * every `1 / fps` seconds, as fresh encoded bytes with the media type of the extension.
 * `done` resolves after the last file (never, with `loop`), and rejects with `bad_source`
 * when a file cannot be read or is larger than `fileBytesMax`.
 *
 * @example
 * ```ts ignore
 * const producer = await startFileSource("/data/frames", (image) => send(image), { fps: 5 });
 * await producer.done;
 * ```
 */
export async function startFileSource(
  input: string,
  onFrame: FrameHandler,
  options: FileSourceOptions,
): Promise<FrameProducer> {
  if (!(options.fps > 0) || !Number.isFinite(options.fps)) {
    throw new SourceError("bad_source", `fps is ${options.fps}, expected a positive number`);
  }
  const files = await listImageFiles(input);
  return new FileProducer(files, onFrame, {
    periodMs: 1000 / options.fps,
    loop: options.loop ?? false,
    fileBytesMax: options.fileBytesMax ?? 64 * 1024 * 1024,
  });
}

class FileProducer implements FrameProducer {
  readonly done: Promise<void>;
  #stopped = false;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #wake: (() => void) | null = null;

  constructor(
    files: readonly string[],
    onFrame: FrameHandler,
    options: { periodMs: number; loop: boolean; fileBytesMax: number },
  ) {
    this.done = this.#run(files, onFrame, options);
  }

  async #run(
    files: readonly string[],
    onFrame: FrameHandler,
    options: { periodMs: number; loop: boolean; fileBytesMax: number },
  ): Promise<void> {
    const startMs = performance.now();
    // Each pass over the files is bounded; passes repeat only with `loop`, until stopped.
    for (let frame = 0; !this.#stopped; frame += 1) {
      const index = frame % files.length;
      if (frame > 0 && index === 0 && !options.loop) return;
      // Pace against the start time so that read times do not accumulate as drift.
      await this.#sleep(startMs + frame * options.periodMs - performance.now());
      if (this.#stopped) return;
      const image = await readImage(files[index], options.fileBytesMax);
      if (this.#stopped) return;
      onFrame(image);
    }
  }

  #sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(() => {
        this.#timer = null;
        this.#wake = null;
        resolve();
      }, ms);
    });
  }

  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    this.#wake?.();
    this.#wake = null;
    return this.done.catch(() => {});
  }

  recycle(_image: EncodedFrameImage): void {
    // Every frame is a fresh read: nothing to reuse.
  }
}

async function readImage(path: string, fileBytesMax: number): Promise<EncodedFrameImage> {
  try {
    const info = await Deno.stat(path);
    if (info.size > fileBytesMax) {
      throw new SourceError(
        "bad_source",
        `Image '${path}' is ${info.size} bytes, more than the limit of ${fileBytesMax}`,
      );
    }
    return { bytes: await Deno.readFile(path), mediaType: mediaTypeOfPath(path)! };
  } catch (error) {
    if (error instanceof SourceError) throw error;
    throw new SourceError("bad_source", `Cannot read image '${path}': ${errorMessage(error)}`, {
      cause: error,
    });
  }
}
