/**
 * Frame sources: image files and folders, and ffmpeg for video files, V4L2 cameras and
 * network streams, fed to plugins with latest-frame-wins by a {@linkcode SourceManager}.
 *
 * @example
 * ```ts ignore
 * import { SourceManager } from "./mod.ts";
 * const sources = new SourceManager({ host, recorder, events });
 * await sources.start({ name: "cam", task: "detect", kind: "ffmpeg", input: "/dev/video0", fps: 10, loop: false });
 * ```
 *
 * @module
 */

export type { SourceControl, SourceStatus } from "./types.ts";
export { SOURCE_ERROR_CODES, SourceError, type SourceErrorCode } from "./errors.ts";
export {
  SOURCE_FPS_MAX,
  SourceManager,
  type SourceManagerOptions,
  validateSourceConfig,
} from "./manager.ts";
export {
  type FileSourceOptions,
  FOLDER_FILES_MAX,
  IMAGE_EXTENSIONS,
  listImageFiles,
  mediaTypeOfPath,
  startFileSource,
} from "./files.ts";
export {
  ffmpegArgs,
  type FfmpegInputKind,
  FfmpegProducer,
  type FfmpegSourceOptions,
  FramePool,
  inputKind,
  startFfmpegSource,
} from "./ffmpeg.ts";
export type { FrameHandler, FrameProducer, FrameShape } from "./producer.ts";
