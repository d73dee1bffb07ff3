/**
 * The HTTP API (DESIGN.md section 6): {@linkcode createApp} mounts the middleware, one
 * sub-app per route area, `/openapi.json`, and the single error handler.
 *
 * @module
 */

import { OpenAPIHono } from "@hono/zod-openapi";
import { isLoopbackHost } from "../config/schema.ts";
import type { HttpDeps } from "./deps.ts";
import { errorResponse } from "./errors.ts";
import { bearerAuth } from "./middleware/auth.ts";
import { bodyLimit } from "./middleware/body_limit.ts";
import { requestLog } from "./middleware/request_log.ts";
import { BEARER_SCHEME } from "./router.ts";
import { eventsRoutes } from "./routes/events.ts";
import { healthRoutes } from "./routes/health.ts";
import { metricsRoutes } from "./routes/metrics.ts";
import { pluginsRoutes } from "./routes/plugins.ts";
import { sourcesRoutes } from "./routes/sources.ts";
import { tasksRoutes } from "./routes/tasks.ts";
import { telemetryRoutes } from "./routes/telemetry.ts";

export type { HttpDeps, HttpTelemetry } from "./deps.ts";

/** Path of the generated OpenAPI document. */
export const OPENAPI_PATH = "/openapi.json";

/**
 * The daemon's HTTP app. Auth: when `auth.token` is set, control routes (every
 * non-GET route and `/v1/sources`) need it, and read routes need it too while
 * `listen.host` is not loopback; `/healthz` and `/readyz` stay open for probes. Bodies over
 * `limits.bodyBytesMax` fail with 413. Both are read from `deps.config()` per request.
 *
 * @example
 * ```ts ignore
 * const app = createApp({ host, sources, events, telemetry, config: () => store.current, ready: () => true, version: "0.1.0" });
 * const response = await app.request("/healthz");
 * ```
 */
export function createApp(deps: HttpDeps): OpenAPIHono {
  const app = new OpenAPIHono();
  if (deps.log !== undefined) app.use("*", requestLog(deps.log));
  app.use(
    "*",
    bearerAuth({
      token: () => deps.config().auth.token,
      protectReads: () => !isLoopbackHost(deps.config().listen.host),
    }),
  );
  app.use("*", bodyLimit({ bytesMax: () => deps.config().limits.bodyBytesMax }));

  app.route("/", healthRoutes(deps));
  app.route("/", metricsRoutes(deps));
  app.route("/", telemetryRoutes(deps));
  app.route("/", pluginsRoutes(deps));
  app.route("/", tasksRoutes(deps));
  app.route("/", sourcesRoutes(deps));
  app.route("/", eventsRoutes(deps));

  app.openAPIRegistry.registerComponent("securitySchemes", BEARER_SCHEME, {
    type: "http",
    scheme: "bearer",
    description: "auth.token of the config; needed by control routes once set",
  });
  app.doc(OPENAPI_PATH, {
    openapi: "3.0.3",
    info: {
      title: "onebit daemon",
      version: deps.version,
      description: "Binary neural network inference daemon: plugins, tasks, sources, telemetry.",
    },
  });

  app.notFound((c) =>
    c.json({
      error: { code: "not_found", message: `no route ${c.req.method} ${c.req.path}` },
    }, 404)
  );
  app.onError((error, c) => {
    const reply = errorResponse(error);
    if (reply.unexpected) {
      deps.log?.(
        "error",
        `${c.req.method} ${c.req.path} failed: ${error instanceof Error ? error.stack : error}`,
      );
    }
    return c.json(reply.body, reply.status, reply.headers);
  });
  return app;
}
