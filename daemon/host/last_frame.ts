/**
 * {@linkcode LastFrameKeeper}: the last processed frame of one task, for the dashboard.
 *
 * Results on the event bus carry data only. To show a frame with its overlay the host keeps
 * a copy of the input bytes of some frames: the copy must be taken before the frame is
 * dispatched, because dispatching transfers (detaches) the request's buffers to the worker.
 * A copy waits in a small pending set keyed by frame id until its result is published, when
 * it becomes the current last frame; a frame whose result fails is dropped.
 *
 * The main thread stays cheap: at most one frame per `intervalMs` is copied (a memcpy, never
 * a decode or an encode), at most `pendingMax` copies wait, and every byte held (pending and
 * current) stays within `bytesMax`.
 *
 * @module
 */

import type { EncodedFrameImage, LastFrame, LastFrameImage } from "./types.ts";

/** Default of {@linkcode LastFrameOptions.intervalMs}: at most 4 copies per second. */
export const LAST_FRAME_INTERVAL_MS_DEFAULT = 250;
/** Default of {@linkcode LastFrameOptions.pendingMax}. */
export const LAST_FRAME_PENDING_MAX_DEFAULT = 4;
/** Default of {@linkcode LastFrameOptions.bytesMax}: 16 MiB per task. */
export const LAST_FRAME_BYTES_MAX_DEFAULT = 16 * 1024 * 1024;
/** Most images of a kept frame (a frame has 1 or 2: single and pair tasks). */
export const LAST_FRAME_IMAGES_MAX = 4;

/** Options of {@linkcode LastFrameKeeper}. */
export interface LastFrameOptions {
  /** Least time between two kept copies, ms (0: keep every frame). Default 250. */
  readonly intervalMs?: number;
  /** Most copies waiting for their result; the oldest is evicted first. Default 4. */
  readonly pendingMax?: number;
  /**
   * Most bytes held, pending and current together. A frame larger than this is never kept.
   * Default 16 MiB.
   */
  readonly bytesMax?: number;
  /** The clock, ms. Default `Date.now`. */
  readonly now?: () => number;
}

interface Pending {
  readonly frameId: number;
  readonly images: readonly LastFrameImage[];
  readonly bytes: number;
}

function checkCount(name: string, value: number, min: number): number {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`LastFrameKeeper: ${name} is ${value}, expected an integer ≥ ${min}`);
  }
  return value;
}

/**
 * Keeps copies of a task's frames and the last one whose result was published.
 *
 * @example
 * ```ts
 * import { LastFrameKeeper } from "./last_frame.ts";
 * const keeper = new LastFrameKeeper({ intervalMs: 0 });
 * const bytes = new Uint8Array([1, 2, 3]);
 * keeper.offer(1, [{ bytes, mediaType: "application/octet-stream", shape: [1, 1, 3] }]);
 * bytes.fill(0); // the copy is independent of the offered buffer
 * keeper.markProcessed(1);
 * const frame = keeper.current()!;
 * console.log(frame.frameId, [...frame.images[0].bytes]); // 1 [ 1, 2, 3 ]
 * ```
 */
export class LastFrameKeeper {
  /** See {@linkcode LastFrameOptions.intervalMs}. */
  readonly intervalMs: number;
  /** See {@linkcode LastFrameOptions.pendingMax}. */
  readonly pendingMax: number;
  /** See {@linkcode LastFrameOptions.bytesMax}. */
  readonly bytesMax: number;
  readonly #now: () => number;
  /** Oldest first; at most `pendingMax`. */
  readonly #pending: Pending[] = [];
  #current: LastFrame | null = null;
  /** Bytes of `#current`'s images (0 without one). */
  #currentBytes = 0;
  #keptAtMs = Number.NEGATIVE_INFINITY;

  /** A keeper holding nothing. Throws `RangeError` on a bad option. */
  constructor(options: LastFrameOptions = {}) {
    this.intervalMs = checkCount(
      "intervalMs",
      options.intervalMs ?? LAST_FRAME_INTERVAL_MS_DEFAULT,
      0,
    );
    this.pendingMax = checkCount(
      "pendingMax",
      options.pendingMax ?? LAST_FRAME_PENDING_MAX_DEFAULT,
      1,
    );
    this.bytesMax = checkCount("bytesMax", options.bytesMax ?? LAST_FRAME_BYTES_MAX_DEFAULT, 1);
    this.#now = options.now ?? Date.now;
  }

  /** Bytes held now, pending and current. */
  get bytes(): number {
    let pendingBytes = 0;
    for (const pending of this.#pending) pendingBytes += pending.bytes;
    return pendingBytes + this.#currentBytes;
  }

  /** Copies waiting for their result. */
  get pendingCount(): number {
    return this.#pending.length;
  }

  /** The last frame whose result was published, or `null`. */
  current(): LastFrame | null {
    return this.#current;
  }

  /**
   * Copies the images of frame `frameId` unless a copy was kept less than `intervalMs` ago,
   * the frame has no image, an empty one, more than {@linkcode LAST_FRAME_IMAGES_MAX}, or
   * more than `bytesMax` bytes. Room is made by evicting the oldest pending copies, then the
   * current frame if need be. Call it before the images' buffers are transferred. True when
   * a copy was kept.
   */
  offer(frameId: number, images: readonly EncodedFrameImage[]): boolean {
    checkCount("frameId", frameId, 0);
    const nowMs = this.#now();
    if (nowMs - this.#keptAtMs < this.intervalMs) return false;
    if (images.length === 0 || images.length > LAST_FRAME_IMAGES_MAX) return false;
    let frameBytes = 0;
    for (const image of images) {
      if (image.bytes.length === 0) return false;
      frameBytes += image.bytes.length;
    }
    if (frameBytes > this.bytesMax) return false;
    if (this.#pending.some((pending) => pending.frameId === frameId)) return false;
    // Bounded: each pass removes one pending copy.
    while (
      this.#pending.length > 0 &&
      (this.#pending.length >= this.pendingMax || this.bytes + frameBytes > this.bytesMax)
    ) {
      this.#pending.shift();
    }
    if (this.bytes + frameBytes > this.bytesMax) this.#setCurrent(null, 0);
    const copies = images.map((image): LastFrameImage => {
      const bytes = image.bytes.slice();
      return image.shape === undefined
        ? { bytes, mediaType: image.mediaType }
        : { bytes, mediaType: image.mediaType, shape: [...image.shape] };
    });
    this.#pending.push({ frameId, images: copies, bytes: frameBytes });
    this.#keptAtMs = nowMs;
    this.#check();
    return true;
  }

  /**
   * The result of `frameId` was published: its copy, if kept, becomes the current frame
   * (unless a newer frame already is: results of concurrent workers may finish out of
   * order). True when it became current.
   */
  markProcessed(frameId: number): boolean {
    const pending = this.#take(frameId);
    if (pending === null) return false;
    if (this.#current !== null && this.#current.frameId > frameId) {
      this.#check();
      return false;
    }
    this.#setCurrent(
      { frameId, images: pending.images, atMs: this.#now() },
      pending.bytes,
    );
    this.#check();
    return true;
  }

  /** The frame failed: forgets its copy. True when one was pending. */
  drop(frameId: number): boolean {
    const dropped = this.#take(frameId) !== null;
    this.#check();
    return dropped;
  }

  #take(frameId: number): Pending | null {
    const index = this.#pending.findIndex((pending) => pending.frameId === frameId);
    if (index < 0) return null;
    const [pending] = this.#pending.splice(index, 1);
    return pending;
  }

  #setCurrent(frame: LastFrame | null, bytes: number): void {
    this.#current = frame;
    this.#currentBytes = bytes;
  }

  /** The bounds; cheap, since at most `pendingMax` copies wait. */
  #check(): void {
    if (this.#pending.length > this.pendingMax || this.bytes > this.bytesMax) {
      throw new Error(
        `LastFrameKeeper bounds broken: ${this.#pending.length} pending (max ` +
          `${this.pendingMax}), ${this.bytes} bytes held (max ${this.bytesMax})`,
      );
    }
  }
}
