/**
 * What the source manager needs from a frame producer (files, ffmpeg).
 *
 * @module
 */

import type { EncodedFrameImage } from "../host/types.ts";

/** Receives each frame as soon as it is read; must not block. */
export type FrameHandler = (image: EncodedFrameImage) => void;

/** A running producer of frames. */
export interface FrameProducer {
  /** Resolves when the input ends; rejects with a `SourceError` when reading fails. */
  readonly done: Promise<void>;
  /** Stops reading and releases everything (kills and reaps a subprocess); idempotent. */
  stop(): Promise<void>;
  /** Gives back the bytes of a frame that was never sent (dropped), for reuse. */
  recycle(image: EncodedFrameImage): void;
}

/** How a producer sizes frames for the plugin (from its manifest). */
export interface FrameShape {
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 3;
  /** The manifest's resize mode; default `stretch`. */
  readonly resize: "stretch" | "letterbox" | "none";
}
