import assert from "node:assert/strict";
import type { EncodedFrameImage } from "../host/types.ts";
import { decodeImage } from "../media/mod.ts";
import { SourceError } from "./errors.ts";
import { ffmpegArgs, FramePool, inputKind, startFfmpegSource } from "./ffmpeg.ts";
import { exists, makeTestVideo, requireFfmpeg } from "./test_support.ts";

await requireFfmpeg();

async function withVideo(fn: (path: string, dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "onebit_ffmpeg_" });
  try {
    await fn(await makeTestVideo(dir), dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const SHAPE = { width: 32, height: 24, channels: 3 as const, resize: "stretch" as const };

Deno.test("ffmpeg source reads a 2 s video at 10 fps as 20 exact raw frames", async () => {
  await withVideo(async (path) => {
    const frames: EncodedFrameImage[] = [];
    const producer = startFfmpegSource(
      path,
      (frame) => frames.push({ ...frame, bytes: frame.bytes.slice() }),
      {
        fps: 10,
        shape: SHAPE,
        realtime: false,
      },
    );
    await producer.done;
    assert.equal(frames.length, 20);
    for (const frame of frames) {
      assert.equal(frame.mediaType, "application/octet-stream");
      assert.deepEqual(frame.shape, [24, 32, 3]);
      assert.equal(frame.bytes.length, 24 * 32 * 3);
    }
    // testsrc draws colour bars: the frame is not blank and changes over time (its counter).
    assert.ok(frames[0].bytes.some((v) => v > 100));
    assert.notDeepEqual(frames[0].bytes, frames[19].bytes);
  });
});

Deno.test("ffmpeg source scales to gray, letterboxes, and passes the size through for none", async () => {
  await withVideo(async (path) => {
    const gray: EncodedFrameImage[] = [];
    await startFfmpegSource(path, (f) => gray.push(f), {
      fps: 5,
      shape: { width: 20, height: 20, channels: 1, resize: "letterbox" },
      realtime: false,
    }).done;
    assert.equal(gray.length, 10);
    const image = decodeImage(gray[0], { pixelsMax: 400 });
    assert.equal(image.channels, 1);
    // 64x48 into 20x20 keeps 4:3, so 20x15 content: the top and bottom rows are padding.
    assert.ok(image.data.subarray(0, 20).every((v) => v === 0));
    assert.ok(image.data.subarray(19 * 20).every((v) => v === 0));
    assert.ok(image.data.subarray(10 * 20, 11 * 20).some((v) => v > 0));

    const native: EncodedFrameImage[] = [];
    await startFfmpegSource(path, (f) => native.push(f), {
      fps: 5,
      shape: { width: 20, height: 20, channels: 3, resize: "none" },
      realtime: false,
    }).done;
    assert.equal(native.length, 10);
    const full = decodeImage(native[3], { pixelsMax: 1 << 20 });
    assert.deepEqual([full.width, full.height, full.channels], [64, 48, 3]);
  });
});

Deno.test("ffmpeg source stop kills a looping ffmpeg and reaps it", async () => {
  await withVideo(async (path) => {
    let frames = 0;
    const producer = startFfmpegSource(path, () => frames++, { fps: 30, shape: SHAPE, loop: true });
    // Wait for the first frame so ffmpeg is surely running.
    for (let i = 0; i < 2000 && frames === 0; i += 1) await new Promise((r) => setTimeout(r, 5));
    assert.ok(frames > 0);
    assert.ok(await exists(`/proc/${producer.pid}`));
    await producer.stop();
    await producer.done; // resolves: a stop is not a failure
    assert.equal(await exists(`/proc/${producer.pid}`), false, "ffmpeg is gone, not a zombie");
    const after = frames;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(frames, after, "no frame after stop");
  });
});

Deno.test("ffmpeg source fails a missing input with ffmpeg's own message", async () => {
  const producer = startFfmpegSource("/nonexistent/onebit.mp4", () => {}, { fps: 5, shape: SHAPE });
  await assert.rejects(producer.done, (error: unknown) => {
    assert.ok(error instanceof SourceError);
    assert.equal(error.code, "bad_source");
    assert.match(error.message, /ffmpeg exited with code \d+ on input '\/nonexistent\/onebit.mp4'/);
    assert.match(error.message, /No such file or directory/);
    return true;
  });
  assert.throws(
    () =>
      startFfmpegSource("x.mp4", () => {}, {
        fps: 5,
        shape: SHAPE,
        ffmpegPath: "/nonexistent/ffmpeg",
      }),
    /Cannot run '\/nonexistent\/ffmpeg'/,
  );
  assert.throws(() => startFfmpegSource("x.mp4", () => {}, { fps: 0, shape: SHAPE }), /fps is 0/);
});

Deno.test("ffmpegArgs picks v4l2 for cameras, TCP for RTSP, -re and -stream_loop for files", () => {
  assert.deepEqual([inputKind("/dev/video2"), inputKind("rtsp://h/s"), inputKind("v.mp4")], [
    "device",
    "stream",
    "file",
  ]);
  const camera = ffmpegArgs("/dev/video0", { fps: 15, shape: SHAPE });
  assert.deepEqual(camera.slice(camera.indexOf("-f"), camera.indexOf("-f") + 2), ["-f", "v4l2"]);
  const rtsp = ffmpegArgs("rtsp://cam/1", { fps: 15, shape: { ...SHAPE, channels: 1 } });
  assert.ok(rtsp.join(" ").includes("-rtsp_transport tcp -i rtsp://cam/1"));
  assert.ok(
    rtsp.join(" ").includes(
      "-vf fps=15,scale=32:24:flags=bilinear -pix_fmt gray -f rawvideo pipe:1",
    ),
  );
  const file = ffmpegArgs("v.mp4", { fps: 2, shape: SHAPE, loop: true });
  assert.ok(file.join(" ").includes("-re -stream_loop -1 -i v.mp4"));
  assert.ok(!ffmpegArgs("v.mp4", { fps: 2, shape: SHAPE, realtime: false }).includes("-re"));
});

Deno.test("FramePool reuses given-back buffers and ignores detached ones", () => {
  const pool = new FramePool(8, 1);
  const a = pool.take();
  const b = pool.take();
  pool.give(a);
  pool.give(b); // pool full: dropped
  assert.equal(pool.free, 1);
  assert.equal(pool.take(), a);
  const c = pool.take();
  (c.buffer as ArrayBuffer).transfer(); // as a transfer to a worker does
  pool.give(c);
  assert.equal(pool.free, 0);
});
