/**
 * `GET /v1/telemetry` (JSON snapshot) and `GET /v1/telemetry/stream` (SSE of snapshots).
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { HttpDeps } from "../deps.ts";
import { newRouter } from "../router.ts";
import { eventStream } from "../sse.ts";

const snapshot = createRoute({
  method: "get",
  path: "/v1/telemetry",
  summary: "Telemetry snapshot: per-task counts and latency, power, energy, thermal, CPU, RSS",
  responses: {
    200: {
      description: "the snapshot",
      content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
    },
  },
});

const stream = createRoute({
  method: "get",
  path: "/v1/telemetry/stream",
  summary: "Telemetry snapshots as server-sent events (`event: telemetry`), the current one first",
  responses: {
    200: {
      description: "an SSE stream; `: heartbeat` comments keep it open",
      content: { "text/event-stream": { schema: z.string() } },
    },
  },
});

/** The telemetry routes. */
export function telemetryRoutes(deps: HttpDeps): OpenAPIHono {
  const router = newRouter();
  router.openapi(snapshot, (c) => c.json(deps.telemetry.json() as Record<string, unknown>, 200));
  router.openapi(stream, () =>
    eventStream(deps.events, {
      types: ["telemetry"],
      initial: [{ type: "telemetry", snapshot: deps.telemetry.json(), atMs: Date.now() }],
      heartbeatMs: deps.sseHeartbeatMs,
      closing: deps.closing,
    }));
  return router;
}
