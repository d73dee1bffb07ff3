import assert from "node:assert/strict";
import { CodedError, pluginStatus, testApp } from "./test_support.ts";

async function json(response: Response): Promise<Record<string, unknown>> {
  assert.match(response.headers.get("content-type") ?? "", /application\/json/);
  return await response.json();
}

async function errorCode(response: Response): Promise<string> {
  const body = await json(response) as { error: { code: string; message: string } };
  assert.equal(typeof body.error.message, "string");
  return body.error.code;
}

Deno.test("GET /healthz answers ok with the version", async () => {
  const { app } = testApp();
  const response = await app.request("/healthz");
  assert.equal(response.status, 200);
  const body = await json(response);
  assert.equal(body.status, "ok");
  assert.equal(body.version, "0.0.0-test");
});

Deno.test("GET /readyz is 200 only when ready and the host has started", async () => {
  const state = testApp();
  assert.equal((await state.app.request("/readyz")).status, 200);
  state.ready = false;
  const notUp = await state.app.request("/readyz");
  assert.equal(notUp.status, 503);
  assert.equal(notUp.headers.get("retry-after"), "1");
  assert.equal(await errorCode(notUp), "not_ready");
  state.ready = true;
  state.host.started = false;
  const loading = await state.app.request("/readyz");
  assert.equal(loading.status, 503);
  assert.equal(await errorCode(loading), "not_ready");
});

Deno.test("GET /metrics answers Prometheus text with its content type", async () => {
  const { app, telemetry } = testApp();
  const response = await app.request("/metrics");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), telemetry.prometheusContentType);
  assert.match(await response.text(), /^onebit_up 1$/m);
});

Deno.test("GET /v1/telemetry answers the snapshot", async () => {
  const state = testApp();
  state.telemetry.snapshot = { tasks: { detect: { inferences: 3 } } };
  const response = await state.app.request("/v1/telemetry");
  assert.equal(response.status, 200);
  assert.deepEqual(await json(response), { tasks: { detect: { inferences: 3 } } });
});

Deno.test("plugin routes list, show, load, reload and unload", async () => {
  const state = testApp({ config: { plugins: { dir: "/srv/plugins" } } });
  const { app, host } = state;
  const list = await json(await app.request("/v1/plugins")) as { plugins: { name: string }[] };
  assert.deepEqual(list.plugins.map((plugin) => plugin.name), ["detect", "match"]);

  const show = await app.request("/v1/plugins/detect");
  assert.equal(show.status, 200);
  assert.equal((await json(show)).version, "1.0.0");

  const load = await app.request("/v1/plugins", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ dir: "segment" }),
  });
  assert.equal(load.status, 201);
  assert.equal((await json(load)).name, "segment");
  assert.deepEqual(host.calls.at(-1), { method: "load", args: ["/srv/plugins/segment"] });

  const reload = await app.request("/v1/plugins/segment/reload", { method: "POST" });
  assert.equal(reload.status, 200);
  assert.equal((await json(reload)).reloads, 1);
  assert.deepEqual(host.calls.at(-1), { method: "reload", args: ["segment", {}] });

  const moved = await app.request("/v1/plugins/segment/reload", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ dir: "/opt/segment-v2" }),
  });
  assert.equal(moved.status, 200);
  assert.deepEqual(host.calls.at(-1), {
    method: "reload",
    args: ["segment", { dir: "/opt/segment-v2" }],
  });

  const unload = await app.request("/v1/plugins/segment", { method: "DELETE" });
  assert.equal(unload.status, 200);
  assert.deepEqual(await json(unload), { unloaded: "segment" });
  assert.equal(host.get("segment"), undefined);
});

Deno.test("unknown plugins are 404 plugin_not_found on every plugin route", async () => {
  const { app, host } = testApp();
  const requests: [string, RequestInit][] = [
    ["/v1/plugins/nope", {}],
    ["/v1/plugins/nope/reload", { method: "POST" }],
    ["/v1/plugins/nope", { method: "DELETE" }],
    ["/v1/tasks/nope/infer", {
      method: "POST",
      headers: { "content-type": "image/png" },
      body: new Uint8Array([1]),
    }],
  ];
  for (const [path, init] of requests) {
    const response = await app.request(path, init);
    assert.equal(response.status, 404, path);
    const body = await response.json();
    assert.equal(body.error.code, "plugin_not_found");
    assert.match(body.error.message, /'nope'.*loaded: detect, match/);
  }
  assert.deepEqual(host.calls, []);
});

Deno.test("bad plugin bodies and names are 400 bad_request naming the field", async () => {
  const { app } = testApp();
  const missing = await app.request("/v1/plugins", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ folder: "x" }),
  });
  assert.equal(missing.status, 400);
  const body = await missing.json();
  assert.equal(body.error.code, "bad_request");
  assert.match(body.error.message, /dir|folder/);

  const badName = await app.request("/v1/plugins/Bad%20Name");
  assert.equal(badName.status, 400);
  assert.match((await badName.json()).error.message, /path parameter 'name'/);

  const notJson = await app.request("/v1/plugins", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{dir:",
  });
  assert.equal(notJson.status, 400);
  assert.equal((await notJson.json()).error.code, "bad_request");

  const text = await app.request("/v1/plugins", {
    method: "POST",
    headers: { "content-type": "text/plain" },
    body: "dir",
  });
  assert.equal(text.status, 415);
  assert.equal((await text.json()).error.code, "unsupported_media_type");
});

Deno.test("source routes list, start and stop, refusing bad configs", async () => {
  const { app, sources } = testApp();
  const start = await app.request("/v1/sources", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "cam", task: "detect", kind: "ffmpeg", input: "/dev/video0" }),
  });
  assert.equal(start.status, 201);
  const started = await start.json();
  assert.deepEqual(started.config, {
    name: "cam",
    task: "detect",
    kind: "ffmpeg",
    input: "/dev/video0",
    fps: 10,
    loop: false,
  });
  const list = await (await app.request("/v1/sources")).json();
  assert.deepEqual(list.sources.map((source: { config: { name: string } }) => source.config.name), [
    "cam",
  ]);

  const again = await app.request("/v1/sources", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "cam", task: "detect", kind: "files", input: "/tmp" }),
  });
  assert.equal(again.status, 409);
  assert.equal((await again.json()).error.code, "source_exists");

  const bad = await app.request("/v1/sources", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "cam2", task: "detect", kind: "usb", input: "/tmp", speed: 1 }),
  });
  assert.equal(bad.status, 400);
  const badBody = await bad.json();
  assert.equal(badBody.error.code, "bad_request");
  assert.match(badBody.error.message, /kind/);
  assert.equal(sources.started.length, 1);

  const stop = await app.request("/v1/sources/cam", { method: "DELETE" });
  assert.equal(stop.status, 200);
  assert.deepEqual(await stop.json(), { stopped: "cam" });
  const gone = await app.request("/v1/sources/cam", { method: "DELETE" });
  assert.equal(gone.status, 404);
  assert.equal((await gone.json()).error.code, "source_not_found");
});

Deno.test("unknown routes are JSON 404 not_found", async () => {
  const { app } = testApp();
  for (
    const [path, method] of [["/nope", "GET"], ["/v1/plugins/a/b/c", "GET"], ["/healthz", "POST"]]
  ) {
    const response = await app.request(path, { method });
    assert.equal(response.status, 404, `${method} ${path}`);
    const body = await response.json();
    assert.equal(body.error.code, "not_found");
    assert.match(body.error.message, new RegExp(`${method} ${path.replaceAll("/", "\\/")}`));
  }
});

Deno.test("host errors map to their fixed status and code", async () => {
  const cases: [string, number][] = [
    ["plugin_exists", 409],
    ["load_failed", 422],
    ["reload_failed", 422],
    ["bad_manifest", 400],
    ["queue_full", 503],
    ["deadline_exceeded", 504],
    ["bad_image", 400],
    ["image_too_large", 413],
    ["plugin_failed", 502],
    ["checksum_mismatch", 422],
    ["invalid_argument", 500],
  ];
  for (const [code, status] of cases) {
    const state = testApp();
    state.host.failures.set("load", new CodedError(code, `it failed with ${code}`));
    const response = await state.app.request("/v1/plugins", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dir: "/x/y" }),
    });
    assert.equal(response.status, status, code);
    assert.deepEqual(await response.json(), {
      error: { code, message: `it failed with ${code}` },
    });
    assert.equal(response.headers.get("retry-after"), code === "queue_full" ? "1" : null);
  }
});

Deno.test("unexpected errors are 500 internal without the message or stack", async () => {
  const state = testApp();
  state.host.failures.set("unload", new TypeError("secret internals at /home/x.ts:1"));
  const response = await state.app.request("/v1/plugins/detect", { method: "DELETE" });
  assert.equal(response.status, 500);
  const body = await response.json();
  assert.equal(body.error.code, "internal");
  assert.doesNotMatch(JSON.stringify(body), /secret|x\.ts/);
});

Deno.test("/openapi.json documents every route with responses", async () => {
  const { app } = testApp({ plugins: [pluginStatus("detect")] });
  const response = await app.request("/openapi.json");
  assert.equal(response.status, 200);
  const document = await response.json();
  assert.match(document.openapi, /^3\./);
  assert.equal(document.info.version, "0.0.0-test");
  const expected: Record<string, string[]> = {
    "/healthz": ["get"],
    "/readyz": ["get"],
    "/metrics": ["get"],
    "/v1/telemetry": ["get"],
    "/v1/telemetry/stream": ["get"],
    "/v1/plugins": ["get", "post"],
    "/v1/plugins/{name}": ["get", "delete"],
    "/v1/plugins/{name}/reload": ["post"],
    "/v1/tasks/{name}/infer": ["post"],
    "/v1/tasks/{name}/frame": ["get"],
    "/v1/sources": ["get", "post"],
    "/v1/sources/{name}": ["delete"],
    "/v1/events": ["get"],
  };
  assert.deepEqual(Object.keys(document.paths).sort(), Object.keys(expected).sort());
  for (const [path, methods] of Object.entries(expected)) {
    assert.deepEqual(Object.keys(document.paths[path]).sort(), [...methods].sort(), path);
    for (const method of methods) {
      const operation = document.paths[path][method];
      assert.ok(Object.keys(operation.responses).length > 0, `${method} ${path} has responses`);
      for (const [status, spec] of Object.entries(operation.responses)) {
        assert.ok(
          (spec as { content?: unknown }).content,
          `${method} ${path} ${status} has content`,
        );
      }
      if (method !== "get" || path.startsWith("/v1/sources")) {
        assert.deepEqual(operation.security, [{ bearer: [] }], `${method} ${path} is secured`);
      }
      if (method === "post" && path !== "/v1/plugins/{name}/reload") {
        assert.ok(operation.requestBody, `${method} ${path} has a request body`);
      }
    }
  }
  assert.ok(document.paths["/v1/tasks/{name}/infer"].post.requestBody.content["image/png"]);
  assert.ok(document.components.securitySchemes.bearer);
  assert.ok(document.components.schemas.PluginStatus);
});
