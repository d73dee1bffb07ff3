/**
 * Frame sources: list, start, stop. Every route here is a control route (inputs may carry
 * credentials).
 *
 * @module
 */

import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import { sourceConfigSchema } from "../../config/schema.ts";
import type { HttpDeps } from "../deps.ts";
import { BEARER_SECURITY, errorResponseSpec, NameParamSchema, newRouter } from "../router.ts";
import { SourceStatusSchema } from "../schemas.ts";
import type { SourceStatus } from "../../sources/types.ts";

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const list = createRoute({
  method: "get",
  path: "/v1/sources",
  summary: "Sources started since boot",
  security: BEARER_SECURITY,
  responses: {
    200: json(z.object({ sources: z.array(SourceStatusSchema) }), "every source"),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
  },
});

const start = createRoute({
  method: "post",
  path: "/v1/sources",
  summary: "Start a source (files or ffmpeg) feeding a plugin",
  security: BEARER_SECURITY,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          // The config file's own schema (strict, with defaults), so a source started over
          // HTTP obeys exactly the rules of one in the config.
          schema: sourceConfigSchema,
        },
      },
    },
  },
  responses: {
    201: json(SourceStatusSchema, "started"),
    400: errorResponseSpec("bad source config (`bad_request`, `bad_source`)"),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
    404: errorResponseSpec("no such plugin (`plugin_not_found`)"),
    409: errorResponseSpec("a source of that name exists (`source_exists`)"),
  },
});

const stop = createRoute({
  method: "delete",
  path: "/v1/sources/{name}",
  summary: "Stop a source (waits for its in-flight frame)",
  security: BEARER_SECURITY,
  request: { params: NameParamSchema },
  responses: {
    200: json(z.object({ stopped: z.string() }), "stopped"),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
    404: errorResponseSpec("no such source (`source_not_found`)"),
  },
});

type SourceStatusJson = z.infer<typeof SourceStatusSchema>;
const toJson = (status: SourceStatus) => status as unknown as SourceStatusJson;

/** The source routes. */
export function sourcesRoutes(deps: HttpDeps): OpenAPIHono {
  const router = newRouter();
  router.openapi(list, (c) => c.json({ sources: deps.sources.list().map(toJson) }, 200));
  router.openapi(start, async (c) => {
    return c.json(toJson(await deps.sources.start(c.req.valid("json"))), 201);
  });
  router.openapi(stop, async (c) => {
    const { name } = c.req.valid("param");
    await deps.sources.stop(name);
    return c.json({ stopped: name }, 200);
  });
  return router;
}
