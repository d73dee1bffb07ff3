/**
 * The source manager: starts and stops frame sources by name, feeds their frames to the
 * plugin host with latest-frame-wins, and reports their state.
 *
 * Per source, at most one frame is in flight and one waits in the pending slot; a newer
 * frame replaces the pending one, and the replaced frame is counted as dropped
 * (`framesDropped` and `recorder.dropped(task, "latest_wins")`). Results are published by
 * the host (the request names the source); this module publishes {@linkcode SourceEvent}s.
 *
 * @module
 */

import type { SourceConfig } from "../config/types.ts";
import type { EventBus, SourceEvent } from "../events.ts";
import type { EncodedFrameImage, TaskHost } from "../host/types.ts";
import type { TaskRecorder } from "../telemetry/recorder.ts";
import { SourceError } from "./errors.ts";
import { startFfmpegSource } from "./ffmpeg.ts";
import { errorMessage } from "../errors.ts";
import { startFileSource } from "./files.ts";
import type { FrameProducer, FrameShape } from "./producer.ts";
import type { SourceControl, SourceStatus } from "./types.ts";

/** Highest `fps` a source accepts. */
export const SOURCE_FPS_MAX = 1000;

const NAME_PATTERN = /^[a-z][a-z0-9_-]{0,39}$/;

/** Options of {@linkcode SourceManager}. */
export interface SourceManagerOptions {
  /** Where frames go; `host.get(task)` gives the input size and frames per request. */
  readonly host: TaskHost;
  /** Counts drops. */
  readonly recorder: TaskRecorder;
  /** Receives source events. */
  readonly events: EventBus;
  /** ffmpeg executable. Default `ffmpeg` from PATH. */
  readonly ffmpegPath?: string;
  /** ffmpeg file inputs are read at their own speed (`-re`). Default `true`. */
  readonly realtime?: boolean;
  /** How long `start` waits for the first frame before answering anyway, ms. Default 5000. */
  readonly startTimeoutMs?: number;
  /** Largest image file a `files` source reads. Default 64 MiB. */
  readonly fileBytesMax?: number;
}

/**
 * Throws `bad_source` naming the first invalid field of `config`.
 *
 * @example
 * ```ts
 * import { validateSourceConfig } from "./manager.ts";
 * validateSourceConfig({ name: "cam", task: "detect", kind: "ffmpeg", input: "/dev/video0", fps: 10, loop: false });
 * ```
 */
export function validateSourceConfig(config: SourceConfig): void {
  const bad = (field: string, value: unknown, expected: string) =>
    new SourceError(
      "bad_source",
      `source ${field} is ${JSON.stringify(value)}, expected ${expected}`,
    );
  if (typeof config !== "object" || config === null) throw bad("config", config, "an object");
  if (typeof config.name !== "string" || !NAME_PATTERN.test(config.name)) {
    throw bad("name", config.name, "[a-z][a-z0-9_-]{0,39}");
  }
  if (typeof config.task !== "string" || config.task.length === 0) {
    throw bad("task", config.task, "a plugin name");
  }
  if (config.kind !== "files" && config.kind !== "ffmpeg") {
    throw bad("kind", config.kind, "'files' or 'ffmpeg'");
  }
  if (typeof config.input !== "string" || config.input.length === 0) {
    throw bad("input", config.input, "a path or URL");
  }
  if (typeof config.fps !== "number" || !(config.fps > 0) || config.fps > SOURCE_FPS_MAX) {
    throw bad("fps", config.fps, `a number in (0, ${SOURCE_FPS_MAX}]`);
  }
  if (typeof config.loop !== "boolean") throw bad("loop", config.loop, "a boolean");
}

/**
 * Starts, tracks and stops frame sources.
 *
 * @example
 * ```ts ignore
 * const sources = new SourceManager({ host, recorder, events });
 * await sources.start({ name: "cam", task: "detect", kind: "ffmpeg", input: "/dev/video0", fps: 10, loop: false });
 * await sources.stop("cam");
 * ```
 */
export class SourceManager implements SourceControl {
  readonly #options: SourceManagerOptions;
  readonly #sources = new Map<string, RunningSource>();
  readonly #starting = new Set<string>();

  /** A manager with no source running. */
  constructor(options: SourceManagerOptions) {
    this.#options = options;
  }

  /** Every source started since boot (latest per name), in start order. */
  list(): SourceStatus[] {
    return [...this.#sources.values()].map((source) => source.status());
  }

  /** One source's status, or `undefined`. */
  get(name: string): SourceStatus | undefined {
    return this.#sources.get(name)?.status();
  }

  /**
   * Starts a source and resolves once its first frame is read (or after `startTimeoutMs`
   * for a slow camera or stream). Rejects with `bad_source` (invalid config, input that
   * cannot be opened, ffmpeg failing at start with its message, an input without frames),
   * `source_exists` (a running source has the name) or `plugin_not_found`; a failed start
   * leaves nothing behind. A finished source's name can be started again.
   */
  async start(config: SourceConfig): Promise<SourceStatus> {
    validateSourceConfig(config);
    const existing = this.#sources.get(config.name);
    if (this.#starting.has(config.name) || existing?.state === "running") {
      throw new SourceError("source_exists", `Source '${config.name}' is already running`);
    }
    const plugin = this.#options.host.get(config.task);
    if (plugin === undefined) {
      throw new SourceError(
        "plugin_not_found",
        `Source '${config.name}' names task '${config.task}', which is not loaded`,
      );
    }
    const input = plugin.manifest.input;
    const shape: FrameShape = {
      width: input.width,
      height: input.height,
      channels: input.channels,
      resize: input.resize ?? "stretch",
    };
    this.#starting.add(config.name);
    try {
      const source = new RunningSource(config, plugin.manifest.frames ?? 1, this.#options);
      await source.open(shape);
      this.#sources.delete(config.name); // re-insert: list() keeps start order
      this.#sources.set(config.name, source);
      source.publish("started");
      source.watch();
      return source.status();
    } finally {
      this.#starting.delete(config.name);
    }
  }

  /** Stops a source, waits for its in-flight frame; `source_not_found` for an unknown name. */
  async stop(name: string): Promise<void> {
    const source = this.#sources.get(name);
    if (source === undefined) {
      throw new SourceError("source_not_found", `No source named '${name}'`);
    }
    await source.stop();
  }

  /** Stops every running source. */
  async close(): Promise<void> {
    await Promise.all([...this.#sources.values()].map((source) => source.stop()));
  }
}

type SourceState = SourceStatus["state"];

/** One source: its producer, counters and the latest-frame-wins slots. */
class RunningSource {
  readonly config: SourceConfig;
  state: SourceState = "running";
  readonly #frames: 1 | 2;
  readonly #options: SourceManagerOptions;
  readonly #startedAtMs = Date.now();
  #producer: FrameProducer | null = null;
  #framesRead = 0;
  #framesSent = 0;
  #framesDropped = 0;
  #framesFailed = 0;
  #error: string | null = null;
  #inFlight: Promise<void> | null = null;
  #pending: EncodedFrameImage | null = null;
  /** frames = 2: a copy of the last frame, the first image of the next pair. */
  #previous: EncodedFrameImage | null = null;
  #firstFrame: (() => void) | null = null;

  constructor(config: SourceConfig, frames: 1 | 2, options: SourceManagerOptions) {
    this.config = { ...config };
    this.#frames = frames;
    this.#options = options;
  }

  status(): SourceStatus {
    return {
      config: this.config,
      state: this.state,
      framesRead: this.#framesRead,
      framesSent: this.#framesSent,
      framesDropped: this.#framesDropped,
      framesFailed: this.#framesFailed,
      error: this.#error,
      startedAtMs: this.#startedAtMs,
    };
  }

  /** Starts the producer and waits for the first frame, an early failure, or the timeout. */
  async open(shape: FrameShape): Promise<void> {
    const { kind, input, fps, loop } = this.config;
    const onFrame = (image: EncodedFrameImage) => this.#onFrame(image);
    const firstFrame = new Promise<void>((resolve) => (this.#firstFrame = resolve));
    const producer = kind === "files"
      ? await startFileSource(input, onFrame, {
        fps,
        loop,
        fileBytesMax: this.#options.fileBytesMax,
      })
      : startFfmpegSource(input, onFrame, {
        fps,
        loop,
        shape,
        ffmpegPath: this.#options.ffmpegPath,
        realtime: this.#options.realtime,
      });
    this.#producer = producer;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), this.#options.startTimeoutMs ?? 5000);
    });
    try {
      const first = await Promise.race([
        firstFrame.then(() => "frame" as const),
        producer.done.then(() => "ended" as const),
        timeout,
      ]);
      if (first === "ended" && this.#framesRead === 0) {
        throw new SourceError(
          "bad_source",
          `Input '${input}' of source '${this.config.name}' has no frames`,
        );
      }
    } catch (error) {
      this.state = "stopped";
      await producer.stop();
      this.#discardPending();
      await this.#drain();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Follows the producer to its end or failure. */
  watch(): void {
    this.#producer!.done.then(
      async () => {
        await this.#drain();
        this.#finish("ended", null);
      },
      async (error: unknown) => {
        this.#discardPending();
        await this.#drain();
        this.#finish("failed", errorMessage(error));
      },
    );
  }

  async stop(): Promise<void> {
    if (this.state !== "running") {
      await this.#drain();
      return;
    }
    this.state = "stopped";
    await this.#producer?.stop();
    this.#discardPending();
    await this.#drain();
    this.publish("stopped");
  }

  publish(state: SourceEvent["state"], message?: string): void {
    const event: SourceEvent = {
      type: "source",
      source: this.config.name,
      task: this.config.task,
      state,
      ...(message === undefined ? {} : { message }),
      atMs: Date.now(),
    };
    this.#options.events.publish(event);
  }

  #finish(state: "ended" | "failed", error: string | null): void {
    if (this.state !== "running") return; // stopped meanwhile
    this.state = state;
    this.#error = error;
    this.publish(state, error ?? undefined);
  }

  #onFrame(image: EncodedFrameImage): void {
    this.#framesRead += 1;
    this.#firstFrame?.();
    this.#firstFrame = null;
    if (this.state !== "running") {
      this.#producer?.recycle(image);
      return;
    }
    if (this.#inFlight === null) {
      this.#send(image);
      return;
    }
    if (this.#pending !== null) {
      this.#framesDropped += 1;
      this.#options.recorder.dropped(this.config.task, "latest_wins");
      this.#producer?.recycle(this.#pending);
    }
    this.#pending = image;
  }

  #send(image: EncodedFrameImage): void {
    let images: EncodedFrameImage[];
    if (this.#frames === 2) {
      // The host transfers the bytes it is given: keep a copy for the next pair.
      const previous = this.#previous;
      this.#previous = { ...image, bytes: image.bytes.slice() };
      if (previous === null) return; // the first frame only opens the first pair
      images = [previous, image];
    } else {
      images = [image];
    }
    this.#framesSent += 1;
    const { host } = this.#options;
    this.#inFlight = (async () => {
      try {
        await host.infer(this.config.task, { images, source: this.config.name });
      } catch (error) {
        this.#framesFailed += 1;
        const code = (error as { code?: unknown }).code;
        if (code === "plugin_not_found") this.#failFromPlugin(errorMessage(error));
      }
    })().finally(() => {
      this.#inFlight = null;
      const next = this.#pending;
      this.#pending = null;
      if (next !== null && this.state === "running") this.#send(next);
      else if (next !== null) this.#producer?.recycle(next);
    });
  }

  /** The plugin went away: stop reading and report the source failed. */
  #failFromPlugin(message: string): void {
    if (this.state !== "running") return;
    this.state = "failed";
    this.#error = message;
    this.#discardPending();
    void this.#producer?.stop().then(() => this.publish("failed", message));
  }

  #discardPending(): void {
    if (this.#pending !== null) this.#producer?.recycle(this.#pending);
    this.#pending = null;
  }

  /** Waits until no frame is in flight or pending (at most two rounds once input stops). */
  async #drain(): Promise<void> {
    for (let round = 0; round < 4 && this.#inFlight !== null; round += 1) {
      await this.#inFlight;
    }
  }
}
