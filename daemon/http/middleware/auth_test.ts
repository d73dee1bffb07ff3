import assert from "node:assert/strict";
import { testApp } from "../test_support.ts";
import { constantTimeEqual, isControlRequest } from "./auth.ts";

const TOKEN = "0123456789abcdef-token";

const CONTROL: [string, RequestInit][] = [
  ["/v1/plugins", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ dir: "/p/segment" }),
  }],
  ["/v1/plugins/detect/reload", { method: "POST" }],
  ["/v1/plugins/detect", { method: "DELETE" }],
  ["/v1/tasks/detect/infer", {
    method: "POST",
    headers: { "content-type": "image/png" },
    body: new Uint8Array([1, 2]),
  }],
  ["/v1/sources", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "cam", task: "detect", kind: "files", input: "/tmp" }),
  }],
  ["/v1/sources", {}],
];

function withAuth(init: RequestInit, authorization: string | null): RequestInit {
  const headers = new Headers(init.headers);
  if (authorization !== null) headers.set("authorization", authorization);
  return { ...init, headers };
}

Deno.test("control routes need the bearer token once one is configured", async () => {
  for (const [path, init] of CONTROL) {
    const label = `${init.method ?? "GET"} ${path}`;
    for (const authorization of [null, "Bearer wrong-token-000000", `Basic ${TOKEN}`, "Bearer"]) {
      const state = testApp({ config: { auth: { token: TOKEN } } });
      const response = await state.app.request(path, withAuth(init, authorization));
      assert.equal(response.status, 401, `${label} with ${authorization}`);
      assert.equal(response.headers.get("www-authenticate"), 'Bearer realm="onebit"');
      const body = await response.json();
      assert.equal(body.error.code, "unauthorized");
      assert.doesNotMatch(body.error.message, new RegExp(TOKEN));
      assert.equal(state.host.calls.length, 0, label);
      assert.equal(state.sources.started.length, 0, label);
    }
    const state = testApp({ config: { auth: { token: TOKEN } } });
    const response = await state.app.request(path, withAuth(init, `Bearer ${TOKEN}`));
    assert.ok(response.status === 200 || response.status === 201, `${label}: ${response.status}`);
  }
});

Deno.test("without a token control routes are open (loopback only)", async () => {
  for (const [path, init] of CONTROL) {
    const state = testApp();
    const response = await state.app.request(path, init);
    assert.ok(response.status === 200 || response.status === 201, `${path}: ${response.status}`);
  }
});

Deno.test("read routes stay open on loopback with a token, and need it beyond loopback", async () => {
  const reads = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/v1/telemetry",
    "/v1/plugins",
    "/v1/plugins/detect",
    "/openapi.json",
  ];
  const loopback = testApp({ config: { auth: { token: TOKEN } } });
  for (const path of reads) {
    assert.equal((await loopback.app.request(path)).status, 200, path);
  }
  const exposed = testApp({ config: { listen: { host: "0.0.0.0" }, auth: { token: TOKEN } } });
  for (const path of reads) {
    const response = await exposed.app.request(path);
    const probe = path === "/healthz" || path === "/readyz";
    assert.equal(response.status, probe ? 200 : 401, path);
    await response.body?.cancel();
    const authed = await exposed.app.request(path, {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(authed.status, 200, path);
    await authed.body?.cancel();
  }
});

Deno.test("a token change applies to the next request", async () => {
  const state = testApp();
  const init = CONTROL[2][1];
  assert.equal((await state.app.request("/v1/plugins/detect", init)).status, 200);
  state.config = { ...state.config, auth: { token: TOKEN } };
  assert.equal((await state.app.request("/v1/plugins/match", init)).status, 401);
});

Deno.test("constantTimeEqual compares whole strings", () => {
  assert.equal(constantTimeEqual(TOKEN, TOKEN), true);
  assert.equal(constantTimeEqual(TOKEN, `${TOKEN}x`), false);
  assert.equal(constantTimeEqual(`${TOKEN}x`, TOKEN), false);
  assert.equal(constantTimeEqual("", ""), true);
  assert.equal(constantTimeEqual("a", ""), false);
  assert.equal(constantTimeEqual("ab", "ba"), false);
});

Deno.test("isControlRequest covers writes and sources", () => {
  assert.equal(isControlRequest("GET", "/v1/plugins"), false);
  assert.equal(isControlRequest("HEAD", "/metrics"), false);
  assert.equal(isControlRequest("POST", "/v1/tasks/a/infer"), true);
  assert.equal(isControlRequest("DELETE", "/v1/plugins/a"), true);
  assert.equal(isControlRequest("GET", "/v1/sources"), true);
  assert.equal(isControlRequest("GET", "/v1/sourcesx"), false);
});
