/**
 * What the HTTP layer needs from the rest of the daemon.
 *
 * @module
 */

import type { Config } from "../config/types.ts";
import type { EventBus } from "../events.ts";
import type { TaskHost } from "../host/types.ts";
import type { JsonValue } from "../sdk/plugin.ts";
import type { SourceControl } from "../sources/types.ts";
import type { HttpLog } from "./middleware/request_log.ts";

/** Telemetry as the HTTP layer reads it. */
export interface HttpTelemetry {
  /** The current snapshot (`/v1/telemetry`). */
  json(): JsonValue;
  /** Prometheus text exposition (`/metrics`). */
  prometheus(): Promise<string>;
  /** Its content type (`text/plain; version=0.0.4; charset=utf-8`). */
  readonly prometheusContentType: string;
}

/** The dependencies of {@linkcode createApp}. */
export interface HttpDeps {
  readonly host: TaskHost;
  readonly sources: SourceControl;
  readonly events: EventBus;
  readonly telemetry: HttpTelemetry;
  /** The config in force (read per request, so a reload applies to the next request). */
  readonly config: () => Config;
  /** True once the daemon is up (with `host.started`, makes `/readyz` answer 200). */
  readonly ready: () => boolean;
  /** Daemon version, shown by `/healthz` and the OpenAPI document. */
  readonly version: string;
  /** Logs requests (at `debug`, failures at `warn`) and unexpected errors. Default: none. */
  readonly log?: HttpLog;
  /** Aborted when the daemon stops: SSE streams end so a graceful shutdown need not wait. */
  readonly closing?: AbortSignal;
  /** Heartbeat period of SSE streams, ms. Default 15000. */
  readonly sseHeartbeatMs?: number;
}
