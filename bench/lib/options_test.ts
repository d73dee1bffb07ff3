import assert from "node:assert/strict";
import { parseBenchOptions } from "./options.ts";

const spec = {
  name: "bench:test",
  filterFlag: "--shapes",
  out: "default.json",
  rounds: { quick: 5, full: 15 },
  threads: { quick: [1], full: [1, 2] },
};

Deno.test("parseBenchOptions applies quick and full defaults and reads every flag", () => {
  assert.deepEqual(parseBenchOptions([], spec), {
    quick: false,
    rounds: 15,
    threads: [1, 2],
    filter: "",
    out: "default.json",
  });
  assert.deepEqual(parseBenchOptions(["--quick"], spec).threads, [1]);
  assert.deepEqual(
    parseBenchOptions(["--rounds=3", "--threads=2", "--shapes=512", "--out=x.json"], spec),
    { quick: false, rounds: 3, threads: [2], filter: "512", out: "x.json" },
  );
});

Deno.test("parseBenchOptions refuses unknown flags and bad counts", () => {
  assert.throws(() => parseBenchOptions(["--models=x"], spec), /unknown argument '--models=x'/);
  assert.throws(() => parseBenchOptions(["--rounds=0.5"], spec), /--rounds is 0.5/);
  assert.throws(() => parseBenchOptions(["--threads=1,0"], spec), /--threads holds 0/);
});
