/**
 * `GET /healthz` (liveness) and `GET /readyz` (readiness).
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { HttpDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { errorResponseSpec, newRouter } from "../router.ts";

const HealthSchema = z.object({
  status: z.literal("ok"),
  version: z.string(),
  uptimeMs: z.number(),
}).openapi("Health");

const ReadySchema = z.object({ ready: z.literal(true) }).openapi("Ready");

const healthz = createRoute({
  method: "get",
  path: "/healthz",
  summary: "Liveness: the process serves HTTP",
  responses: {
    200: { description: "alive", content: { "application/json": { schema: HealthSchema } } },
  },
});

const readyz = createRoute({
  method: "get",
  path: "/readyz",
  summary: "Readiness: up, and every configured plugin has been tried",
  responses: {
    200: { description: "ready", content: { "application/json": { schema: ReadySchema } } },
    503: errorResponseSpec("not ready (`not_ready`), with Retry-After"),
  },
});

/** The health routes. */
export function healthRoutes(deps: HttpDeps): OpenAPIHono {
  const startedMs = performance.now();
  const router = newRouter();
  router.openapi(healthz, (c) =>
    c.json({
      status: "ok" as const,
      version: deps.version,
      uptimeMs: Math.round(performance.now() - startedMs),
    }, 200));
  router.openapi(readyz, (c) => {
    const ready = deps.ready();
    if (!ready || !deps.host.started) {
      throw new HttpError(
        "not_ready",
        !ready ? "the daemon is not up yet" : "plugins are still loading",
      );
    }
    return c.json({ ready: true as const }, 200);
  });
  return router;
}
