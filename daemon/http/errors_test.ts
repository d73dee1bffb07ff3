import assert from "node:assert/strict";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config/errors.ts";
import { KernelError } from "../kernels/errors.ts";
import { ModelError } from "../runtime/errors.ts";
import { PLUGIN_ERROR_CODES, PluginError } from "../host/errors.ts";
import { MEDIA_ERROR_CODES, MediaError } from "../media/errors.ts";
import { MODEL_ERROR_CODES } from "../runtime/errors.ts";
import { SOURCE_ERROR_CODES, SourceError } from "../sources/errors.ts";
import { ERROR_STATUS, errorResponse, HttpError } from "./errors.ts";

Deno.test("errorResponse keeps the code and message of coded errors", () => {
  const config = errorResponse(
    new ConfigError("onebit.json", [{
      path: "listen.port",
      message: "listen.port is -1, expected 0..65535",
    }]),
  );
  assert.equal(config.status, 400);
  assert.deepEqual(config.body.error, {
    code: "bad_config",
    message: "onebit.json: listen.port is -1, expected 0..65535",
  });
  const model = errorResponse(
    new ModelError("checksum_mismatch", "data checksum differs", { file: "m.safetensors" }),
  );
  assert.equal(model.status, 422);
  assert.equal(model.body.error.code, "checksum_mismatch");
  assert.match(model.body.error.message, /m\.safetensors/);
  const kernel = errorResponse(new KernelError("invalid_argument", "threads is 0"));
  assert.equal(kernel.status, 500);
  assert.equal(kernel.body.error.code, "invalid_argument");
  assert.equal(kernel.unexpected, false);
});

Deno.test("errorResponse adds Retry-After and WWW-Authenticate where they belong", () => {
  assert.equal(errorResponse(new HttpError("queue_full", "full")).headers["retry-after"], "1");
  assert.equal(
    errorResponse(new HttpError("deadline_exceeded", "late")).headers["retry-after"],
    undefined,
  );
  assert.match(
    errorResponse(new HttpError("unauthorized", "no")).headers["www-authenticate"],
    /^Bearer/,
  );
});

Deno.test("errorResponse maps Hono exceptions by status and hides everything else", () => {
  assert.equal(errorResponse(new HTTPException(415)).body.error.code, "unsupported_media_type");
  assert.equal(errorResponse(new HTTPException(413)).status, 413);
  assert.equal(errorResponse(new HTTPException(418)).status, 500);
  const plain = errorResponse(new Error("ENOENT /secret/path"));
  assert.deepEqual(plain.body.error.code, "internal");
  assert.doesNotMatch(plain.body.error.message, /secret/);
  assert.equal(plain.unexpected, true);
  assert.equal(errorResponse("a string").status, 500);
  assert.equal(errorResponse({ code: "Not A Code" }).body.error.code, "internal");
});

Deno.test("ERROR_STATUS fixes the documented statuses", () => {
  const expected: Record<string, number> = {
    bad_request: 400,
    unauthorized: 401,
    not_found: 404,
    plugin_not_found: 404,
    frame_not_found: 404,
    body_too_large: 413,
    unsupported_media_type: 415,
    queue_full: 503,
    deadline_exceeded: 504,
    bad_image: 400,
    internal: 500,
  };
  for (const [code, status] of Object.entries(expected)) {
    assert.equal(ERROR_STATUS[code], status, code);
  }
  assert.equal(new HttpError("no_such_code", "x").status, 500);
});

Deno.test("every PluginError, SourceError, MediaError and ModelError code has a fixed status", () => {
  for (
    const code of [
      ...PLUGIN_ERROR_CODES,
      ...SOURCE_ERROR_CODES,
      ...MEDIA_ERROR_CODES,
      ...MODEL_ERROR_CODES,
    ]
  ) {
    assert.ok(ERROR_STATUS[code] !== undefined, `${code} is in the table`);
  }
  const cases: [Error & { code: string }, number][] = [
    [new PluginError("plugin_not_found", "no 'x'"), 404],
    [new PluginError("queue_full", "full"), 503],
    [new PluginError("deadline_exceeded", "late"), 504],
    [new PluginError("process_failed", "threw"), 502],
    [new PluginError("plugin_crashed", "died"), 502],
    [new PluginError("shutting_down", "stopping"), 503],
    [new PluginError("reload_failed", "rolled back"), 422],
    [new SourceError("source_exists", "taken"), 409],
    [new SourceError("bad_source", "no such file"), 400],
    [new MediaError("unsupported_media_type", "image/gif"), 415],
    [new MediaError("image_too_large", "big"), 413],
  ];
  for (const [error, status] of cases) {
    const reply = errorResponse(error);
    assert.equal(reply.status, status, error.code);
    assert.equal(reply.body.error.message, error.message);
  }
  assert.equal(errorResponse(new PluginError("shutting_down", "x")).headers["retry-after"], "1");
});
