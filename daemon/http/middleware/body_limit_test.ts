import assert from "node:assert/strict";
import { testApp } from "../test_support.ts";

function chunked(chunks: number, chunkBytes: number): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream({
    pull(controller) {
      if (sent === chunks) return controller.close();
      sent += 1;
      controller.enqueue(new Uint8Array(chunkBytes).fill(sent));
    },
  });
}

Deno.test("a body over limits.bodyBytesMax with Content-Length is 413 body_too_large", async () => {
  const state = testApp({ config: { limits: { bodyBytesMax: 1024 } } });
  const response = await state.app.request("/v1/tasks/detect/infer", {
    method: "POST",
    headers: { "content-type": "image/png", "content-length": "2048" },
    body: new Uint8Array(2048),
  });
  assert.equal(response.status, 413);
  const body = await response.json();
  assert.equal(body.error.code, "body_too_large");
  assert.match(body.error.message, /2048 bytes, over the limit of 1024 bytes/);
  assert.equal(state.host.calls.length, 0);
});

Deno.test("a chunked body over the limit without Content-Length is 413", async () => {
  const state = testApp({ config: { limits: { bodyBytesMax: 1024 } } });
  const request = new Request("http://localhost/v1/tasks/detect/infer", {
    method: "POST",
    headers: { "content-type": "image/png" },
    body: chunked(4, 512),
  });
  assert.equal(request.headers.get("content-length"), null);
  const response = await state.app.request(request);
  assert.equal(response.status, 413);
  assert.equal((await response.json()).error.code, "body_too_large");
  assert.equal(state.host.calls.length, 0);
});

Deno.test("a chunked body within the limit reaches the host whole", async () => {
  const state = testApp({ config: { limits: { bodyBytesMax: 1024 } } });
  const response = await state.app.request(
    new Request("http://localhost/v1/tasks/detect/infer", {
      method: "POST",
      headers: { "content-type": "image/png" },
      body: chunked(2, 512),
    }),
  );
  assert.equal(response.status, 200);
  const call = state.host.calls.find((entry) => entry.method === "infer");
  const bytes = (call?.args[1] as { images: { bytes: Uint8Array }[] }).images[0].bytes;
  assert.equal(bytes.length, 1024);
  assert.equal(bytes[0], 1);
  assert.equal(bytes[1023], 2);
});

Deno.test("the body limit applies to JSON control bodies too", async () => {
  const state = testApp({ config: { limits: { bodyBytesMax: 1024 } } });
  const response = await state.app.request("/v1/plugins", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ dir: "x".repeat(2000) }),
  });
  assert.equal(response.status, 413);
});
