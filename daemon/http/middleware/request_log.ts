/**
 * Request logging.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";

/** Writes one line; the daemon's logger. */
export type HttpLog = (level: "debug" | "info" | "warn" | "error", message: string) => void;

/**
 * Middleware: logs `METHOD path status ms` for every request, at `debug` for successes and
 * `warn` for 4xx/5xx.
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { requestLog } from "./request_log.ts";
 * const app = new Hono();
 * app.use("*", requestLog((level, message) => console.log(level, message)));
 * ```
 */
export function requestLog(log: HttpLog): MiddlewareHandler {
  return async function requestLog(c, next) {
    const startMs = performance.now();
    await next();
    const elapsedMs = (performance.now() - startMs).toFixed(1);
    const status = c.res.status;
    log(status >= 400 ? "warn" : "debug", `${c.req.method} ${c.req.path} ${status} ${elapsedMs}ms`);
  };
}
