/**
 * Serving the app on `Deno.serve`, refusing to listen beyond loopback without a token.
 *
 * @module
 */

import { ConfigError } from "../config/errors.ts";
import { isLoopbackHost } from "../config/schema.ts";

/** Anything with a fetch handler (a Hono app). */
export interface FetchApp {
  fetch(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Response | Promise<Response>;
}

/** Options of {@linkcode serveHttp}. */
export interface ServeHttpOptions {
  /** Address to bind; anything but 127.0.0.0/8, ::1 and localhost needs `token`. */
  host: string;
  /** Port; 0 picks a free one (read it from `addr`). */
  port: number;
  /** The configured bearer token, or `null`. */
  token: string | null;
  /** Aborting it shuts the server down gracefully, like {@linkcode HttpServer.shutdown}. */
  signal?: AbortSignal;
}

/** A listening server. */
export interface HttpServer {
  /** The bound address (with the real port when `port` was 0). */
  readonly addr: Deno.NetAddr;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
  /** Stops accepting connections, lets in-flight requests finish, then resolves. */
  shutdown(): Promise<void>;
}

/**
 * Serves `app` on `options.host:options.port`. Throws a {@linkcode ConfigError} (before
 * binding anything) when the host is not loopback and no token is set.
 *
 * @example
 * ```ts ignore
 * const server = serveHttp(app, { host: "127.0.0.1", port: 0, token: null });
 * console.log(server.addr.port);
 * await server.shutdown();
 * ```
 */
export function serveHttp(app: FetchApp, options: ServeHttpOptions): HttpServer {
  if (!isLoopbackHost(options.host) && (options.token === null || options.token === "")) {
    throw new ConfigError("<listen>", [{
      path: "auth.token",
      message: `auth.token is null, expected a token to listen on "${options.host}" (not loopback)`,
    }]);
  }
  const hostname = options.host.startsWith("[") && options.host.endsWith("]")
    ? options.host.slice(1, -1)
    : options.host;
  const server = Deno.serve({
    hostname,
    port: options.port,
    signal: options.signal,
    onListen: () => {},
  }, (request, info) => app.fetch(request, info));
  return {
    addr: server.addr,
    finished: server.finished,
    shutdown: () => server.shutdown(),
  };
}
