import assert from "node:assert/strict";
import { KernelError, STATUS_CODES, statusErrorCode, statusName } from "./errors.ts";

Deno.test("STATUS_CODES equals the Status enum of status.zig", async () => {
  const source = await Deno.readTextFile(
    new URL("../../kernels/src/status.zig", import.meta.url),
  );
  const body = source.match(/pub const Status = enum\(i32\) \{([^}]*)\}/);
  assert.ok(body, "status.zig declares `pub const Status = enum(i32) { ... }`");
  const zigCodes = Object.fromEntries(
    [...body[1].matchAll(/^\s*(\w+)\s*=\s*(-?\d+),/gm)].map((match) => [
      match[1],
      Number(match[2]),
    ]),
  );
  assert.ok(Object.keys(zigCodes).length >= 10, "parsed every status of status.zig");
  assert.deepEqual({ ...STATUS_CODES }, zigCodes);
});

Deno.test("statusName names every status and calls unknown numbers unknown_status", () => {
  for (const [name, status] of Object.entries(STATUS_CODES)) {
    assert.equal(statusName(status), name);
  }
  assert.equal(statusName(-1000), "unknown_status");
  assert.equal(statusName(1), "unknown_status");
  assert.equal(statusErrorCode(-3), "unsupported_cpu");
  assert.equal(statusErrorCode(0), "unknown_status");
  assert.equal(statusErrorCode(-1000), "unknown_status");
});

Deno.test("KernelError carries code, status and message", () => {
  const native = new KernelError("buffer_too_small", "input holds 3 elements, needs 8");
  assert.ok(native instanceof Error);
  assert.equal(native.name, "KernelError");
  assert.equal(native.code, "buffer_too_small");
  assert.equal(native.status, -2);
  assert.equal(native.message, "input holds 3 elements, needs 8");
  assert.match(String(native), /^KernelError: input holds 3/);

  const host = new KernelError("closed", "library is closed");
  assert.equal(host.status, 0);
  const unknown = new KernelError("unknown_status", "status -77", { status: -77 });
  assert.equal(unknown.status, -77);
  const cause = new Error("dlopen failed");
  assert.equal(new KernelError("library_open_failed", "x", { cause }).cause, cause);
});
