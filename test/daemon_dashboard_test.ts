/// <reference lib="dom" />
/**
 * The dashboard served by the real spawned daemon, in headless Chromium: the plugin table
 * lists the loaded plugin and the charts follow the daemon's own telemetry stream while
 * frames are inferred.
 */

import assert from "node:assert/strict";
import { chromium } from "playwright-core";
import { encodePng, testPattern } from "../daemon/media/mod.ts";
import { spawnDaemon, writeDaemonConfig } from "./daemon_support.ts";

const CHROMIUM = "/usr/bin/chromium";

Deno.test("dashboard of the spawned daemon shows its plugins and live telemetry", async () => {
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
    assert.deepEqual(errors, []);
  } finally {
    sending = false;
    await frames;
    await browser.close();
    assert.equal((await daemon.stop()).code, 0, daemon.log());
    await Deno.remove(root, { recursive: true });
  }
});
