/**
 * A frame source running ffmpeg as a subprocess for video files, V4L2 cameras and network
 * streams (RTSP over TCP). ffmpeg paces the frames (`fps` filter, and `-re` for files),
 * scales them to the plugin's input and writes raw RGB or gray frames to stdout, read here
 * in exact frame-sized pieces.
 *
 * @module
 */

import type { EncodedFrameImage } from "../host/types.ts";
import { SourceError } from "./errors.ts";
import { errorMessage } from "../errors.ts";
import type { FrameHandler, FrameProducer, FrameShape } from "./producer.ts";

/** Options of {@linkcode startFfmpegSource}. */
export interface FfmpegSourceOptions {
  /** Frames per second ffmpeg outputs, > 0. */
  readonly fps: number;
  /** The plugin's input: frames are scaled (or letterboxed) to it by ffmpeg. */
  readonly shape: FrameShape;
  /** Files only: start again at the end (`-stream_loop -1`). Default `false`. */
  readonly loop?: boolean;
  /** ffmpeg executable. Default `ffmpeg` (from PATH). */
  readonly ffmpegPath?: string;
  /** Files only: read at the file's own speed (`-re`). Default `true`. */
  readonly realtime?: boolean;
  /** After SIGTERM, how long ffmpeg gets before SIGKILL, ms. Default 2000. */
  readonly stopTimeoutMs?: number;
  /** Frame buffers kept for reuse (dropped frames come back to it). Default 4. */
  readonly poolSize?: number;
}

/** What kind of input a string names. */
export type FfmpegInputKind = "device" | "stream" | "file";

/** Bytes of ffmpeg's stderr kept for error messages. */
const STDERR_TAIL_BYTES = 4096;
/** Longest PNM header accepted on ffmpeg's image pipe (`P6\n65535 65535\n255\n` is 19). */
const PNM_HEADER_BYTES_MAX = 64;

/**
 * `device` for `/dev/video*`, `stream` for a URL (`rtsp://`, `http://`, ...), else `file`.
 *
 * @example
 * ```ts
 * import { inputKind } from "./ffmpeg.ts";
 * console.log(inputKind("/dev/video0"), inputKind("rtsp://cam/1"), inputKind("a.mp4"));
 * // device stream file
 * ```
 */
export function inputKind(input: string): FfmpegInputKind {
  if (input.startsWith("/dev/video")) return "device";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(input)) return "stream";
  return "file";
}

/**
 * The ffmpeg command line for `input`: rawvideo `rgb24`/`gray` at exactly the shape's size
 * for `stretch` and `letterbox` (padded with black, centred), or a PPM/PGM image pipe at
 * the input's own size for `none`.
 *
 * @example
 * ```ts
 * import { ffmpegArgs } from "./ffmpeg.ts";
 * const args = ffmpegArgs("rtsp://cam/1", {
 *   fps: 5,
 *   shape: { width: 64, height: 48, channels: 3, resize: "stretch" },
 * });
 * console.log(args.includes("-rtsp_transport")); // true
 * ```
 */
export function ffmpegArgs(input: string, options: FfmpegSourceOptions): string[] {
  const { width, height, channels, resize } = options.shape;
  const kind = inputKind(input);
  const args = ["-hide_banner", "-nostdin", "-loglevel", "error"];
  if (kind === "file") {
    if (options.realtime ?? true) args.push("-re");
    if (options.loop) args.push("-stream_loop", "-1");
  } else if (kind === "device") {
    args.push("-f", "v4l2");
  } else if (/^rtsp:/i.test(input)) {
    args.push("-rtsp_transport", "tcp");
  }
  args.push("-i", input, "-an", "-sn", "-dn");
  const pixelFormat = channels === 1 ? "gray" : "rgb24";
  const filters = [`fps=${options.fps}`];
  if (resize === "letterbox") {
    // Pad in RGB: black padded in YUV or gray is video-range 16, and the plugin expects 0.
    filters.push(
      `scale=${width}:${height}:force_original_aspect_ratio=decrease:flags=bilinear`,
      "format=rgb24",
      `pad=${width}:${height}:(ow-iw)/2:(oh-ih)/2:color=black`,
    );
  } else if (resize !== "none") {
    filters.push(`scale=${width}:${height}:flags=bilinear`);
  }
  args.push("-vf", filters.join(","));
  if (resize === "none") {
    args.push("-pix_fmt", pixelFormat, "-c:v", channels === 1 ? "pgm" : "ppm");
    args.push("-f", "image2pipe", "pipe:1");
  } else {
    args.push("-pix_fmt", pixelFormat, "-f", "rawvideo", "pipe:1");
  }
  return args;
}

/**
 * Spawns ffmpeg on `input` and calls `onFrame` with each frame: a raw u8 HWC tensor
 * (`application/octet-stream` with `shape`) for `stretch` and `letterbox`, a PPM/PGM file
 * for `none`. `done` resolves when ffmpeg ends the input cleanly and rejects with
 * `bad_source` carrying the tail of ffmpeg's stderr when it fails; `stop()` sends SIGTERM
 * (SIGKILL after `stopTimeoutMs`) and waits for the process to be reaped.
 *
 * @example
 * ```ts ignore
 * const producer = startFfmpegSource("/dev/video0", (frame) => send(frame), {
 *   fps: 10,
 *   shape: { width: 224, height: 224, channels: 3, resize: "letterbox" },
 * });
 * await producer.stop();
 * ```
 */
export function startFfmpegSource(
  input: string,
  onFrame: FrameHandler,
  options: FfmpegSourceOptions,
): FfmpegProducer {
  if (!(options.fps > 0) || !Number.isFinite(options.fps)) {
    throw new SourceError("bad_source", `fps is ${options.fps}, expected a positive number`);
  }
  const { width, height, channels } = options.shape;
  if (
    ![width, height].every((n) => Number.isInteger(n) && n > 0) ||
    (channels !== 1 && channels !== 3)
  ) {
    throw new SourceError("bad_source", `frame shape is ${width}x${height}x${channels}`);
  }
  const ffmpeg = options.ffmpegPath ?? "ffmpeg";
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(ffmpeg, {
      args: ffmpegArgs(input, options),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    throw new SourceError("bad_source", `Cannot run '${ffmpeg}': ${errorMessage(error)}`, {
      cause: error,
    });
  }
  return new FfmpegProducer(child, input, onFrame, options);
}

/**
 * Frame-sized buffers for reuse: `take` hands out a free one or a new one, `give` keeps at
 * most `size` of them. Buffers sent to a plugin are transferred to its worker and never
 * come back; those of dropped frames do.
 *
 * @example
 * ```ts
 * import { FramePool } from "./ffmpeg.ts";
 * const pool = new FramePool(6, 2);
 * const a = pool.take();
 * pool.give(a);
 * console.log(pool.take() === a); // true
 * ```
 */
export class FramePool {
  readonly #free: Uint8Array[] = [];
  readonly #frameBytes: number;
  readonly #size: number;

  /** A pool of `frameBytes`-byte buffers keeping at most `size` free ones. */
  constructor(frameBytes: number, size: number) {
    this.#frameBytes = frameBytes;
    this.#size = size;
  }

  /** A free buffer, or a new one. */
  take(): Uint8Array {
    return this.#free.pop() ?? new Uint8Array(this.#frameBytes);
  }

  /** Returns a buffer; ignored when detached, of another size, or the pool is full. */
  give(buffer: Uint8Array): void {
    if (buffer.byteLength !== this.#frameBytes || buffer.byteOffset !== 0) return;
    if (buffer.buffer.byteLength !== this.#frameBytes) return;
    if (this.#free.length < this.#size) this.#free.push(buffer);
  }

  /** Free buffers held. */
  get free(): number {
    return this.#free.length;
  }
}

/** A running ffmpeg source (see {@linkcode startFfmpegSource}). */
export class FfmpegProducer implements FrameProducer {
  /** Resolves at the end of the input; rejects with `bad_source` and ffmpeg's stderr tail. */
  readonly done: Promise<void>;
  /** Process id of ffmpeg. */
  readonly pid: number;
  readonly #child: Deno.ChildProcess;
  readonly #pool: FramePool;
  readonly #stopTimeoutMs: number;
  #stopping = false;
  #stderrTail = "";

  /** Wraps a spawned ffmpeg; use {@linkcode startFfmpegSource}. */
  constructor(
    child: Deno.ChildProcess,
    input: string,
    onFrame: FrameHandler,
    options: FfmpegSourceOptions,
  ) {
    this.#child = child;
    this.pid = child.pid;
    const { width, height, channels, resize } = options.shape;
    this.#pool = new FramePool(width * height * channels, options.poolSize ?? 4);
    this.#stopTimeoutMs = options.stopTimeoutMs ?? 2000;
    const emit: FrameHandler = (frame) => {
      if (!this.#stopping) onFrame(frame);
    };
    const reading = resize === "none"
      ? this.#readPnm(emit)
      : this.#readRaw(emit, [height, width, channels]);
    this.done = this.#finish(input, reading, this.#readStderr());
  }

  async #finish(input: string, reading: Promise<void>, stderr: Promise<void>): Promise<void> {
    const [readResult, status] = await Promise.all([
      reading.then(() => null, (error: unknown) => error),
      this.#child.status,
      stderr,
    ]);
    if (this.#stopping) return;
    if (!status.success) {
      const how = status.signal !== null ? `signal ${status.signal}` : `code ${status.code}`;
      const tail = this.#stderrTail.trim() || "(no message)";
      throw new SourceError("bad_source", `ffmpeg exited with ${how} on input '${input}': ${tail}`);
    }
    if (readResult !== null) {
      throw new SourceError(
        "bad_source",
        `Reading ffmpeg's output for '${input}' failed: ${errorMessage(readResult)}`,
        {
          cause: readResult,
        },
      );
    }
  }

  /** Reads exact frames of `shape` bytes into pooled buffers until ffmpeg closes stdout. */
  async #readRaw(emit: FrameHandler, shape: readonly [number, number, number]): Promise<void> {
    const frameBytes = shape[0] * shape[1] * shape[2];
    let frame = this.#pool.take();
    let filled = 0;
    // Bounded by the stream: ends when ffmpeg closes stdout.
    for await (const chunk of this.#child.stdout) {
      let offset = 0;
      while (offset < chunk.length) {
        const n = Math.min(frameBytes - filled, chunk.length - offset);
        frame.set(chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === frameBytes) {
          emit({
            bytes: frame,
            mediaType: "application/octet-stream",
            shape: [shape[0], shape[1], shape[2]],
          });
          frame = this.#pool.take();
          filled = 0;
        }
      }
    }
    this.#pool.give(frame);
  }

  /** Reads a PPM/PGM image pipe, one whole file per frame. */
  async #readPnm(emit: FrameHandler): Promise<void> {
    let pending: Uint8Array = new Uint8Array(0);
    let need = -1; // bytes of the current frame once its header is known
    for await (const chunk of this.#child.stdout) {
      pending = concat(pending, chunk);
      // Bounded: each pass consumes a whole frame or waits for more bytes.
      while (true) {
        if (need < 0) {
          need = pnmFrameBytes(pending);
          if (need < 0) break;
        }
        if (pending.length < need) break;
        emit({ bytes: pending.slice(0, need), mediaType: "image/x-portable-pixmap" });
        pending = pending.subarray(need);
        need = -1;
      }
    }
  }

  async #readStderr(): Promise<void> {
    const decoder = new TextDecoder();
    for await (const chunk of this.#child.stderr) {
      this.#stderrTail = (this.#stderrTail + decoder.decode(chunk, { stream: true }))
        .slice(-STDERR_TAIL_BYTES);
    }
  }

  /** SIGTERM, SIGKILL after `stopTimeoutMs`, then waits until ffmpeg is reaped. */
  async stop(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      try {
        this.#child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            this.#child.kill("SIGKILL");
          } catch {
            // Exited meanwhile.
          }
          resolve();
        }, this.#stopTimeoutMs);
      });
      await Promise.race([this.#child.status, killed]);
      clearTimeout(timer);
    }
    await this.done.catch(() => {});
  }

  /** Takes back the buffer of a dropped raw frame. */
  recycle(image: EncodedFrameImage): void {
    if (image.mediaType === "application/octet-stream") this.#pool.give(image.bytes);
  }
}

/** Total bytes of the PNM file starting `bytes`, or -1 when its header is not complete. */
function pnmFrameBytes(bytes: Uint8Array): number {
  const head = String.fromCharCode(...bytes.subarray(0, PNM_HEADER_BYTES_MAX));
  const match = /^P([56])\s+(\d+)\s+(\d+)\s+(\d+)\s/.exec(head);
  if (match === null) {
    if (bytes.length >= PNM_HEADER_BYTES_MAX || (bytes.length >= 2 && !/^P[56]/.test(head))) {
      throw new Error(`unexpected bytes on ffmpeg's image pipe: '${head.slice(0, 16)}'`);
    }
    return -1;
  }
  const channels = match[1] === "5" ? 1 : 3;
  const sampleBytes = Number(match[4]) > 255 ? 2 : 1;
  return match[0].length + Number(match[2]) * Number(match[3]) * channels * sampleBytes;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
