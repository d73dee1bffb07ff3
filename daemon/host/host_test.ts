import assert from "node:assert/strict";
import { type DaemonEvent, EventBus, type PluginEvent } from "../events.ts";
import type { Config } from "../config/types.ts";
import { PluginError } from "./errors.ts";
import { PluginHost, threadShares } from "./host.ts";
import { nextBackoffMs } from "./task.ts";
import {
  copyFixture,
  pngImage,
  rawImage,
  RecordingRecorder,
  testConfig,
  waitFor,
} from "./test_support.ts";

interface Harness {
  root: string;
  host: PluginHost;
  recorder: RecordingRecorder;
  events: DaemonEvent[];
  [Symbol.asyncDispose](): Promise<void>;
}

async function harness(
  plugins: Partial<Config["plugins"]> = {},
  setup: (root: string) => Promise<void> = async () => {},
): Promise<Harness> {
  const root = await Deno.makeTempDir({ prefix: "onebit_host_" });
  await setup(root);
  const recorder = new RecordingRecorder();
  const bus = new EventBus();
  const events: DaemonEvent[] = [];
  bus.subscribe((event) => events.push(event));
  const host = new PluginHost({
    config: testConfig(root, plugins),
    recorder,
    events: bus,
    backoff: { initialMs: 20, maxMs: 200, healthyMs: 10_000 },
    stopGraceMs: 3_000,
  });
  return {
    root,
    host,
    recorder,
    events,
    async [Symbol.asyncDispose]() {
      await host.close();
      await Deno.remove(root, { recursive: true });
    },
  };
}

function pluginEvents(events: DaemonEvent[], action: string): PluginEvent[] {
  return events.filter((event): event is PluginEvent =>
    event.type === "plugin" && event.action === action
  );
}

function code(expected: string) {
  return (error: unknown) => error instanceof PluginError && error.code === expected;
}

Deno.test("host loads echo and tiny and runs frames on real kernels", async () => {
  await using h = await harness({ overrides: { echo: { options: { scale: 2 } } } });
  await copyFixture(h.root, "echo");
  await copyFixture(h.root, "tiny");
  const echo = await h.host.load("echo");
  assert.equal(echo.state, "ready");
  assert.equal(echo.version, "1.0.0");
  const tiny = await h.host.load("tiny");
  assert.equal(tiny.threads, 1); // budget 2 shared by two plugins
  const gray = await h.host.infer("echo", { images: [rawImage(64, 48, 3, 10)] });
  assert.deepEqual(
    { ...(gray.result.data as Record<string, unknown>) },
    {
      version: "1.0.0",
      width: 32,
      height: 24,
      channels: 3,
      originalWidth: 64,
      originalHeight: 48,
      mean: 20,
      source: "http",
    },
  );
  assert.deepEqual([...gray.result.images!.gray.bytes], [10, 10, 10, 10]);
  const outcome = await h.host.infer("tiny", { images: [pngImage(40, 30)], source: "cam" });
  const data = outcome.result.data as { argmax: number; outputs: number; runs: number };
  assert.equal(data.outputs, 10);
  assert.ok(data.argmax >= 0 && data.argmax < 10);
  assert.equal(data.runs, 2); // the warm-up, then this frame
  assert.ok(outcome.frameId > gray.frameId);
  const results = h.events.filter((event) => event.type === "result");
  assert.equal(results.length, 2);
  assert.deepEqual(results[1].type === "result" && [results[1].task, results[1].source], [
    "tiny",
    "cam",
  ]);
  assert.deepEqual(h.recorder.calls.inference.map((call) => call.task), ["echo", "tiny"]);
  assert.deepEqual(h.host.list().map((status) => status.name), ["echo", "tiny"]);
  await assert.rejects(h.host.load("echo"), code("plugin_exists"));
  await assert.rejects(h.host.infer("nope", { images: [] }), code("plugin_not_found"));
});

Deno.test("host answers bad_image for a broken image and keeps serving", async () => {
  await using h = await harness();
  await copyFixture(h.root, "echo");
  await h.host.load("echo");
  await assert.rejects(
    h.host.infer("echo", {
      images: [{ bytes: new Uint8Array([1, 2, 3]), mediaType: "image/png" }],
    }),
    code("bad_image"),
  );
  await assert.rejects(
    h.host.infer("echo", { images: [{ bytes: new Uint8Array(4), mediaType: "text/plain" }] }),
    code("bad_image"),
  );
  await assert.rejects(h.host.infer("echo", { images: [] }), /takes 1 image\(s\) per frame, got 0/);
  const ok = await h.host.infer("echo", { images: [pngImage(8, 8)] });
  assert.equal((ok.result.data as { width: number }).width, 32);
  assert.deepEqual(h.recorder.calls.error.map((call) => call.code), [
    "bad_image",
    "bad_image",
    "bad_image",
  ]);
});

Deno.test("host refuses frames beyond queueMax with queue_full and counts the drop", async () => {
  await using h = await harness({
    overrides: { echo: { queueMax: 1, options: { delayMs: 150 } } },
  });
  await copyFixture(h.root, "echo");
  await h.host.load("echo");
  const first = h.host.infer("echo", { images: [pngImage(8, 8)] });
  const second = h.host.infer("echo", { images: [pngImage(8, 8)] });
  await assert.rejects(h.host.infer("echo", { images: [pngImage(8, 8)] }), code("queue_full"));
  assert.equal(h.host.get("echo")!.queueDepth, 1);
  assert.equal(h.host.get("echo")!.inFlight, 1);
  await first;
  await second;
  assert.deepEqual(h.recorder.calls.dropped, [{ task: "echo", reason: "queue_full", count: 1 }]);
});

Deno.test("a throwing plugin fails that frame with process_failed only", async () => {
  await using h = await harness();
  await copyFixture(h.root, "throws");
  await h.host.load("throws");
  await assert.rejects(h.host.infer("throws", { images: [pngImage(8, 8)] }), /throws on purpose/);
  await assert.rejects(
    h.host.infer("throws", { images: [pngImage(8, 8)] }),
    code("process_failed"),
  );
  assert.equal(h.host.get("throws")!.restarts, 0);
  assert.equal(h.host.get("throws")!.state, "ready");
});

Deno.test("a hung plugin misses its deadline, is restarted and serves again; others keep serving", async () => {
  await using h = await harness({ overrides: { hangs: { deadlineMs: 300 } } });
  await copyFixture(h.root, "hangs");
  await copyFixture(h.root, "echo");
  await h.host.load("hangs");
  await h.host.load("echo");
  const hung = h.host.infer("hangs", { images: [pngImage(8, 8)] });
  const other = await h.host.infer("echo", { images: [pngImage(8, 8)] });
  assert.equal((other.result.data as { width: number }).width, 32);
  await assert.rejects(hung, code("deadline_exceeded"));
  await waitFor(() => h.host.get("hangs")!.restarts === 1, { what: "the restart" });
  const ok = await h.host.infer("hangs", { images: [pngImage(8, 8)], source: "ok" });
  assert.deepEqual(ok.result.data, { ok: true });
  assert.equal(h.host.get("hangs")!.lastError?.code, "deadline_exceeded");
  assert.equal(pluginEvents(h.events, "crashed").length, 1);
  assert.equal(pluginEvents(h.events, "restarted").length, 1);
  assert.deepEqual(h.recorder.calls.restart, [{ task: "hangs" }]);
});

Deno.test("a crashing worker is restarted with backoff while other plugins keep serving", async () => {
  await using h = await harness();
  await copyFixture(h.root, "crashes");
  await copyFixture(h.root, "echo");
  await h.host.load("crashes");
  await h.host.load("echo");
  for (let round = 1; round <= 2; round++) {
    await assert.rejects(
      h.host.infer("crashes", { images: [pngImage(8, 8)] }),
      code("plugin_crashed"),
    );
    const other = await h.host.infer("echo", { images: [pngImage(8, 8)] });
    assert.equal((other.result.data as { width: number }).width, 32);
    await waitFor(() => h.host.get("crashes")!.restarts === round, { what: `restart ${round}` });
  }
  const ok = await h.host.infer("crashes", { images: [pngImage(8, 8)], source: "ok" });
  assert.deepEqual(ok.result.data, { ok: true });
  assert.match(h.host.get("crashes")!.lastError!.message, /crashes on purpose/);
  assert.equal(pluginEvents(h.events, "restarted").length, 2);
});

Deno.test("restart backoff doubles from its initial delay up to its maximum", () => {
  assert.equal(nextBackoffMs(null), 100);
  assert.equal(nextBackoffMs(100), 200);
  assert.equal(nextBackoffMs(16_000), 30_000);
  assert.equal(nextBackoffMs(30_000), 30_000);
  assert.equal(nextBackoffMs(null, { initialMs: 20, maxMs: 50 }), 20);
  assert.equal(nextBackoffMs(40, { initialMs: 20, maxMs: 50 }), 50);
});

for (const broken of ["bad_setup", "bad_warmup"]) {
  Deno.test(`a ${broken} version is rolled back and the old version keeps serving`, async () => {
    await using h = await harness();
    await copyFixture(h.root, "echo");
    const next = await copyFixture(h.root, "echo", {
      as: "next",
      version: "1.1.0",
      codeFrom: broken,
    });
    await h.host.load("echo");
    const failure = await h.host.reload("echo", { dir: next }).then(
      () => assert.fail("the reload should fail"),
      (error: PluginError) => error,
    );
    assert.equal(failure.code, "reload_failed");
    const expected = broken === "bad_setup" ? "load_failed" : "warmup_failed";
    assert.equal((failure.cause as PluginError).code, expected);
    assert.match(failure.message, /to 1\.1\.0 .* 1\.0\.0 keeps serving/);
    const status = h.host.get("echo")!;
    assert.equal(status.version, "1.0.0");
    assert.equal(status.lastError?.code, "reload_failed");
    const ok = await h.host.infer("echo", { images: [pngImage(8, 8)] });
    assert.equal(ok.version, "1.0.0");
    assert.deepEqual(h.recorder.calls.reload, [{ task: "echo", version: "1.1.0", ok: false }]);
    assert.equal(pluginEvents(h.events, "rolled_back")[0].version, "1.1.0");
  });
}

Deno.test("a reload with a bad manifest is refused and the old version keeps serving", async () => {
  await using h = await harness();
  const dir = await copyFixture(h.root, "echo");
  await h.host.load("echo");
  await Deno.writeTextFile(`${dir}/plugin.json`, "{}");
  await assert.rejects(h.host.reload("echo"), code("reload_failed"));
  await assert.rejects(h.host.reload("nope"), code("plugin_not_found"));
  assert.equal((await h.host.infer("echo", { images: [pngImage(8, 8)] })).version, "1.0.0");
});

Deno.test("hot swaps under concurrent frames fail no request", async () => {
  await using h = await harness({
    overrides: { echo: { queueMax: 64, options: { delayMs: 2 } } },
  });
  await copyFixture(h.root, "echo");
  const v2 = await copyFixture(h.root, "echo", { as: "v2", version: "1.1.0" });
  const v3 = await copyFixture(h.root, "echo", { as: "v3", version: "1.2.0" });
  await h.host.load("echo");
  let swapping = true;
  const versions = new Set<string>();
  let done = 0;
  const client = async () => {
    while (swapping) {
      const outcome = await h.host.infer("echo", { images: [rawImage(8, 8, 3, 1)] });
      versions.add(outcome.version);
      done++;
    }
  };
  const clients = [client(), client(), client(), client()];
  await h.host.reload("echo", { dir: v2 });
  await h.host.reload("echo", { dir: v3 });
  swapping = false;
  await Promise.all(clients);
  assert.equal(h.host.get("echo")!.version, "1.2.0");
  assert.equal(h.host.get("echo")!.reloads, 2);
  assert.ok(versions.has("1.0.0") || versions.has("1.1.0"));
  assert.ok(done > 0);
  assert.deepEqual(h.recorder.calls.error, []);
  assert.deepEqual(pluginEvents(h.events, "swapped").map((event) => event.version), [
    "1.1.0",
    "1.2.0",
  ]);
});

Deno.test("unload lets the in-flight frame finish and stops the worker cooperatively", async () => {
  await using h = await harness({ overrides: { echo: { options: { delayMs: 100 } } } });
  await copyFixture(h.root, "echo");
  await copyFixture(h.root, "tiny");
  await h.host.load("echo");
  await h.host.load("tiny");
  const inFlight = h.host.infer("echo", { images: [pngImage(8, 8)] });
  const tinyFrame = h.host.infer("tiny", { images: [pngImage(8, 8)] });
  await h.host.unload("echo");
  assert.equal((await inFlight).version, "1.0.0");
  await h.host.unload("tiny");
  assert.equal(((await tinyFrame).result.data as { outputs: number }).outputs, 10);
  assert.deepEqual(h.host.list(), []);
  await assert.rejects(
    h.host.infer("echo", { images: [pngImage(8, 8)] }),
    code("plugin_not_found"),
  );
  assert.deepEqual(
    h.recorder.calls.pluginVersion.filter((call) => call.version === null).length,
    2,
  );
});

Deno.test("startConfigured loads every plugin folder and reports the ones that fail", async () => {
  await using h = await harness({ load: ["*"] }, async (root) => {
    await copyFixture(root, "echo");
    await copyFixture(root, "bad_setup");
    await copyFixture(root, "tiny");
    await Deno.mkdir(`${root}/not_a_plugin`);
  });
  assert.equal(h.host.started, false);
  const report = await h.host.startConfigured();
  assert.equal(h.host.started, true);
  assert.deepEqual(report.ok, ["echo", "tiny"]);
  assert.deepEqual(report.failed.map((failure) => [failure.target, failure.code]), [[
    "bad_setup",
    "load_failed",
  ]]);
  assert.equal(h.host.get("echo")!.threads, 1); // 2 threads over 3 configured plugins: at least 1
  const reloaded = await h.host.reloadAll();
  assert.deepEqual(reloaded.ok, ["echo", "tiny"]);
});

Deno.test("the watch reloads a changed plugin folder and loads a new one", async () => {
  await using h = await harness(
    { load: ["echo"], watch: true, watchDebounceMs: 50 },
    async (root) => {
      await copyFixture(root, "echo");
    },
  );
  await h.host.startConfigured();
  const manifest = JSON.parse(await Deno.readTextFile(`${h.root}/echo/plugin.json`));
  manifest.version = "1.1.0";
  await Deno.writeTextFile(`${h.root}/echo/plugin.json`, JSON.stringify(manifest));
  await waitFor(() => h.host.get("echo")?.version === "1.1.0", { what: "the watch reload" });
  await copyFixture(h.root, "tiny");
  await waitFor(() => h.host.get("tiny")?.state === "ready", { what: "the watch load" });
  assert.equal((await h.host.infer("echo", { images: [pngImage(8, 8)] })).version, "1.1.0");
});

Deno.test("the watch debounces quick successive writes into exactly one reload", async () => {
  // A debounce far longer than the gaps between the writes below, so the burst is one
  // settle whatever the machine's load; the writes are awaited one after another.
  const debounceMs = 400;
  await using h = await harness(
    { load: ["echo"], watch: true, watchDebounceMs: debounceMs },
    async (root) => {
      await copyFixture(root, "echo");
    },
  );
  await h.host.startConfigured();
  const path = `${h.root}/echo/plugin.json`;
  const manifest = JSON.parse(await Deno.readTextFile(path));
  for (let patch = 1; patch <= 5; patch++) {
    manifest.version = `1.0.${patch}`;
    await Deno.writeTextFile(path, JSON.stringify(manifest));
  }
  await waitFor(() => h.host.get("echo")?.version === "1.0.5", { what: "the watch reload" });
  // Quiet for two more debounce periods: a second, late reload would land in this window.
  await new Promise((resolve) => setTimeout(resolve, 2 * debounceMs));
  assert.deepEqual(pluginEvents(h.events, "swapped").map((event) => event.version), ["1.0.5"]);
  assert.equal(h.host.get("echo")!.reloads, 1);
  assert.deepEqual(h.recorder.calls.reload, [{ task: "echo", version: "1.0.5", ok: true }]);
  assert.equal((await h.host.infer("echo", { images: [pngImage(8, 8)] })).version, "1.0.5");
});

Deno.test("a frame in flight during a hot swap finishes on the old version", async () => {
  await using h = await harness();
  const v1 = await copyFixture(h.root, "gated");
  const v2 = await copyFixture(h.root, "gated", { as: "v2", version: "2.0.0" });
  await h.host.load("gated");
  // The hold file keeps v1's frame in flight until the test removes it: no guessed delays.
  await Deno.writeTextFile(`${v1}/hold`, "");
  const inFlight = h.host.infer("gated", { images: [pngImage(8, 8)] });
  let inFlightSettled = false;
  inFlight.finally(() => inFlightSettled = true).catch(() => {});
  await waitFor(() => h.host.get("gated")!.inFlight === 1, { what: "the frame in flight" });
  const reload = h.host.reload("gated", { dir: v2 });
  await waitFor(() => pluginEvents(h.events, "swapped").length === 1, { what: "the switch" });
  // After the switch, new frames run on v2 while v1 still holds the old frame.
  const after = await h.host.infer("gated", { images: [pngImage(8, 8)] });
  assert.equal(after.version, "2.0.0");
  assert.deepEqual(after.result.data, { version: "2.0.0", held: false });
  assert.equal(inFlightSettled, false, "the old frame is still held");
  await Deno.remove(`${v1}/hold`);
  const old = await inFlight;
  assert.equal(old.version, "1.0.0");
  assert.deepEqual(old.result.data, { version: "1.0.0", held: true });
  assert.ok(old.frameId < after.frameId);
  const status = await reload;
  assert.equal(status.version, "2.0.0");
  assert.equal(status.reloads, 1);
  assert.equal(status.inFlight, 0);
  assert.deepEqual(h.recorder.calls.error, []);
  assert.deepEqual(h.recorder.calls.restart, []);
  assert.deepEqual(pluginEvents(h.events, "swapped").map((event) => event.version), ["2.0.0"]);
});

Deno.test("a plugin worker may read its folder and nothing else of the machine", async () => {
  await using h = await harness();
  await copyFixture(h.root, "snoops");
  await h.host.load("snoops");
  const outcome = await h.host.infer("snoops", { images: [pngImage(8, 8)] });
  assert.deepEqual(outcome.result.data, {
    readOwnFolder: true,
    readEtc: false,
    envHome: false,
    write: false,
    run: false,
    net: false,
  });
});

Deno.test("concurrency runs frames in several workers of one plugin", async () => {
  await using h = await harness({
    overrides: { echo: { concurrency: 2, queueMax: 0, options: { delayMs: 100 } } },
  });
  await copyFixture(h.root, "echo");
  const status = await h.host.load("echo");
  assert.equal(status.concurrency, 2);
  assert.equal(status.threads, 1);
  const frames = [
    h.host.infer("echo", { images: [pngImage(8, 8)] }),
    h.host.infer("echo", { images: [pngImage(8, 8)] }),
  ];
  assert.equal(h.host.get("echo")!.inFlight, 2);
  await assert.rejects(h.host.infer("echo", { images: [pngImage(8, 8)] }), code("queue_full"));
  await Promise.all(frames);
});

Deno.test("threadShares splits the budget evenly and keeps explicit claims", () => {
  const shares = threadShares(8, [
    { name: "a", concurrency: 1, threads: 2 },
    { name: "b", concurrency: 1, threads: 0 },
    { name: "c", concurrency: 2, threads: 0 },
  ]);
  assert.deepEqual([...shares], [["a", 2], ["b", 2], ["c", 2]]);
  assert.deepEqual([...threadShares(4, [{ name: "a", concurrency: 1, threads: 0 }])], [["a", 4]]);
  assert.deepEqual(
    [...threadShares(7, [{ name: "a", concurrency: 1, threads: 0 }, {
      name: "b",
      concurrency: 2,
      threads: 0,
    }])],
    [["a", 2], ["b", 2]],
  );
  // More workers than threads: each still gets one.
  assert.deepEqual([
    ...threadShares(1, [{ name: "a", concurrency: 1, threads: 0 }, {
      name: "b",
      concurrency: 1,
      threads: 0,
    }]),
  ], [["a", 1], ["b", 1]]);
  assert.deepEqual([...threadShares(2, [{ name: "a", concurrency: 1, threads: 500 }])], [[
    "a",
    64,
  ]]);
  assert.throws(() => threadShares(0, []), /budget is 0/);
});
