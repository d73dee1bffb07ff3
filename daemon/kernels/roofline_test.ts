import assert from "node:assert/strict";
import { KernelError } from "./errors.ts";
import { KernelContext, openKernels } from "./library.ts";
import { runRoofline } from "./roofline.ts";

Deno.test("runRoofline counts word ops in proportion to iterations and threads", () => {
  using lib = openKernels();
  using one = new KernelContext(lib, { threads: 1 });
  using two = new KernelContext(lib, { threads: 2 });
  const base = runRoofline(one, 1000);
  // Every level runs at least 4 accumulators of at least 2 words per iteration.
  assert.ok(base >= 8 * 1000 && base % 1000 === 0, `1000 iterations gave ${base} word ops`);
  assert.equal(runRoofline(one, 3000), 3 * base);
  assert.equal(runRoofline(two, 1000), 2 * base);
});

Deno.test("runRoofline refuses iteration counts outside 1..2^32-1", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  for (const iterations of [0, -1, 1.5, 2 ** 32, Number.NaN]) {
    assert.throws(
      () => runRoofline(ctx, iterations),
      (error: unknown) =>
        error instanceof KernelError && error.code === "invalid_argument" &&
        error.message.includes(`iterations is ${iterations}`),
    );
  }
});
