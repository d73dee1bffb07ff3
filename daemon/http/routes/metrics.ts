/**
 * `GET /metrics`: Prometheus text exposition.
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { HttpDeps } from "../deps.ts";
import { newRouter } from "../router.ts";

const metrics = createRoute({
  method: "get",
  path: "/metrics",
  summary: "Prometheus metrics (names start with onebit_)",
  responses: {
    200: {
      description: "Prometheus text exposition format",
      content: { "text/plain": { schema: z.string() } },
    },
  },
});

/** The metrics route. */
export function metricsRoutes(deps: HttpDeps): OpenAPIHono {
  const router = newRouter();
  router.openapi(metrics, async (c) => {
    const text = await deps.telemetry.prometheus();
    return c.text(text, 200, { "content-type": deps.telemetry.prometheusContentType });
  });
  return router;
}
