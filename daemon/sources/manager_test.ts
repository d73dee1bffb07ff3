import assert from "node:assert/strict";
import { EventBus, type SourceEvent } from "../events.ts";
import { encodePng, encodePnm, testPattern } from "../media/mod.ts";
import type { SourceConfig } from "../config/types.ts";
import { SourceError, type SourceErrorCode } from "./errors.ts";
import { listImageFiles, mediaTypeOfPath } from "./files.ts";
import { SourceManager } from "./manager.ts";
import {
  CountingRecorder,
  makeTestVideo,
  RecordingHost,
  requireFfmpeg,
  testManifest,
  waitFor,
} from "./test_support.ts";

await requireFfmpeg();

function setup(frames: 1 | 2 = 1) {
  const host = new RecordingHost([
    testManifest("detect", { width: 32, height: 24, channels: 3 }, frames),
  ]);
  const recorder = new CountingRecorder();
  const events = new EventBus();
  const seen: SourceEvent[] = [];
  events.subscribe((event) => seen.push(event as SourceEvent), { types: ["source"] });
  const manager = new SourceManager({ host, recorder, events, realtime: false });
  return { host, recorder, events, seen, manager };
}

function config(overrides: Partial<SourceConfig>): SourceConfig {
  return {
    name: "cam",
    task: "detect",
    kind: "ffmpeg",
    input: "",
    fps: 30,
    loop: false,
    ...overrides,
  };
}

async function rejectsWith(promise: Promise<unknown>, code: SourceErrorCode, pattern: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof SourceError, String(error));
    assert.equal(error.code, code, error.message);
    assert.match(error.message, pattern);
    return true;
  });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "onebit_sources_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SourceManager keeps the latest frame while the plugin is busy and counts drops", async () => {
  await withDir(async (dir) => {
    const { host, recorder, seen, manager } = setup();
    const video = await makeTestVideo(dir);
    host.hold(); // the first frame stays in flight until release()
    await manager.start(config({ input: video }));
    await waitFor(() => manager.get("cam")!.framesRead === 60, "all 60 frames read");
    assert.equal(host.requests.length, 1);
    host.release();
    await waitFor(() => manager.get("cam")!.state === "ended", "the source to end");
    const status = manager.get("cam")!;
    // The first frame went out at once, the last one waited in the pending slot, and each
    // of the 58 between was replaced by a newer one.
    assert.equal(status.framesSent, 2);
    assert.equal(status.framesDropped, 58);
    assert.equal(status.framesFailed, 0);
    assert.equal(recorder.drops.get("detect"), 58);
    for (const request of host.requests) {
      assert.equal(request.source, "cam");
      assert.equal(request.images.length, 1);
      assert.deepEqual(request.images[0].shape, [24, 32, 3]);
      assert.equal(request.images[0].bytes.length, 24 * 32 * 3);
    }
    assert.deepEqual(seen.map((e) => [e.source, e.task, e.state]), [
      ["cam", "detect", "started"],
      ["cam", "detect", "ended"],
    ]);
    await manager.close();
  });
});

Deno.test("SourceManager stop kills a looping ffmpeg source and waits for its frame", async () => {
  await withDir(async (dir) => {
    const { host, seen, manager } = setup();
    const video = await makeTestVideo(dir, { seconds: 1 });
    await manager.start(config({ input: video, loop: true }));
    await waitFor(() => host.requests.length >= 3, "three frames");
    host.hold();
    await waitFor(() => manager.get("cam")!.framesRead > host.requests.length, "a pending frame");
    const stopping = manager.stop("cam");
    host.release();
    await stopping;
    const status = manager.get("cam")!;
    assert.equal(status.state, "stopped");
    const sent = status.framesSent;
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(manager.get("cam")!.framesSent, sent, "nothing sent after stop");
    assert.equal(seen.at(-1)!.state, "stopped");
    await rejectsWith(manager.stop("nope"), "source_not_found", /'nope'/);
    // A stopped source's name can be used again.
    await manager.start(config({ input: video, loop: true }));
    assert.equal(manager.list().length, 1);
    await manager.close();
    assert.equal(manager.get("cam")!.state, "stopped");
  });
});

Deno.test("SourceManager refuses bad configs, unknown plugins, duplicates and bad inputs", async () => {
  await withDir(async (dir) => {
    const { manager } = setup();
    await rejectsWith(
      manager.start(config({ name: "Bad Name" })),
      "bad_source",
      /name is "Bad Name"/,
    );
    await rejectsWith(manager.start(config({ fps: 0, input: "x" })), "bad_source", /fps is 0/);
    await rejectsWith(
      manager.start(config({ kind: "gif" as SourceConfig["kind"], input: "x" })),
      "bad_source",
      /kind/,
    );
    await rejectsWith(
      manager.start(config({ task: "segment", input: "x" })),
      "plugin_not_found",
      /'segment'/,
    );
    await rejectsWith(
      manager.start(config({ input: `${dir}/missing.mp4` })),
      "bad_source",
      /ffmpeg exited with code \d+ on input .*No such file or directory/,
    );
    await rejectsWith(
      manager.start(config({ kind: "files", input: dir })),
      "bad_source",
      /holds no image file/,
    );
    assert.deepEqual(manager.list(), [], "failed starts leave nothing behind");
    const video = await makeTestVideo(dir, { seconds: 1 });
    await manager.start(config({ input: video, loop: true }));
    await rejectsWith(
      manager.start(config({ input: video })),
      "source_exists",
      /'cam' is already running/,
    );
    await manager.close();
  });
});

Deno.test("SourceManager plays a folder of images in name order, then ends", async () => {
  await withDir(async (dir) => {
    const { host, seen, manager } = setup();
    await Deno.writeFile(`${dir}/b.png`, encodePng(testPattern(8, 8, 3)));
    await Deno.writeFile(`${dir}/a.ppm`, encodePnm(testPattern(8, 8, 3)));
    await Deno.writeFile(`${dir}/c.PGM`, encodePnm(testPattern(8, 8, 1)));
    await Deno.writeTextFile(`${dir}/notes.txt`, "not an image");
    assert.deepEqual(await listImageFiles(dir), [`${dir}/a.ppm`, `${dir}/b.png`, `${dir}/c.PGM`]);
    assert.equal(mediaTypeOfPath("x.jpeg"), "image/jpeg");
    assert.equal(mediaTypeOfPath("x.gif"), null);
    await manager.start(config({ kind: "files", input: dir, fps: 200 }));
    await waitFor(() => manager.get("cam")!.state === "ended", "the folder to end");
    assert.deepEqual(host.requests.map((r) => r.images[0].mediaType), [
      "image/x-portable-pixmap",
      "image/png",
      "image/x-portable-graymap",
    ]);
    assert.deepEqual(host.requests[1].images[0].bytes, await Deno.readFile(`${dir}/b.png`));
    assert.equal(manager.get("cam")!.framesRead, 3);
    assert.deepEqual(seen.map((e) => e.state), ["started", "ended"]);

    // One looping file repeats until stopped.
    await manager.start(
      config({ name: "one", kind: "files", input: `${dir}/b.png`, fps: 200, loop: true }),
    );
    await waitFor(() => manager.get("one")!.framesRead >= 5, "five repeats");
    await manager.stop("one");
    assert.equal(manager.get("one")!.state, "stopped");
    await rejectsWith(
      manager.start(config({ name: "txt", kind: "files", input: `${dir}/notes.txt` })),
      "bad_source",
      /not an image file/,
    );
  });
});

Deno.test("SourceManager sends frame pairs to two-frame plugins and fails when the plugin goes", async () => {
  await withDir(async (dir) => {
    const { host, seen, manager } = setup(2);
    for (const name of ["1", "2", "3"]) {
      await Deno.writeFile(
        `${dir}/${name}.pgm`,
        encodePnm({ width: 1, height: 1, channels: 1, data: Uint8Array.of(Number(name)) }),
      );
    }
    await manager.start(config({ kind: "files", input: dir, fps: 200 }));
    await waitFor(() => manager.get("cam")!.state === "ended", "the folder to end");
    const last = (bytes: Uint8Array) => bytes[bytes.length - 1];
    assert.deepEqual(host.requests.map((r) => r.images.map((i) => last(i.bytes))), [[1, 2], [
      2,
      3,
    ]]);

    host.remove("detect");
    await rejectsWith(
      manager.start(config({ name: "gone", kind: "files", input: dir, fps: 200 })),
      "plugin_not_found",
      /task 'detect', which is not loaded/,
    );
    const { host: host2, manager: manager2, seen: seen2 } = setup();
    await manager2.start(config({ kind: "files", input: dir, fps: 200, loop: true }));
    host2.remove("detect");
    await waitFor(() => manager2.get("cam")!.state === "failed", "the source to fail");
    assert.match(manager2.get("cam")!.error!, /not loaded/);
    await waitFor(() => seen2.at(-1)?.state === "failed", "the failed event");
    assert.ok(manager2.get("cam")!.framesFailed >= 1);
    await manager2.close();
    assert.equal(seen.at(-1)!.state, "ended");
  });
});
