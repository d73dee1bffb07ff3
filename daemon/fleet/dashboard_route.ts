/**
 * The dashboard page at `/ui`: static files of `ui/` (no build step), read once when the
 * routes are made and served with their content types. The page talks to the daemon's own
 * API: `/v1/telemetry`, `/v1/telemetry/stream`, `/v1/events`, `/v1/plugins`,
 * `/v1/plugins/:name/reload`, `/v1/tasks/:name/infer` and `/v1/tasks/:name/frame` (the last
 * processed frame, drawn under the overlay of its result).
 *
 * @module
 */

import { Hono } from "hono";

/** Options of {@linkcode dashboardRoutes}. */
export interface DashboardDeps {
  /** Folder of the page files. Default: `ui/` beside this module. */
  readonly uiDir?: string | URL;
}

const FILES: Readonly<Record<string, string>> = Object.freeze({
  "index.html": "text/html; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
});

/** Headers of every dashboard response: no caching across daemon upgrades, no framing. */
const SECURITY_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "content-security-policy":
    "default-src 'self'; img-src 'self' data: blob:; connect-src 'self' data:; style-src 'self'; script-src 'self'",
});

/**
 * A Hono app serving `GET /ui`, `GET /ui/` (the page) and `GET /ui/<file>` (its script and
 * style). Mount it at the root: `app.route("/", dashboardRoutes())`. Throws when a page file
 * is missing, so a broken install fails at start rather than on the first visit.
 *
 * @example
 * ```ts
 * const ui = dashboardRoutes();
 * const page = await ui.request("/ui");
 * page.headers.get("content-type"); // "text/html; charset=utf-8"
 * ```
 */
export function dashboardRoutes(deps: DashboardDeps = {}): Hono {
  const base = deps.uiDir ?? new URL("./ui/", import.meta.url);
  const files = new Map<string, { body: Uint8Array<ArrayBuffer>; type: string }>();
  for (const [name, type] of Object.entries(FILES)) {
    const url = typeof base === "string"
      ? `${base.replace(/\/$/, "")}/${name}`
      : new URL(name, base);
    files.set(name, { body: Deno.readFileSync(url) as Uint8Array<ArrayBuffer>, type });
  }
  const app = new Hono();
  const serve = (name: string) => {
    const file = files.get(name)!;
    return new Response(file.body, {
      status: 200,
      headers: { "content-type": file.type, ...SECURITY_HEADERS },
    });
  };
  app.get("/ui", () => serve("index.html"));
  app.get("/ui/", () => serve("index.html"));
  app.get("/ui/:file", (c) => {
    const name = c.req.param("file");
    if (!files.has(name)) {
      return c.json(
        { error: { code: "not_found", message: `No dashboard file '${name}'` } },
        404,
      );
    }
    return serve(name);
  });
  return app;
}
