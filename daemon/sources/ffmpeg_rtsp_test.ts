/**
 * The ffmpeg source against a real RTSP server: GStreamer's gst-rtsp-server (Debian's
 * gir1.2-gst-rtsp-server-1.0, run by scripts/rtsp_test_server.py) serving live MJPEG SMPTE
 * bars on 127.0.0.1, TCP-interleaved only, so the frames arriving prove that the source's
 * `-rtsp_transport tcp` works end to end.
 */

import assert from "node:assert/strict";
import type { EncodedFrameImage } from "../host/types.ts";
import { startFfmpegSource } from "./ffmpeg.ts";
import { exists, requireFfmpeg } from "./test_support.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
/** Debian's python3, which has the `gi` bindings (a pyenv or venv python3 may not). */
const PYTHON = "/usr/bin/python3";
const SHAPE = { width: 64, height: 48, channels: 3 as const, resize: "stretch" as const };
const FRAMES_WANTED = 10;

await requireFfmpeg();

/** A running scripts/rtsp_test_server.py. */
interface RtspServer {
  readonly port: number;
  readonly pid: number;
  /** SIGTERM (SIGKILL after 3 s), then waits until it is reaped; returns its stderr. */
  stop(): Promise<string>;
}

async function startRtspServer(): Promise<RtspServer> {
  const child = new Deno.Command(PYTHON, {
    args: [`${ROOT}scripts/rtsp_test_server.py`, "--width", "160", "--height", "120"],
    // The server also quits when its stdin closes: it cannot outlive this process.
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stderr = "";
  const stderrDone = child.stderr.pipeThrough(new TextDecoderStream()).pipeTo(
    new WritableStream({ write: (text) => void (stderr += text) }),
  );
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let stopped: Promise<string> | null = null;
  const stop = (): Promise<string> =>
    stopped ??= (async () => {
      await child.stdin.close().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Exited meanwhile.
        }
      }, 3000);
      await child.status;
      clearTimeout(timer);
      await Promise.all([lines.cancel().catch(() => {}), stderrDone.catch(() => {})]);
      return stderr;
    })();
  // The first stdout line is the port it bound; it prints nothing else.
  let first = "";
  const deadline = Date.now() + 10_000;
  try {
    while (!first.includes("\n")) {
      const left = deadline - Date.now();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const chunk = await Promise.race([
        lines.read(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error("no port within 10 s")), Math.max(left, 0));
        }),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error("exited before printing its port");
      first += chunk.value;
    }
  } catch (error) {
    const log = await stop();
    throw new Error(`rtsp_test_server.py did not start: ${(error as Error).message}\n${log}`);
  }
  const port = Number(first.trim());
  assert.ok(Number.isInteger(port) && port > 0, `port line '${first.trim()}'`);
  return { port, pid: child.pid, stop };
}

Deno.test("ffmpeg source reads an RTSP stream from a real RTSP server", async () => {
  const setup = await new Deno.Command("bash", {
    args: [`${ROOT}scripts/system_packages.sh`, "gst-rtsp-server"],
  }).output();
  assert.ok(setup.success, new TextDecoder().decode(setup.stderr));

  const server = await startRtspServer();
  const url = `rtsp://127.0.0.1:${server.port}/test`;
  let log = "";
  try {
    const frames: EncodedFrameImage[] = [];
    let enough: () => void = () => {};
    const gotEnough = new Promise<void>((resolve) => (enough = resolve));
    const producer = startFfmpegSource(url, (frame) => {
      frames.push({ ...frame, bytes: frame.bytes.slice() });
      if (frames.length >= FRAMES_WANTED) enough();
    }, { fps: 10, shape: SHAPE });
    try {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        gotEnough,
        // A live stream never ends: finishing at all (with or without an error) is a failure.
        producer.done.then(() => {
          throw new Error("ffmpeg ended the live RTSP input");
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`only ${frames.length} frames in 15 s`)),
            15_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      assert.ok(await exists(`/proc/${producer.pid}`), "ffmpeg runs while the stream is live");
    } finally {
      await producer.stop();
    }
    await producer.done; // resolves: a stop is not a failure
    assert.equal(await exists(`/proc/${producer.pid}`), false, "ffmpeg is gone, not a zombie");
    const afterStop = frames.length;
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(frames.length, afterStop, "no frame after stop");

    assert.ok(frames.length >= FRAMES_WANTED);
    for (const frame of frames) {
      assert.equal(frame.mediaType, "application/octet-stream");
      assert.deepEqual(frame.shape, [48, 64, 3]);
      assert.equal(frame.bytes.length, 64 * 48 * 3);
    }
    // SMPTE bars: not one value, bright, with saturated yellow, cyan and magenta pixels in
    // RGB order; they scroll sideways, so the first and last frames differ.
    const first = frames[0].bytes;
    assert.ok(first.some((v) => v !== first[0]), "the frame is not one value");
    assert.ok(first.some((v) => v > 150));
    const hasPixel = (bytes: Uint8Array, test: (r: number, g: number, b: number) => boolean) => {
      for (let i = 0; i < bytes.length; i += 3) {
        if (test(bytes[i], bytes[i + 1], bytes[i + 2])) return true;
      }
      return false;
    };
    for (const frame of [frames[0], frames[frames.length - 1]]) {
      assert.ok(hasPixel(frame.bytes, (r, g, b) => r > 150 && g > 150 && b < 90), "yellow");
      assert.ok(hasPixel(frame.bytes, (r, g, b) => r < 90 && g > 150 && b > 150), "cyan");
      assert.ok(hasPixel(frame.bytes, (r, g, b) => r > 150 && g < 90 && b > 150), "magenta");
    }
    assert.notDeepEqual(frames[0].bytes, frames[frames.length - 1].bytes);

    // The server refuses UDP, so the frames above came over the source's TCP transport.
    const udp = await new Deno.Command("ffmpeg", {
      args: ["-hide_banner", "-nostdin", "-rtsp_transport", "udp", "-i", url, "-f", "null", "-"],
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    }).output();
    assert.equal(udp.success, false);
    assert.match(new TextDecoder().decode(udp.stderr), /461 Unsupported transport/);
  } finally {
    log = await server.stop();
  }
  assert.doesNotMatch(log, /Traceback|ERROR/, log);
  assert.equal(await exists(`/proc/${server.pid}`), false, "the RTSP server is gone");
});
