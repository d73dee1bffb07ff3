import assert from "node:assert/strict";
import { ConfigError } from "../config/errors.ts";
import { serveHttp } from "./listen.ts";
import { testApp } from "./test_support.ts";

Deno.test("serveHttp refuses to listen beyond loopback without a token", () => {
  const { app } = testApp();
  for (const host of ["0.0.0.0", "192.168.1.10", "::"]) {
    assert.throws(
      () => serveHttp(app, { host, port: 0, token: null }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.equal(error.code, "bad_config");
        assert.match(
          error.message,
          new RegExp(
            `auth\\.token is null, expected a token to listen on "${host.replaceAll(".", "\\.")}"`,
          ),
        );
        return true;
      },
    );
  }
});

Deno.test("serveHttp serves on a free loopback port and shuts down with streams open", async () => {
  const state = testApp();
  const server = serveHttp(state.app, { host: "127.0.0.1", port: 0, token: null });
  try {
    assert.notEqual(server.addr.port, 0);
    const base = `http://127.0.0.1:${server.addr.port}`;
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200);
    assert.equal((await health.json()).status, "ok");
    const missing = await fetch(`${base}/nope`);
    assert.equal(missing.status, 404);
    assert.equal((await missing.json()).error.code, "not_found");

    // A client that goes away: the server cancels the body and the stream unsubscribes.
    const gone = await fetch(`${base}/v1/events`);
    const goneReader = gone.body!.getReader();
    await goneReader.read();
    assert.equal(state.bus.subscriberCount, 1);
    await goneReader.cancel();
    for (let polls = 0; polls < 200 && state.bus.subscriberCount > 0; polls += 1) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      state.bus.publish({ type: "plugin", task: "x", action: "loaded", version: "1", atMs: 1 });
    }
    assert.equal(state.bus.subscriberCount, 0);

    const stream = await fetch(`${base}/v1/events`);
    const reader = stream.body!.getReader();
    await reader.read();
    assert.equal(state.bus.subscriberCount, 1);
    // The daemon aborts `closing` before shutting the server down, so open SSE streams end
    // and the graceful shutdown does not wait on them.
    state.closing.abort();
    for (let reads = 0; reads < 10; reads += 1) {
      if ((await reader.read()).done) break;
    }
    assert.equal(state.bus.subscriberCount, 0);
  } finally {
    await server.shutdown();
    await server.finished;
  }
});

Deno.test("serveHttp stops when its signal aborts", async () => {
  const { app } = testApp();
  const controller = new AbortController();
  const server = serveHttp(app, {
    host: "localhost",
    port: 0,
    token: null,
    signal: controller.signal,
  });
  controller.abort();
  await server.finished;
});
