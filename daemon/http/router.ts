/**
 * What every route area shares: {@linkcode newRouter} (an `OpenAPIHono` whose validation
 * failures become `bad_request` errors naming the field), the error response schema and the
 * bearer security requirement of control routes.
 *
 * @module
 */

import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { ZodError } from "zod";
import { HttpError } from "./errors.ts";

/** The JSON body of every error response. */
export const ErrorSchema = z.object({
  error: z.object({
    code: z.string().openapi({ example: "plugin_not_found" }),
    message: z.string().openapi({ example: "no plugin 'detect' is loaded" }),
  }),
}).openapi("Error");

/** A response entry for an error status, for `createRoute({ responses })`. */
export function errorResponseSpec(description: string) {
  return { description, content: { "application/json": { schema: ErrorSchema } } };
}

/** `security` of control routes: a bearer token when one is configured. */
export const BEARER_SECURITY: { [scheme: string]: string[] }[] = [{ bearer: [] }];

/** Name of the bearer security scheme in the OpenAPI document. */
export const BEARER_SCHEME = "bearer";

const TARGET_NAMES: Readonly<Record<string, string>> = {
  json: "body",
  form: "form field",
  param: "path parameter",
  query: "query parameter",
  header: "header",
  cookie: "cookie",
};

/**
 * A message naming each failed field: `body.dir: Invalid input: expected string, received undefined`.
 *
 * @example
 * ```ts
 * import { z } from "zod";
 * import { validationMessage } from "./router.ts";
 * const result = z.object({ dir: z.string() }).safeParse({});
 * if (!result.success) console.log(validationMessage("json", result.error));
 * ```
 */
export function validationMessage(target: string, error: ZodError): string {
  const where = TARGET_NAMES[target] ?? target;
  return error.issues.slice(0, 5).map((issue) => {
    const field = issue.path.map(String).join(".");
    const name = field === "" ? where : `${where === "body" ? "body" : where} '${field}'`;
    return `${name}: ${issue.message}`;
  }).join("; ");
}

/**
 * A route area: an `OpenAPIHono` whose request validation failures throw `bad_request`
 * (mapped to 400 by the app's `onError`).
 *
 * @example
 * ```ts
 * import { newRouter } from "./router.ts";
 * const router = newRouter();
 * ```
 */
export function newRouter(): OpenAPIHono {
  return new OpenAPIHono({
    defaultHook: (result) => {
      if (!result.success) {
        throw new HttpError("bad_request", validationMessage(result.target, result.error));
      }
    },
  });
}

/** Path parameter `name` of plugins and sources: `[a-z][a-z0-9_-]{0,39}`. */
export const NameParamSchema = z.object({
  name: z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, {
    error: "expected a name matching [a-z][a-z0-9_-]{0,39}",
  }).openapi({ param: { name: "name", in: "path" }, example: "detect" }),
});
