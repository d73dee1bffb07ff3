/**
 * Request body size limit.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { bodyLimit as honoBodyLimit } from "hono/body-limit";
import { HttpError } from "../errors.ts";

/** Options of {@linkcode bodyLimit}. */
export interface BodyLimitOptions {
  /** Largest body in bytes, read per request (`limits.bodyBytesMax`, so a reload applies). */
  bytesMax: () => number;
}

/**
 * Middleware: a body over `bytesMax()` fails with `body_too_large` (413). A declared
 * `Content-Length` is checked before reading; a chunked body without one is counted while it
 * is read and refused as soon as it passes the limit (Hono's `bodyLimit`).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bodyLimit } from "./body_limit.ts";
 * const app = new Hono();
 * app.use("*", bodyLimit({ bytesMax: () => 16 * 1024 * 1024 }));
 * ```
 */
export function bodyLimit(options: BodyLimitOptions): MiddlewareHandler {
  return async function bodyLimit(c, next) {
    const bytesMax = options.bytesMax();
    const limit = honoBodyLimit({
      maxSize: bytesMax,
      onError: () => {
        const declared = c.req.header("content-length");
        throw new HttpError(
          "body_too_large",
          `the request body is ${
            declared === undefined ? "over" : `${declared} bytes, over`
          } the limit of ${bytesMax} bytes (limits.bodyBytesMax)`,
        );
      },
    });
    return await limit(c, next);
  };
}
