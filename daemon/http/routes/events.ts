/**
 * `GET /v1/events`: results, plugin lifecycle and source events as server-sent events.
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { HttpDeps } from "../deps.ts";
import { errorResponseSpec, newRouter } from "../router.ts";
import { eventStream } from "../sse.ts";

const events = createRoute({
  method: "get",
  path: "/v1/events",
  summary: "Result, plugin and source events as server-sent events",
  request: {
    query: z.object({
      task: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, {
        error: "expected a plugin name matching [a-z][a-z0-9_-]{0,39}",
      }).optional().openapi({ description: "only events of this task" }),
    }),
  },
  responses: {
    200: {
      description: "an SSE stream: `event: result|plugin|source`, JSON data",
      content: { "text/event-stream": { schema: z.string() } },
    },
    400: errorResponseSpec("bad query (`bad_request`)"),
  },
});

/** The events route. */
export function eventsRoutes(deps: HttpDeps): OpenAPIHono {
  const router = newRouter();
  router.openapi(events, (c) => {
    const { task } = c.req.valid("query");
    return eventStream(deps.events, {
      types: ["result", "plugin", "source"],
      filter: task === undefined ? undefined : (event) => "task" in event && event.task === task,
      heartbeatMs: deps.sseHeartbeatMs,
      closing: deps.closing,
    });
  });
  return router;
}
