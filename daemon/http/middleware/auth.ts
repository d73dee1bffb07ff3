/**
 * Bearer token check for the control API.
 *
 * @module
 */

import type { MiddlewareHandler } from "hono";
import { HttpError } from "../errors.ts";

/** Options of {@linkcode bearerAuth}. */
export interface BearerAuthOptions {
  /** The token now in force, or `null` for none. Read per request so a reload applies at once. */
  token: () => string | null;
  /**
   * True when read routes need the token too (the daemon listens beyond loopback).
   * Default: never.
   */
  protectReads?: () => boolean;
  /** Paths never checked (probes). Default: `/healthz`, `/readyz`. */
  openPaths?: readonly string[];
}

const encoder = new TextEncoder();

/**
 * Compares two strings in time that depends only on their lengths, not on where they differ.
 *
 * @example
 * ```ts
 * import { constantTimeEqual } from "./auth.ts";
 * console.log(constantTimeEqual("abc", "abc"), constantTimeEqual("abc", "abd")); // true false
 * ```
 */
export function constantTimeEqual(a: string, b: string): boolean {
  const left = encoder.encode(a);
  const right = encoder.encode(b);
  const length = Math.max(left.length, right.length);
  let difference = left.length ^ right.length;
  for (let index = 0; index < length; index += 1) {
    difference |= (left[index] ?? 0) ^ (right[index] ?? 0);
  }
  return difference === 0;
}

/**
 * True for control requests: anything but GET/HEAD/OPTIONS, and every `/v1/sources` route
 * (source inputs may carry credentials, such as `rtsp://user:pass@...`).
 */
export function isControlRequest(method: string, path: string): boolean {
  if (method !== "GET" && method !== "HEAD" && method !== "OPTIONS") return true;
  return path === "/v1/sources" || path.startsWith("/v1/sources/");
}

/**
 * Middleware: when a token is configured, control requests (see
 * {@linkcode isControlRequest}) need `Authorization: Bearer <token>`, and so do read
 * requests when `protectReads()` is true; otherwise `unauthorized` (401).
 *
 * @example
 * ```ts
 * import { Hono } from "hono";
 * import { bearerAuth } from "./auth.ts";
 * const app = new Hono();
 * app.use("*", bearerAuth({ token: () => "0123456789abcdef" }));
 * ```
 */
export function bearerAuth(options: BearerAuthOptions): MiddlewareHandler {
  const openPaths = new Set(options.openPaths ?? ["/healthz", "/readyz"]);
  return async function bearerAuth(c, next) {
    const token = options.token();
    if (token === null || openPaths.has(c.req.path)) return await next();
    const control = isControlRequest(c.req.method, c.req.path);
    if (!control && !(options.protectReads?.() ?? false)) return await next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    if (match === null) {
      throw new HttpError(
        "unauthorized",
        `${c.req.method} ${c.req.path} needs 'Authorization: Bearer <token>'; ${
          header === "" ? "none was sent" : "the header is not a bearer token"
        }`,
      );
    }
    if (!constantTimeEqual(match[1], token)) {
      throw new HttpError(
        "unauthorized",
        `${c.req.method} ${c.req.path}: the bearer token is wrong`,
      );
    }
    await next();
  };
}
