/**
 * Plugins: list, show, load, hot swap (reload) and unload.
 *
 * @module
 */

import { isAbsolute, resolve } from "node:path";
import { createRoute, type OpenAPIHono, z } from "@hono/zod-openapi";
import type { HttpDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { BEARER_SECURITY, errorResponseSpec, NameParamSchema, newRouter } from "../router.ts";
import { PluginStatusSchema } from "../schemas.ts";
import type { PluginStatus } from "../../host/types.ts";

const json = (schema: z.ZodType, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

const DirSchema = z.string().min(1, { error: "expected a non-empty folder path" }).max(4096)
  .openapi({
    description: "plugin folder; relative paths are relative to plugins.dir",
    example: "detect",
  });

const list = createRoute({
  method: "get",
  path: "/v1/plugins",
  summary: "Loaded plugins",
  responses: {
    200: json(z.object({ plugins: z.array(PluginStatusSchema) }), "every loaded plugin"),
  },
});

const show = createRoute({
  method: "get",
  path: "/v1/plugins/{name}",
  summary: "One loaded plugin",
  request: { params: NameParamSchema },
  responses: {
    200: json(PluginStatusSchema, "the plugin"),
    400: errorResponseSpec("bad name (`bad_request`)"),
    404: errorResponseSpec("no such plugin (`plugin_not_found`)"),
  },
});

const load = createRoute({
  method: "post",
  path: "/v1/plugins",
  summary: "Load the plugin in a folder; answers once it serves",
  security: BEARER_SECURITY,
  request: {
    body: {
      required: true,
      content: { "application/json": { schema: z.object({ dir: DirSchema }).strict() } },
    },
  },
  responses: {
    201: json(PluginStatusSchema, "loaded and serving"),
    400: errorResponseSpec("bad body or manifest"),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
    409: errorResponseSpec("a plugin of that name is loaded (`plugin_exists`)"),
    422: errorResponseSpec("the plugin failed to load or warm up (`load_failed`)"),
  },
});

const reload = createRoute({
  method: "post",
  path: "/v1/plugins/{name}/reload",
  summary: "Hot swap: warm the new version beside the old one, switch, drain, stop the old",
  security: BEARER_SECURITY,
  request: {
    params: NameParamSchema,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z.object({
            dir: DirSchema.optional().openapi({ description: "default: the current folder" }),
          }).strict(),
        },
      },
    },
  },
  responses: {
    200: json(PluginStatusSchema, "the new version serves"),
    400: errorResponseSpec("bad body (`bad_request`)"),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
    404: errorResponseSpec("no such plugin (`plugin_not_found`)"),
    422: errorResponseSpec("the new version failed; the old one keeps serving (`reload_failed`)"),
  },
});

const unload = createRoute({
  method: "delete",
  path: "/v1/plugins/{name}",
  summary: "Unload: stop accepting, finish in-flight work, stop the workers",
  security: BEARER_SECURITY,
  request: { params: NameParamSchema },
  responses: {
    200: json(z.object({ unloaded: z.string() }), "unloaded"),
    401: errorResponseSpec("token missing or wrong (`unauthorized`)"),
    404: errorResponseSpec("no such plugin (`plugin_not_found`)"),
  },
});

/** Throws `plugin_not_found` naming `name` and the loaded plugins. */
export function pluginNotFound(name: string, loaded: readonly PluginStatus[]): never {
  const names = loaded.map((plugin) => plugin.name).join(", ");
  throw new HttpError(
    "plugin_not_found",
    `no plugin '${name}' is loaded (loaded: ${names === "" ? "none" : names})`,
  );
}

// PluginStatus has readonly fields and a typed manifest; the schema documents it as a plain
// record, so the value is handed to c.json as the schema's output type.
type PluginStatusJson = z.infer<typeof PluginStatusSchema>;
const toJson = (status: PluginStatus) => status as unknown as PluginStatusJson;

/** The plugin routes. */
export function pluginsRoutes(deps: HttpDeps): OpenAPIHono {
  const router = newRouter();
  const pluginDir = (dir: string) =>
    isAbsolute(dir) ? dir : resolve(deps.config().plugins.dir, dir);
  router.openapi(list, (c) => c.json({ plugins: deps.host.list().map(toJson) }, 200));
  router.openapi(show, (c) => {
    const { name } = c.req.valid("param");
    const status = deps.host.get(name) ?? pluginNotFound(name, deps.host.list());
    return c.json(toJson(status), 200);
  });
  router.openapi(load, async (c) => {
    const { dir } = c.req.valid("json");
    return c.json(toJson(await deps.host.load(pluginDir(dir))), 201);
  });
  router.openapi(reload, async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    if (deps.host.get(name) === undefined) pluginNotFound(name, deps.host.list());
    const options = body.dir === undefined ? {} : { dir: pluginDir(body.dir) };
    return c.json(toJson(await deps.host.reload(name, options)), 200);
  });
  router.openapi(unload, async (c) => {
    const { name } = c.req.valid("param");
    if (deps.host.get(name) === undefined) pluginNotFound(name, deps.host.list());
    await deps.host.unload(name);
    return c.json({ unloaded: name }, 200);
  });
  return router;
}
