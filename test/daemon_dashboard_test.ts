/// <reference lib="dom" />
/**
 * The dashboard served by the real spawned daemon, in headless Chromium: the plugin table
 * lists the loaded plugin, the charts follow the daemon's own telemetry stream while frames
 * are inferred, and frames from a source (not from the page) are shown with their pixels.
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { chromium } from "playwright-core";
import { PNG } from "pngjs";
import { encodePng, testPattern } from "../daemon/media/mod.ts";
import { spawnDaemon, writeDaemonConfig } from "./daemon_support.ts";

const CHROMIUM = "/usr/bin/chromium";

/** A colour no chart, text or blank frame (#0b0e11) of the page uses. */
const FRAME_RGB: readonly [number, number, number] = [201, 42, 117];

/** A solid FRAME_RGB PNG, `width` x `height`. */
function solidPng(width: number, height: number): Uint8Array<ArrayBuffer> {
  const data = new Uint8Array(width * height * 3);
  for (let i = 0; i < data.length; i += 3) data.set(FRAME_RGB, i);
  return encodePng({ width, height, channels: 3, data }) as Uint8Array<ArrayBuffer>;
}

Deno.test("dashboard of the spawned daemon shows its plugins, live telemetry and source frames", async () => {
  const setup = await new Deno.Command("bash", {
    args: [new URL("../scripts/system_packages.sh", import.meta.url).pathname, "chromium"],
  }).output();
  assert.ok(setup.success, new TextDecoder().decode(setup.stderr));
  const root = await Deno.makeTempDir({ prefix: "onebit-daemon-ui-" });
  const daemon = await spawnDaemon(await writeDaemonConfig(root, { plugins: ["echo"] }));
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
  let sending = true;
  const frames = (async () => {
    while (sending) {
      const response = await fetch(`${daemon.url}/v1/tasks/echo/infer`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: encodePng(testPattern(32, 24, 3)) as Uint8Array<ArrayBuffer>,
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    await page.goto(`${daemon.url}/ui`);
    await page.waitForSelector('#plugins tr[data-plugin="echo"]');
    assert.equal(
      await page.textContent('#plugins tr[data-plugin="echo"] td:nth-child(2)'),
      "1.0.0",
    );
    // The telemetry stream samples every 200 ms: the FPS chart gains points with FPS > 0.
    await page.waitForFunction(
      () => {
        const chart = document.getElementById("chart-fps")!;
        const last = JSON.parse(chart.dataset.last ?? "[0]") as number[];
        return Number(chart.dataset.points) >= 3 && last[0] > 0;
      },
      undefined,
      { timeout: 20_000 },
    );
    const latency = JSON.parse((await page.getAttribute("#chart-latency", "data-last"))!);
    assert.equal(latency.length, 3);
    assert.ok(latency.every((value: number) => value > 0), JSON.stringify(latency));

    // Frames from a files source, none from the page: the page fetches the frame the daemon
    // kept and draws its pixels, then the overlay of that frame's result.
    sending = false;
    await frames;
    const images = `${root}/images`;
    await Deno.mkdir(images);
    const png = solidPng(64, 48);
    await Deno.writeFile(`${images}/solid.png`, png);
    const started = await fetch(`${daemon.url}/v1/sources`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        name: "folder",
        task: "echo",
        kind: "files",
        input: images,
        fps: 10,
        loop: true,
      }),
    });
    assert.equal(started.status, 201, await started.clone().text());
    await started.body?.cancel();
    const shown = await page.waitForFunction(
      (rgb: number[]) => {
        const canvas = document.getElementById("frame") as HTMLCanvasElement;
        if (canvas.dataset.frameFrom !== "daemon") return false;
        const ctx = canvas.getContext("2d")!;
        const [r, g, b] = ctx.getImageData(canvas.width >> 1, canvas.height >> 1, 1, 1).data;
        const near = (a: number, e: number) => Math.abs(a - e) <= 2;
        if (!(near(r, rgb[0]) && near(g, rgb[1]) && near(b, rgb[2]))) return false;
        return { size: [canvas.width, canvas.height], pixel: [r, g, b] };
      },
      [...FRAME_RGB],
      { timeout: 20_000 },
    );
    const drawn = await shown.jsonValue() as { size: number[]; pixel: number[] };
    assert.deepEqual(drawn.size, [64, 48], "the canvas takes the kept frame's size");
    assert.match((await page.textContent("#result"))!, /"source": "folder"/);

    // The route the page used answers the file's exact bytes.
    const kept = await fetch(`${daemon.url}/v1/tasks/echo/frame`);
    assert.equal(kept.status, 200);
    assert.equal(kept.headers.get("content-type"), "image/png");
    assert.equal(kept.headers.get("cache-control"), "no-store");
    assert.ok(Number(kept.headers.get("x-onebit-frame-id")) > 0);
    assert.deepEqual(new Uint8Array(await kept.arrayBuffer()), png);

    // The whole page: the frame section may be below the fold of the viewport.
    const shot = PNG.sync.read(Buffer.from(await page.screenshot({ fullPage: true })));
    assert.equal(shot.width, 1100);
    assert.ok(shot.height >= 900, `screenshot height ${shot.height}`);
    let framePixels = 0;
    const colours = new Set<number>();
    for (let i = 0; i < shot.data.length; i += 4) {
      const [r, g, b] = [shot.data[i], shot.data[i + 1], shot.data[i + 2]];
      if (i % (4 * 97) === 0) colours.add((r << 16) | (g << 8) | b);
      const near = (a: number, e: number) => Math.abs(a - e) <= 2;
      if (near(r, FRAME_RGB[0]) && near(g, FRAME_RGB[1]) && near(b, FRAME_RGB[2])) {
        framePixels += 1;
      }
    }
    assert.ok(colours.size >= 10, `the screenshot has ${colours.size} sampled colours`);
    assert.ok(framePixels >= 2000, `the screenshot shows the frame: ${framePixels} pixels`);
    assert.deepEqual(errors, []);
  } finally {
    sending = false;
    await frames;
    await browser.close();
    assert.equal((await daemon.stop()).code, 0, daemon.log());
    await Deno.remove(root, { recursive: true });
  }
});
