import assert from "node:assert/strict";
import type { InferRequest } from "../../host/types.ts";
import { CodedError, testApp } from "../test_support.ts";
import { parseShapeHeader } from "./tasks.ts";

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

function post(body: BodyInit, headers: Record<string, string>, path = "/v1/tasks/detect/infer") {
  return new Request(`http://localhost${path}`, { method: "POST", headers, body });
}

function lastInfer(state: ReturnType<typeof testApp>): InferRequest {
  const call = state.host.calls.findLast((entry) => entry.method === "infer");
  assert.ok(call, "infer was called");
  return call.args[1] as InferRequest;
}

Deno.test("infer passes an encoded image to the host without decoding it", async () => {
  for (
    const mediaType of [
      "image/png",
      "image/jpeg",
      "image/x-portable-pixmap",
      "image/x-portable-graymap",
    ]
  ) {
    const state = testApp();
    const response = await state.app.request(post(PNG, { "content-type": mediaType }));
    assert.equal(response.status, 200, mediaType);
    const body = await response.json();
    assert.equal(body.task, "detect");
    assert.equal(body.version, "1.0.0");
    assert.equal(typeof body.frameId, "number");
    assert.equal(body.latencyMs, 2.5);
    assert.equal(body.queuedMs, 0.5);
    assert.deepEqual(body.data, { ok: true });
    assert.deepEqual(body.images, {});
    const request = lastInfer(state);
    assert.equal(request.source, "http");
    assert.equal(request.images.length, 1);
    assert.equal(request.images[0].mediaType, mediaType);
    assert.deepEqual(request.images[0].bytes, PNG);
    assert.equal(request.images[0].shape, undefined);
  }
});

Deno.test("infer ignores media type parameters and passes deadlineMs", async () => {
  const state = testApp();
  const response = await state.app.request(
    post(PNG, { "content-type": "image/PNG; q=1" }, "/v1/tasks/detect/infer?deadlineMs=250"),
  );
  assert.equal(response.status, 200);
  assert.equal(lastInfer(state).images[0].mediaType, "image/png");
  assert.equal(lastInfer(state).deadlineMs, 250);
});

Deno.test("infer takes a raw tensor with a valid shape header", async () => {
  const state = testApp();
  const bytes = new Uint8Array(2 * 3 * 3).fill(7);
  const response = await state.app.request(
    post(bytes, { "content-type": "application/octet-stream", "x-onebit-shape": "2x3x3" }),
  );
  assert.equal(response.status, 200);
  const request = lastInfer(state);
  assert.deepEqual(request.images[0].shape, [2, 3, 3]);
  assert.equal(request.images[0].mediaType, "application/octet-stream");
  assert.equal(request.images[0].bytes.length, 18);
});

Deno.test("infer refuses bad shape headers with 400 bad_shape naming the value", async () => {
  const cases: [string | undefined, number, RegExp][] = [
    [undefined, 6, /needs the header X-Onebit-Shape/],
    ["2x3", 6, /'2x3', expected HxWxC/],
    ["axbx1", 6, /expected HxWxC/],
    ["2x3x2", 12, /channels is 2, expected 1 or 3/],
    ["2x3x4", 24, /channels is 4/],
    ["0x3x1", 0 + 1, /height and width must be 1\.\.65535/],
    ["2x3x1", 7, /'2x3x1' \(6 bytes\), but the body is 7 bytes/],
    ["2x3x3", 6, /\(18 bytes\), but the body is 6 bytes/],
  ];
  for (const [shape, length, pattern] of cases) {
    const state = testApp();
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (shape !== undefined) headers["x-onebit-shape"] = shape;
    const response = await state.app.request(post(new Uint8Array(length), headers));
    assert.equal(response.status, 400, `${shape}`);
    const body = await response.json();
    assert.equal(body.error.code, "bad_shape", `${shape}`);
    assert.match(body.error.message, pattern);
    assert.equal(state.host.calls.length, 0);
  }
});

Deno.test("infer refuses a raw tensor over limits.imagePixelsMax with 413", async () => {
  const state = testApp({ config: { limits: { imagePixelsMax: 4 } } });
  const response = await state.app.request(
    post(new Uint8Array(9), {
      "content-type": "application/octet-stream",
      "x-onebit-shape": "3x3x1",
    }),
  );
  assert.equal(response.status, 413);
  assert.equal((await response.json()).error.code, "image_too_large");
});

Deno.test("infer refuses unknown and missing media types with 415", async () => {
  const cases: Record<string, string>[] = [
    { "content-type": "text/plain" },
    { "content-type": "image/gif" },
    {},
  ];
  for (const headers of cases) {
    const state = testApp();
    const response = await state.app.request(post(PNG, headers));
    assert.equal(response.status, 415, JSON.stringify(headers));
    const body = await response.json();
    assert.equal(body.error.code, "unsupported_media_type");
    assert.match(body.error.message, /expected one of image\/png/);
    assert.equal(state.host.calls.length, 0);
  }
});

Deno.test("infer refuses an empty body with 400 bad_image", async () => {
  const state = testApp();
  const response = await state.app.request(
    post(new Uint8Array(0), { "content-type": "image/png" }),
  );
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error.code, "bad_image");
});

Deno.test("infer takes a multipart pair for a two-frame task, in order", async () => {
  const state = testApp();
  const form = new FormData();
  form.append("left", new Blob([PNG], { type: "image/png" }), "a.png");
  form.append(
    "right",
    new Blob([new Uint8Array([0xff, 0xd8, 0xff])], { type: "image/jpeg" }),
    "b.jpg",
  );
  const response = await state.app.request(
    new Request("http://localhost/v1/tasks/match/infer", { method: "POST", body: form }),
  );
  assert.equal(response.status, 200);
  const request = lastInfer(state);
  assert.deepEqual(request.images.map((image) => image.mediaType), ["image/png", "image/jpeg"]);
  assert.deepEqual(request.images[1].bytes, new Uint8Array([0xff, 0xd8, 0xff]));
});

Deno.test("infer refuses a wrong image count and bad multipart parts", async () => {
  const one = testApp();
  const single = await one.app.request(
    post(PNG, { "content-type": "image/png" }, "/v1/tasks/match/infer"),
  );
  assert.equal(single.status, 400);
  assert.match((await single.json()).error.message, /'match' takes 2 images per frame, got 1/);

  const forms: [FormData, number, string][] = [];
  const three = new FormData();
  for (let index = 0; index < 3; index += 1) {
    three.append(`p${index}`, new Blob([PNG], { type: "image/png" }));
  }
  forms.push([three, 400, "bad_request"]);
  const text = new FormData();
  text.append("note", "hello");
  forms.push([text, 400, "bad_request"]);
  const gif = new FormData();
  gif.append("image", new Blob([PNG], { type: "image/gif" }));
  forms.push([gif, 415, "unsupported_media_type"]);
  for (const [form, status, code] of forms) {
    const state = testApp();
    const response = await state.app.request(
      new Request("http://localhost/v1/tasks/detect/infer", { method: "POST", body: form }),
    );
    assert.equal(response.status, status, code);
    assert.equal((await response.json()).error.code, code);
    assert.equal(state.host.calls.length, 0);
  }
});

Deno.test("infer returns result images as base64, or raw with ?image=", async () => {
  const state = testApp();
  const mask = new Uint8Array([1, 2, 3, 250]);
  state.host.resultImages = { mask: { mediaType: "image/png", bytes: mask } };
  const response = await state.app.request(post(PNG, { "content-type": "image/png" }));
  const body = await response.json();
  assert.deepEqual(body.images, { mask: { mediaType: "image/png", bytes: "AQID+g==" } });

  const raw = await state.app.request(
    post(PNG, { "content-type": "image/png" }, "/v1/tasks/detect/infer?image=mask"),
  );
  assert.equal(raw.status, 200);
  assert.equal(raw.headers.get("content-type"), "image/png");
  assert.deepEqual(new Uint8Array(await raw.arrayBuffer()), mask);

  const missing = await state.app.request(
    post(PNG, { "content-type": "image/png" }, "/v1/tasks/detect/infer?image=depth"),
  );
  assert.equal(missing.status, 404);
  const error = await missing.json();
  assert.equal(error.error.code, "image_not_found");
  assert.match(error.error.message, /no image 'depth' \(it has: mask\)/);
});

Deno.test("infer maps host failures: queue_full 503 with Retry-After, deadline 504, bad_image 400", async () => {
  const cases: [string, number][] = [["queue_full", 503], ["deadline_exceeded", 504], [
    "bad_image",
    400,
  ], ["plugin_failed", 502]];
  for (const [code, status] of cases) {
    const state = testApp();
    state.host.failures.set("infer", new CodedError(code, `frame failed: ${code}`));
    const response = await state.app.request(post(PNG, { "content-type": "image/png" }));
    assert.equal(response.status, status, code);
    assert.equal((await response.json()).error.code, code);
    if (code === "queue_full") assert.equal(response.headers.get("retry-after"), "1");
  }
});

Deno.test("infer refuses a bad deadlineMs query", async () => {
  const state = testApp();
  const response = await state.app.request(
    post(PNG, { "content-type": "image/png" }, "/v1/tasks/detect/infer?deadlineMs=-5"),
  );
  assert.equal(response.status, 400);
  const body = await response.json();
  assert.equal(body.error.code, "bad_request");
  assert.match(body.error.message, /query parameter 'deadlineMs'/);
});

Deno.test("parseShapeHeader accepts gray and RGB shapes", () => {
  assert.deepEqual(parseShapeHeader("1x1x1", 1, 1), [1, 1, 1]);
  assert.deepEqual(parseShapeHeader(" 480x640x3 ", 480 * 640 * 3, 1 << 24), [480, 640, 3]);
  assert.throws(() => parseShapeHeader("70000x1x1", 70000, 1 << 24), /height and width/);
});

Deno.test("frame answers the last frame's exact bytes with its media type and headers", async () => {
  const state = testApp();
  const pixels = new Uint8Array([10, 20, 30, 40, 50, 60]);
  state.host.lastFrames.set("detect", {
    frameId: 42,
    images: [{ bytes: pixels, mediaType: "application/octet-stream", shape: [1, 2, 3] }],
    atMs: 1,
  });
  const response = await state.app.request("/v1/tasks/detect/frame");
  assert.equal(response.status, 200);
  assert.equal(response.headers.get("content-type"), "application/octet-stream");
  assert.equal(response.headers.get("x-onebit-frame-id"), "42");
  assert.equal(response.headers.get("x-onebit-frame-images"), "1");
  assert.equal(response.headers.get("x-onebit-shape"), "1x2x3");
  assert.equal(response.headers.get("cache-control"), "no-store");
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), pixels);

  state.host.lastFrames.set("match", {
    frameId: 43,
    images: [
      { bytes: PNG, mediaType: "image/png" },
      { bytes: new Uint8Array([0xff, 0xd8, 0xff]), mediaType: "image/jpeg" },
    ],
    atMs: 2,
  });
  const second = await state.app.request("/v1/tasks/match/frame?index=1");
  assert.equal(second.status, 200);
  assert.equal(second.headers.get("content-type"), "image/jpeg");
  assert.equal(second.headers.get("x-onebit-frame-id"), "43");
  assert.equal(second.headers.get("x-onebit-frame-images"), "2");
  assert.equal(second.headers.get("x-onebit-shape"), null, "encoded images have no shape");
  assert.deepEqual(new Uint8Array(await second.arrayBuffer()), new Uint8Array([0xff, 0xd8, 0xff]));
});

Deno.test("frame answers 404 frame_not_found before the first frame, plugin_not_found for unknown plugins", async () => {
  const state = testApp();
  const none = await state.app.request("/v1/tasks/detect/frame");
  assert.equal(none.status, 404);
  const body = await none.json();
  assert.equal(body.error.code, "frame_not_found");
  assert.match(body.error.message, /task 'detect' has no processed frame yet/);
  const unknown = await state.app.request("/v1/tasks/nope/frame");
  assert.equal(unknown.status, 404);
  const error = await unknown.json();
  assert.equal(error.error.code, "plugin_not_found");
  assert.match(error.error.message, /no plugin 'nope' is loaded \(loaded: detect, match\)/);
});

Deno.test("frame refuses a bad index with 400 bad_request", async () => {
  const state = testApp();
  state.host.lastFrames.set("detect", {
    frameId: 1,
    images: [{ bytes: PNG, mediaType: "image/png" }],
    atMs: 1,
  });
  const cases: [string, RegExp][] = [
    ["-1", /query parameter 'index'/],
    ["x", /query parameter 'index'/],
    ["0.5", /query parameter 'index'/],
    ["9", /query parameter 'index'/],
    ["1", /'index' is 1, but frame 1 of 'detect' has 1 image$/],
  ];
  for (const [index, pattern] of cases) {
    const response = await state.app.request(`/v1/tasks/detect/frame?index=${index}`);
    assert.equal(response.status, 400, index);
    const body = await response.json();
    assert.equal(body.error.code, "bad_request", index);
    assert.match(body.error.message, pattern, index);
  }
});

Deno.test("frame is a read route: open on loopback with a token set, like the other reads", async () => {
  const state = testApp({ config: { auth: { token: "0123456789abcdef0123" } } });
  const response = await state.app.request("/v1/tasks/detect/frame");
  assert.equal(response.status, 404);
  assert.equal((await response.json()).error.code, "frame_not_found");
});
