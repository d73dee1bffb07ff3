/**
 * The daemon's HTTP API: the Hono app, its server, and the error table.
 *
 * @example
 * ```ts ignore
 * import { createApp, serveHttp } from "./mod.ts";
 * const app = createApp(deps);
 * const server = serveHttp(app, { host: "127.0.0.1", port: 8470, token: null });
 * ```
 *
 * @module
 */

export { createApp, OPENAPI_PATH } from "./app.ts";
export type { HttpDeps, HttpTelemetry } from "./deps.ts";
export {
  ERROR_STATUS,
  type ErrorBody,
  errorResponse,
  HttpError,
  RETRY_AFTER_CODES,
} from "./errors.ts";
export { type FetchApp, type HttpServer, serveHttp, type ServeHttpOptions } from "./listen.ts";
export { bearerAuth, constantTimeEqual, isControlRequest } from "./middleware/auth.ts";
export { bodyLimit } from "./middleware/body_limit.ts";
export { type HttpLog, requestLog } from "./middleware/request_log.ts";
export { eventStream, formatEvent } from "./sse.ts";
export {
  IMAGE_MEDIA_TYPES,
  mediaTypeEssence,
  parseShapeHeader,
  RAW_MEDIA_TYPE,
  SHAPE_HEADER,
} from "./routes/tasks.ts";
