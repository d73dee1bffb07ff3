/**
 * In-test implementations of the HTTP layer's dependencies: {@linkcode RecordingHost},
 * {@linkcode RecordingSources}, {@linkcode FixedTelemetry}, and {@linkcode testApp} wiring
 * them into an app. They record calls and fail on demand with coded errors, so the HTTP
 * tests need no workers, no kernels and no sockets.
 *
 * @module
 */

import type { OpenAPIHono } from "@hono/zod-openapi";
import { parseConfig } from "../config/schema.ts";
import type { Config, SourceConfig } from "../config/types.ts";
import { EventBus } from "../events.ts";
import type {
  InferOutcome,
  InferRequest,
  LastFrame,
  LoadOptions,
  PluginStatus,
  TaskHost,
} from "../host/types.ts";
import type { JsonValue, PluginManifest } from "../sdk/plugin.ts";
import type { SourceControl, SourceStatus } from "../sources/types.ts";
import { createApp } from "./app.ts";
import type { HttpTelemetry } from "./deps.ts";

/** An error with a stable `code`, standing in for `PluginError`, `SourceError`, ... */
export class CodedError extends Error {
  /** Stable code. */
  readonly code: string;
  /** Creates it. */
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

/** A plugin status for tests: `name` at version 1.0.0, `frames` images per frame. */
export function pluginStatus(name: string, options: { frames?: 1 | 2; dir?: string } = {}) {
  const manifest: PluginManifest = {
    name,
    version: "1.0.0",
    task: "custom",
    apiVersion: 1,
    entry: "mod.ts",
    models: {},
    input: { width: 8, height: 8, channels: 3 },
    frames: options.frames ?? 1,
  };
  const status: PluginStatus = {
    name,
    version: "1.0.0",
    manifest,
    dir: options.dir ?? `/plugins/${name}`,
    state: "ready",
    readySinceMs: 1,
    reloads: 0,
    restarts: 0,
    lastError: null,
    queueDepth: 0,
    queueMax: 8,
    inFlight: 0,
    concurrency: 1,
    threads: 1,
    deadlineMs: 1000,
  };
  return status;
}

/** A {@linkcode TaskHost} that records calls and answers from a map of plugins. */
export class RecordingHost implements TaskHost {
  /** Loaded plugins by name. */
  readonly plugins = new Map<string, PluginStatus>();
  /** Every call: method and arguments. */
  readonly calls: { method: string; args: unknown[] }[] = [];
  /** Makes the next calls of a method reject with this error. */
  readonly failures = new Map<string, Error>();
  /** Result images `infer` returns. */
  resultImages: Record<string, { mediaType: string; bytes: Uint8Array }> = {};
  /** Result data `infer` returns. */
  resultData: JsonValue = { ok: true };
  /** `started` of the interface. */
  started = true;
  /** What `lastFrame` answers per plugin name (absent: `null`). */
  readonly lastFrames = new Map<string, LastFrame>();

  /** Creates it with `plugins` loaded. */
  constructor(plugins: PluginStatus[] = []) {
    for (const plugin of plugins) this.plugins.set(plugin.name, plugin);
  }

  #record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
    const failure = this.failures.get(method);
    if (failure !== undefined) throw failure;
  }

  /** See {@linkcode TaskHost.list}. */
  list(): PluginStatus[] {
    return [...this.plugins.values()];
  }
  /** See {@linkcode TaskHost.get}. */
  get(name: string): PluginStatus | undefined {
    return this.plugins.get(name);
  }
  /** Loads a plugin named after the folder's last segment. */
  load(dir: string): Promise<PluginStatus> {
    try {
      this.#record("load", dir);
    } catch (error) {
      return Promise.reject(error);
    }
    const status = pluginStatus(dir.split("/").at(-1) ?? "x", { dir });
    this.plugins.set(status.name, status);
    return Promise.resolve(status);
  }
  /** Bumps `reloads`. */
  reload(name: string, options?: LoadOptions): Promise<PluginStatus> {
    try {
      this.#record("reload", name, options);
    } catch (error) {
      return Promise.reject(error);
    }
    const old = this.plugins.get(name);
    if (old === undefined) {
      return Promise.reject(new CodedError("plugin_not_found", `no plugin '${name}'`));
    }
    const status = { ...old, reloads: old.reloads + 1, dir: options?.dir ?? old.dir };
    this.plugins.set(name, status);
    return Promise.resolve(status);
  }
  /** Removes it. */
  unload(name: string): Promise<void> {
    try {
      this.#record("unload", name);
    } catch (error) {
      return Promise.reject(error);
    }
    this.plugins.delete(name);
    return Promise.resolve();
  }
  /** Answers with {@linkcode RecordingHost.resultData} and `resultImages`. */
  infer(name: string, request: InferRequest): Promise<InferOutcome> {
    try {
      this.#record("infer", name, request);
    } catch (error) {
      return Promise.reject(error);
    }
    const plugin = this.plugins.get(name);
    if (plugin === undefined) {
      return Promise.reject(new CodedError("plugin_not_found", `no plugin '${name}'`));
    }
    return Promise.resolve({
      task: name,
      version: plugin.version,
      frameId: this.calls.length,
      result: { data: this.resultData, images: this.resultImages },
      latencyMs: 2.5,
      queuedMs: 0.5,
    });
  }
  /** Answers from {@linkcode RecordingHost.lastFrames}; `plugin_not_found` when not loaded. */
  lastFrame(name: string): LastFrame | null {
    this.#record("lastFrame", name);
    if (!this.plugins.has(name)) throw new CodedError("plugin_not_found", `no plugin '${name}'`);
    return this.lastFrames.get(name) ?? null;
  }
  /** Records it. */
  close(): Promise<void> {
    this.calls.push({ method: "close", args: [] });
    return Promise.resolve();
  }
}

/** A {@linkcode SourceControl} that records calls. */
export class RecordingSources implements SourceControl {
  /** Sources by name. */
  readonly sources = new Map<string, SourceStatus>();
  /** Every started config. */
  readonly started: SourceConfig[] = [];

  /** See {@linkcode SourceControl.list}. */
  list(): SourceStatus[] {
    return [...this.sources.values()];
  }
  /** Starts it unless the name is taken (`source_exists`). */
  start(config: SourceConfig): Promise<SourceStatus> {
    if (this.sources.has(config.name)) {
      return Promise.reject(new CodedError("source_exists", `source '${config.name}' exists`));
    }
    const status: SourceStatus = {
      config,
      state: "running",
      framesRead: 0,
      framesSent: 0,
      framesDropped: 0,
      framesFailed: 0,
      error: null,
      startedAtMs: 1,
    };
    this.started.push(config);
    this.sources.set(config.name, status);
    return Promise.resolve(status);
  }
  /** Stops it (`source_not_found` when absent). */
  stop(name: string): Promise<void> {
    if (!this.sources.delete(name)) {
      return Promise.reject(new CodedError("source_not_found", `no source '${name}'`));
    }
    return Promise.resolve();
  }
  /** Stops all. */
  close(): Promise<void> {
    this.sources.clear();
    return Promise.resolve();
  }
}

/** Telemetry answering fixed values. */
export class FixedTelemetry implements HttpTelemetry {
  /** The Prometheus content type. */
  readonly prometheusContentType = "text/plain; version=0.0.4; charset=utf-8";
  /** The snapshot `json()` returns. */
  snapshot: JsonValue = { tasks: {}, power: { source: "none" } };
  /** See {@linkcode HttpTelemetry.json}. */
  json(): JsonValue {
    return this.snapshot;
  }
  /** See {@linkcode HttpTelemetry.prometheus}. */
  prometheus(): Promise<string> {
    return Promise.resolve("# HELP onebit_up Up.\n# TYPE onebit_up gauge\nonebit_up 1\n");
  }
}

/** A test app over recording dependencies, and handles on them. */
export interface TestApp {
  app: OpenAPIHono;
  host: RecordingHost;
  sources: RecordingSources;
  bus: EventBus;
  telemetry: FixedTelemetry;
  /** Replace to change the config the app reads per request. */
  config: Config;
  /** `ready()` answer. */
  ready: boolean;
  /** Aborts SSE streams. */
  closing: AbortController;
}

/** Builds an app over recording dependencies; `config` is parsed with the schema. */
export function testApp(
  options: { config?: unknown; plugins?: PluginStatus[]; sseHeartbeatMs?: number } = {},
): TestApp {
  const bus = new EventBus();
  const state: TestApp = {
    app: undefined as unknown as OpenAPIHono,
    host: new RecordingHost(
      options.plugins ?? [pluginStatus("detect"), pluginStatus("match", { frames: 2 })],
    ),
    sources: new RecordingSources(),
    bus,
    telemetry: new FixedTelemetry(),
    config: parseConfig(options.config ?? {}),
    ready: true,
    closing: new AbortController(),
  };
  state.app = createApp({
    host: state.host,
    sources: state.sources,
    events: bus,
    telemetry: state.telemetry,
    config: () => state.config,
    ready: () => state.ready,
    version: "0.0.0-test",
    closing: state.closing.signal,
    sseHeartbeatMs: options.sseHeartbeatMs,
  });
  return state;
}
