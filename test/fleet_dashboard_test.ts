/// <reference lib="dom" />
/**
 * The dashboard page in headless Chromium against a small in-test daemon API (a real
 * EventBus feeding the SSE streams): the page loads, charts follow telemetry, the reload
 * button calls the API, the overlay draws detections, a segmentation mask and matches, and a
 * screenshot is a valid PNG.
 */

import assert from "node:assert/strict";
import { type Context, Hono } from "hono";
import { streamSSE } from "hono/streaming";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";
import { Buffer } from "node:buffer";
import { type DaemonEvent, type DaemonEventType, EventBus } from "../daemon/events.ts";
import { dashboardRoutes } from "../daemon/fleet/dashboard_route.ts";
import { waitFor } from "../daemon/fleet/test_support.ts";

const CHROMIUM = "/usr/bin/chromium";

async function ensureChromium(): Promise<void> {
  try {
    Deno.statSync(CHROMIUM);
  } catch {
    const script = new URL("../scripts/system_packages.sh", import.meta.url).pathname;
    const out = await new Deno.Command("bash", { args: [script, "chromium"] }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  }
}

function snapshot(n: number) {
  return {
    atMs: Date.now(),
    sampledAtMs: Date.now(),
    intervalMs: 1000,
    build: { version: "0.1.0", cpuLevel: "avx2", deno: "2.9.6" },
    process: null,
    temperatures: [],
    power: {
      source: "rapl",
      watts: 5 + n,
      energyJoulesTotal: n,
      idleJoulesTotal: 0,
      sensors: [],
      sensorErrorsTotal: {},
    },
    tasks: {
      detect: {
        version: "1.0.0",
        inferences: 10 * n,
        fps: 10 + n,
        latencyMs: { count: n, p50: 4 + n, p95: 8 + n, p99: 12 + n, max: 20 },
        energy: {
          joulesTotal: n,
          joulesPerInferenceLast: 0.01 * (n + 1),
          joulesPerInferenceCumulative: 0.01,
        },
      },
    },
  };
}

/** What the fake infer route answers: `data` and `images` of the daemon's JSON answer. */
interface InferAnswer {
  data: unknown;
  images: Record<string, { mediaType: string; bytes: string }>;
}

/**
 * The daemon endpoints the page uses, backed by `bus`. The infer route answers the first
 * of `answers` (taken off the list), else two detections.
 */
function fakeApi(
  bus: EventBus,
  reloads: string[],
  streams: Set<() => void>,
  answers: InferAnswer[] = [],
): Hono {
  const app = new Hono();
  const sse = (types: DaemonEventType[], initial: DaemonEvent[]) => (c: Context) =>
    streamSSE(c, async (stream) => {
      const queue: DaemonEvent[] = [...initial];
      let wake: (() => void) | null = null;
      let open = true;
      const close = () => {
        open = false;
        wake?.();
      };
      streams.add(close);
      const unsubscribe = bus.subscribe((event) => {
        if (queue.length < 100) queue.push(event);
        wake?.();
      }, { types });
      stream.onAbort(close);
      try {
        while (open) {
          while (queue.length > 0) {
            const event = queue.shift()!;
            await stream.writeSSE({ event: event.type, data: JSON.stringify(event) });
          }
          await new Promise<void>((resolve) => wake = resolve);
          wake = null;
        }
      } finally {
        unsubscribe();
        streams.delete(close);
      }
    });
  app.get("/v1/telemetry", (c) => c.json(snapshot(0)));
  app.get("/v1/telemetry/stream", sse(["telemetry"], []));
  app.get("/v1/events", sse(["result", "plugin", "source"], []));
  app.get("/v1/plugins", (c) =>
    c.json({
      plugins: [{
        name: "detect",
        version: reloads.length > 0 ? "1.0.1" : "1.0.0",
        manifest: { task: "detect" },
        state: "ready",
        reloads: reloads.length,
      }],
    }));
  app.post("/v1/plugins/:name/reload", (c) => {
    if (c.req.header("authorization") !== "Bearer t0k") {
      return c.json({ error: { code: "unauthorized", message: "bearer token required" } }, 401);
    }
    reloads.push(c.req.param("name"));
    return c.json({ name: c.req.param("name"), version: "1.0.1" });
  });
  app.post("/v1/tasks/:name/infer", async (c) => {
    const bytes = new Uint8Array(await c.req.arrayBuffer());
    assert.equal(c.req.header("content-type"), "image/png");
    assert.ok(bytes.length > 0);
    const answer = answers.shift() ?? {
      data: {
        detections: [
          { box: [20, 20, 120, 100], label: "car", score: 0.9 },
          { x: 150, y: 40, width: 60, height: 80, label: "person", score: 0.7 },
        ],
      },
      images: {},
    };
    return c.json({
      task: c.req.param("name"),
      version: "1.0.0",
      frameId: 7,
      latencyMs: 3.5,
      queuedMs: 0,
      ...answer,
    });
  });
  app.route("/", dashboardRoutes());
  return app;
}

function pngOf(width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i += 1) {
    png.data.set([40, 60 + (i % width) % 100, 90, 255], i * 4);
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** The RGB of pixel (x, y) of {@linkcode pngOf}. */
function patternAt(x: number, _y: number): number[] {
  return [40, 60 + x % 100, 90];
}

/** An opaque PNG mask: blue on the left half, red on the right half. */
function maskPngOf(width: number, height: number): Uint8Array {
  const png = new PNG({ width, height });
  for (let i = 0; i < width * height; i += 1) {
    png.data.set(i % width < width / 2 ? [0, 0, 255, 255] : [255, 0, 0, 255], i * 4);
  }
  return new Uint8Array(PNG.sync.write(png));
}

/** `base` with `over` drawn on it at alpha 0.5, as the page draws a mask. */
function halfOver(base: number[], over: number[]): number[] {
  return base.map((value, i) => (value + over[i]) / 2);
}

/** Asserts each channel of `actual` is within 3 of `expected` (alpha blending rounds). */
function assertNearRgb(actual: number[], expected: number[], what: string): void {
  assert.ok(
    actual.length === 3 && actual.every((value, i) => Math.abs(value - expected[i]) <= 3),
    `${what}: got [${actual}], expected about [${expected.map((v) => v.toFixed(1))}]`,
  );
}

Deno.test("dashboard route serves the page files with their content types", async () => {
  const app = dashboardRoutes();
  for (
    const [path, type] of [["/ui", "text/html"], ["/ui/", "text/html"], [
      "/ui/app.js",
      "text/javascript",
    ], ["/ui/style.css", "text/css"]]
  ) {
    const response = await app.request(path);
    assert.equal(response.status, 200, path);
    assert.match(response.headers.get("content-type")!, new RegExp(type));
    assert.ok((await response.text()).length > 100);
  }
  const missing = await app.request("/ui/secret.txt");
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).error.code, "not_found");
  assert.throws(() => dashboardRoutes({ uiDir: "/nonexistent" }), Deno.errors.NotFound);
});

Deno.test("dashboard in headless chromium: charts follow telemetry, reload works, overlay draws boxes, masks and matches", async () => {
  await ensureChromium();
  const bus = new EventBus();
  const reloads: string[] = [];
  const streams = new Set<() => void>();
  const answers: InferAnswer[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    fakeApi(bus, reloads, streams, answers).fetch,
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  const shot = await Deno.makeTempFile({ suffix: ".png" });
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`${base}/ui`);
    await page.waitForSelector('#plugins tr[data-plugin="detect"]');
    assert.equal(
      await page.textContent('#plugins tr[data-plugin="detect"] td:nth-child(2)'),
      "1.0.0",
    );
    // Wait until both SSE streams are subscribed before publishing.
    await waitFor("SSE subscribers", () => bus.subscriberCount >= 2);

    for (let n = 1; n <= 3; n += 1) {
      bus.publish({ type: "telemetry", snapshot: snapshot(n), atMs: Date.now() });
    }
    await page.waitForFunction(() =>
      Number(document.getElementById("chart-fps")!.dataset.points) >= 4
    );
    assert.deepEqual(JSON.parse((await page.getAttribute("#chart-fps", "data-last"))!), [13]);
    assert.deepEqual(JSON.parse((await page.getAttribute("#chart-latency", "data-last"))!), [
      7,
      11,
      15,
    ]);
    assert.deepEqual(JSON.parse((await page.getAttribute("#chart-power", "data-last"))!), [8]);
    assert.deepEqual(JSON.parse((await page.getAttribute("#chart-energy", "data-last"))!), [40]);
    // The line is drawn: the chart has pixels of the series colour (#3fb950).
    const green = await page.evaluate(() => {
      const canvas = document.getElementById("chart-fps") as HTMLCanvasElement;
      const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i] === 0x3f && data[i + 1] === 0xb9 && data[i + 2] === 0x50) count += 1;
      }
      return count;
    });
    assert.ok(green > 20, `fps line pixels: ${green}`);
    assert.equal(
      await page.textContent('#plugins tr[data-plugin="detect"] [data-field="fps"]'),
      "13.0",
    );

    // Reload without a token is refused by the API and reported; with one it goes through.
    await page.click('button[data-reload="detect"]');
    await page.waitForFunction(() =>
      /failed/.test(document.getElementById("plugin-message")!.textContent!)
    );
    await page.fill("#token", "t0k");
    await page.click('button[data-reload="detect"]');
    await page.waitForFunction(() =>
      /1\.0\.1/.test(document.getElementById("plugin-message")!.textContent!)
    );
    assert.deepEqual(reloads, ["detect"]);

    // Infer on an uploaded image: the overlay draws both boxes over it.
    await page.setInputFiles("#file", {
      name: "frame.png",
      mimeType: "image/png",
      buffer: Buffer.from(pngOf(320, 200)),
    });
    await page.click('#infer-form button[type="submit"]');
    await page.waitForFunction(() => document.getElementById("frame")!.dataset.boxes === "2");
    const overlay = await page.evaluate(() => {
      const canvas = document.getElementById("frame") as HTMLCanvasElement;
      const ctx = canvas.getContext("2d")!;
      const px = (x: number, y: number) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)];
      return { size: [canvas.width, canvas.height], edge: px(70, 20), inside: px(70, 60) };
    });
    assert.deepEqual(overlay.size, [320, 200]);
    assert.deepEqual(overlay.edge, [0x3f, 0xb9, 0x50], "box edge in the first box colour");
    assert.notDeepEqual(overlay.inside, [0x3f, 0xb9, 0x50], "inside shows the image");

    // A result event from a source (no pixels) redraws the overlay over the last image.
    bus.publish({
      type: "result",
      task: "detect",
      version: "1.0.1",
      frameId: 8,
      source: "cam0",
      latencyMs: 2,
      data: { detections: [{ x1: 0.1, y1: 0.1, x2: 0.5, y2: 0.5, label: "dog", score: 0.8 }] },
      images: [],
      atMs: Date.now(),
    });
    await page.waitForFunction(() => document.getElementById("frame")!.dataset.boxes === "1");

    const pixels = (points: [number, number][]) =>
      page.evaluate((points) => {
        const canvas = document.getElementById("frame") as HTMLCanvasElement;
        const ctx = canvas.getContext("2d")!;
        return points.map(([x, y]) => [...ctx.getImageData(x, y, 1, 1).data.slice(0, 3)]);
      }, points);
    const framesDrawn = async () => Number(await page.getAttribute("#frame", "data-frames") ?? "0");
    const upload = async (answer: InferAnswer) => {
      const before = await framesDrawn();
      answers.push(answer);
      await page.setInputFiles("#file", {
        name: "frame.png",
        mimeType: "image/png",
        buffer: Buffer.from(pngOf(320, 200)),
      });
      await page.click('#infer-form button[type="submit"]');
      await page.waitForFunction(
        (before) => Number(document.getElementById("frame")!.dataset.frames) > before,
        before,
      );
      assert.equal(answers.length, 0, "the page posted the frame");
    };

    // A segmentation answer (the segment plugin's PNG `mask` image): drawn at half opacity
    // over the frame, blue on the left half and red on the right, and no boxes.
    await upload({
      data: { width: 320, height: 200, areas: [] },
      images: {
        mask: {
          mediaType: "image/png",
          bytes: Buffer.from(maskPngOf(320, 200)).toString("base64"),
        },
      },
    });
    assert.equal(await page.getAttribute("#frame", "data-mask"), "1");
    assert.equal(await page.getAttribute("#frame", "data-boxes"), "0");
    const [maskLeft, maskRight] = await pixels([[80, 100], [240, 100]]);
    assertNearRgb(maskLeft, halfOver(patternAt(80, 100), [0, 0, 255]), "mask, left half");
    assertNearRgb(maskRight, halfOver(patternAt(240, 100), [255, 0, 0]), "mask, right half");

    // A match answer (the match plugin's `matches` of point pairs, one image): a line per
    // match in the fourth palette colour (#58a6ff) from `a` to `b`.
    await upload({
      data: {
        matchCount: 2,
        // y = 100.5 puts the 1-pixel line exactly on row 100: crisp, no anti-aliasing.
        matches: [
          { a: [10, 100.5], b: [310, 100.5], distance: 3, inlier: true },
          { a: { x: 20, y: 20 }, b: { x: 300, y: 180 }, distance: 5, inlier: false },
        ],
      },
      images: {},
    });
    assert.equal(await page.getAttribute("#frame", "data-matches"), "2");
    assert.equal(await page.getAttribute("#frame", "data-mask"), "0");
    const [onLine, offLine] = await pixels([[160, 100], [160, 60]]);
    assert.deepEqual(onLine, [0x58, 0xa6, 0xff], "the horizontal match line");
    assert.deepEqual(offLine, patternAt(160, 60), "the frame away from the lines");
    const blueish = await page.evaluate(() => {
      const canvas = document.getElementById("frame") as HTMLCanvasElement;
      const data = canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data;
      let count = 0;
      // Only the lines are blue: the frame's blue channel is 90 everywhere.
      for (let i = 0; i < data.length; i += 4) if (data[i + 2] > 160) count += 1;
      return count;
    });
    // The horizontal line is 301 pixels; the anti-aliased diagonal spans 280 columns and
    // adds a strongly blue pixel in at least half of them.
    assert.ok(blueish >= 301 + 140, `match line pixels: ${blueish}`);

    // A class-map mask in a result event (`data.mask`: class per pixel, 0 = none) is drawn
    // over the last image: class 4 (#bc8cff) on the right half, nothing on the left.
    const before = await framesDrawn();
    bus.publish({
      type: "result",
      task: "detect",
      version: "1.0.1",
      frameId: 9,
      source: "cam0",
      latencyMs: 2,
      data: { width: 320, height: 200, mask: { width: 2, height: 1, data: [0, 4] } },
      images: [],
      atMs: Date.now(),
    });
    await page.waitForFunction(
      (before) => Number(document.getElementById("frame")!.dataset.frames) > before,
      before,
    );
    assert.equal(await page.getAttribute("#frame", "data-mask"), "1");
    const [classNone, classFour] = await pixels([[40, 100], [280, 100]]);
    assert.deepEqual(classNone, patternAt(40, 100), "class 0 leaves the frame as it is");
    assertNearRgb(classFour, halfOver(patternAt(280, 100), [0xbc, 0x8c, 0xff]), "class 4");

    await page.screenshot({ path: shot });
    const png = PNG.sync.read(Buffer.from(await Deno.readFile(shot)));
    assert.equal(png.width, 1100);
    assert.equal(png.height, 900);
    const colours = new Set<number>();
    for (let i = 0; i < png.data.length && colours.size < 50; i += 4 * 97) {
      colours.add((png.data[i] << 16) | (png.data[i + 1] << 8) | png.data[i + 2]);
    }
    assert.ok(colours.size >= 10, `screenshot has ${colours.size} sampled colours`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    for (const close of [...streams]) close();
    await server.shutdown();
    await Deno.remove(shot);
  }
});
