/**
 * How errors become HTTP responses: every failure is `{ "error": { "code", "message" } }`
 * with a fixed status per stable `code` ({@linkcode ERROR_STATUS}). Errors are matched by
 * their `code` string, not by class, so the table covers `PluginError` (host), `SourceError`,
 * `MediaError`, `ConfigError`, `ModelError` and `KernelError` alike.
 *
 * | code | status | meaning |
 * |---|---|---|
 * | `bad_request` | 400 | a parameter, query or body field failed validation (named in the message) |
 * | `bad_image`, `bad_shape` | 400 | an image that cannot be decoded; a raw tensor whose `X-Onebit-Shape` is wrong |
 * | `bad_source`, `bad_config`, `bad_options`, `bad_manifest` | 400 | a source, config, plugin option set or manifest that is refused |
 * | `unauthorized` | 401 | bearer token missing or wrong (with `WWW-Authenticate: Bearer`) |
 * | `not_found`, `plugin_not_found`, `source_not_found`, `image_not_found`, `frame_not_found` | 404 | no such route, plugin, source, or result image; no processed frame of the task yet |
 * | `plugin_exists`, `source_exists` | 409 | the name is taken |
 * | `body_too_large`, `image_too_large` | 413 | over `limits.bodyBytesMax` / `limits.imagePixelsMax` |
 * | `unsupported_media_type` | 415 | a request body type the route does not take |
 * | `load_failed`, `reload_failed`, `warmup_failed`, and every `ModelError` code | 422 | the plugin or model given cannot be served (the old version, if any, keeps serving) |
 * | `process_failed`, `plugin_crashed`, `plugin_failed`, `worker_crashed` | 502 | the plugin threw on this frame, or its worker died |
 * | `queue_full` | 503 | the plugin's queue is full (with `Retry-After: 1`) |
 * | `not_ready`, `shutting_down`, `stopping`, `closed`, `plugin_not_ready` | 503 | not serving (yet, or any more) (with `Retry-After: 1`) |
 * | `deadline_exceeded` | 504 | the frame was not done in time |
 * | `internal` | 500 | anything else; the message never carries a stack |
 *
 * An error with a `code` missing from the table keeps its code and message and gets 500
 * (`KernelError`s land here: a kernel failure is the daemon's fault, not the caller's).
 *
 * @module
 */

import { CodedError } from "../errors.ts";

import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { MODEL_ERROR_CODES } from "../runtime/errors.ts";

/** HTTP status per stable error code (see the module doc for the table). */
export const ERROR_STATUS: Readonly<Record<string, ContentfulStatusCode>> = Object.freeze({
  bad_request: 400,
  bad_image: 400,
  bad_shape: 400,
  bad_source: 400,
  bad_config: 400,
  bad_options: 400,
  bad_manifest: 400,
  unauthorized: 401,
  not_found: 404,
  plugin_not_found: 404,
  source_not_found: 404,
  image_not_found: 404,
  frame_not_found: 404,
  plugin_exists: 409,
  source_exists: 409,
  body_too_large: 413,
  image_too_large: 413,
  unsupported_media_type: 415,
  load_failed: 422,
  reload_failed: 422,
  warmup_failed: 422,
  ...Object.fromEntries(MODEL_ERROR_CODES.map((code) => [code, 422 as const])),
  process_failed: 502,
  plugin_crashed: 502,
  plugin_failed: 502,
  worker_crashed: 502,
  queue_full: 503,
  not_ready: 503,
  shutting_down: 503,
  stopping: 503,
  closed: 503,
  plugin_not_ready: 503,
  deadline_exceeded: 504,
  internal: 500,
});

/** Codes answered with `Retry-After: 1` (the condition is expected to pass soon). */
export const RETRY_AFTER_CODES: ReadonlySet<string> = new Set([
  "queue_full",
  "not_ready",
  "shutting_down",
  "stopping",
  "closed",
  "plugin_not_ready",
]);

/**
 * An error the HTTP layer raises itself, with a stable `code` from {@linkcode ERROR_STATUS}.
 *
 * @example
 * ```ts
 * import { HttpError } from "./errors.ts";
 * const error = new HttpError("bad_shape", "X-Onebit-Shape is '2x2', expected HxWxC");
 * console.log(error.status); // 400
 * ```
 */
export class HttpError extends CodedError<string> {
  /** The HTTP status of {@linkcode HttpError.code}. */
  get status(): ContentfulStatusCode {
    return ERROR_STATUS[this.code] ?? 500;
  }
}

/** The JSON body of every error response. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** What {@linkcode errorResponse} decided for an error. */
export interface ErrorReply {
  readonly status: ContentfulStatusCode;
  readonly body: ErrorBody;
  readonly headers: Readonly<Record<string, string>>;
  /** True when the error is unexpected (no stable code): worth logging with its stack. */
  readonly unexpected: boolean;
}

const HTTP_EXCEPTION_CODES: Readonly<Record<number, string>> = {
  400: "bad_request",
  401: "unauthorized",
  404: "not_found",
  413: "body_too_large",
  415: "unsupported_media_type",
};

function stableCode(error: unknown): string | null {
  if (typeof error !== "object" || error === null || !("code" in error)) return null;
  const code = (error as { code: unknown }).code;
  return typeof code === "string" && /^[a-z][a-z0-9_]{0,63}$/.test(code) ? code : null;
}

/**
 * Maps any thrown value to its status, JSON body and extra headers. Errors with a stable
 * `code` keep it and their message; Hono's own exceptions get the code of their status;
 * anything else is `internal` with a generic message (no stack, no internals).
 *
 * @example
 * ```ts
 * import { errorResponse } from "./errors.ts";
 * const reply = errorResponse(Object.assign(new Error("queue of 'detect' is full (8)"), { code: "queue_full" }));
 * console.log(reply.status, reply.headers["retry-after"]); // 503 1
 * ```
 */
export function errorResponse(error: unknown): ErrorReply {
  const code = stableCode(error);
  if (code !== null) {
    const status = ERROR_STATUS[code] ?? 500;
    const headers: Record<string, string> = {};
    if (RETRY_AFTER_CODES.has(code)) headers["retry-after"] = "1";
    if (code === "unauthorized") headers["www-authenticate"] = 'Bearer realm="onebit"';
    const message = (error as Error).message || code;
    return { status, body: { error: { code, message } }, headers, unexpected: false };
  }
  if (error instanceof HTTPException) {
    const mapped = HTTP_EXCEPTION_CODES[error.status] ?? "internal";
    return errorResponse(new HttpError(mapped, error.message || mapped));
  }
  return {
    status: 500,
    body: { error: { code: "internal", message: "internal error; see the daemon log" } },
    headers: {},
    unexpected: true,
  };
}
