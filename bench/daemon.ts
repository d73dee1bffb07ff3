/**
 * Daemon benchmark (`deno task bench:daemon [--quick]`): what serving through the daemon
 * costs over calling the runtime directly, measured side by side in one run.
 *
 *   - `direct`:   this process runs the BiNeal ResNet-18 (224x224, random weights) with a
 *                 1-thread kernel context: fill the input, run, argmax — what the plugin does;
 *   - `http_cN`:  the same model served by a spawned `onebit serve` (plugin with 2 workers
 *                 of 1 kernel thread each), N clients posting raw 224x224x3 u8 frames
 *                 (`application/octet-stream`, so no image decoding is timed) back to back,
 *                 N = 1, 4, 16. `http_png_c1` posts PNGs instead (decode + resize included).
 *
 * Rounds interleave `direct` and `http_c1` so machine noise hits both alike; the overhead at
 * concurrency 1 is `median(http_c1) / median(direct) - 1`.
 * Then it loads three plugins (three copies of the model) and reads the daemon's RSS from
 * /v1/telemetry, and runs 20 hot swaps of one plugin while 16 clients keep posting frames,
 * counting every request that did not answer 200.
 *
 * Writes bench/results/daemon.json; the last line printed is one JSON summary object.
 * Goals (reported, never asserted): overhead <= 10% at concurrency 1; zero failed requests
 * across the hot swaps.
 *
 * Flags: --quick (fewer rounds and requests, 8 swaps; under 60 s), --rounds=N, --out=<path>.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { KernelContext, openKernels } from "../daemon/kernels/library.ts";
import { encodePng, testPattern } from "../daemon/media/mod.ts";
import { ModelInstance } from "../daemon/runtime/executor.ts";
import { loadModel } from "../daemon/runtime/model_file.ts";
import { buildBinealResNet18 } from "../daemon/runtime/zoo.ts";
import { type DaemonProcess, spawnDaemon } from "../test/daemon_support.ts";
import { cpuModel, loadAverage, parseBenchOptions } from "./lib/options.ts";
import { formatTable, round, writeJsonReport } from "./lib/report.ts";
import { median } from "./lib/timing.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SIDE = 224;
const PLUGIN_MODULE = `${ROOT}test/fixtures/plugins/tiny/mod.ts`;

const options = parseBenchOptions(Deno.args, {
  name: "bench:daemon",
  filterFlag: "--only",
  out: `${ROOT}bench/results/daemon.json`,
  rounds: { quick: 3, full: 7 },
  threads: { quick: [1], full: [1] },
});
const requestsPerRound = options.quick ? 10 : 30;
const swaps = options.quick ? 8 : 20;

/** Writes plugin folder `name` (version `version`) serving `modelBytes` into `root`. */
async function writePlugin(
  root: string,
  name: string,
  version: string,
  modelBytes: Uint8Array,
): Promise<string> {
  const dir = `${root}/${name}${version === "1.0.0" ? "" : `-${version}`}`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.copyFile(PLUGIN_MODULE, `${dir}/mod.ts`);
  await Deno.writeFile(`${dir}/model.onebit`, modelBytes);
  await Deno.writeTextFile(
    `${dir}/plugin.json`,
    JSON.stringify({
      name,
      version,
      task: "classify",
      apiVersion: 1,
      entry: "mod.ts",
      models: { model: "model.onebit" },
      input: { width: SIDE, height: SIDE, channels: 3 },
    }),
  );
  return dir;
}

/** Posts one frame; resolves with the HTTP status (0 when the request itself failed). */
async function post(daemon: DaemonProcess, task: string, body: Uint8Array, type: string) {
  try {
    const response = await fetch(`${daemon.url}/v1/tasks/${task}/infer`, {
      method: "POST",
      headers: type === "raw"
        ? { "content-type": "application/octet-stream", "x-onebit-shape": `${SIDE}x${SIDE}x3` }
        : { "content-type": "image/png" },
      body: body.slice() as Uint8Array<ArrayBuffer>,
    });
    await response.body?.cancel();
    return response.status;
  } catch {
    return 0;
  }
}

/** `clients` clients post `total` frames back to back; returns ms per frame and failures. */
async function load(
  daemon: DaemonProcess,
  task: string,
  clients: number,
  total: number,
  body: Uint8Array,
  type: "raw" | "png",
): Promise<{ msPerFrame: number; latenciesMs: number[]; failed: number }> {
  let next = 0;
  let failed = 0;
  const latenciesMs: number[] = [];
  const start = performance.now();
  await Promise.all(Array.from({ length: clients }, async () => {
    while (next < total) {
      next++;
      const sent = performance.now();
      const status = await post(daemon, task, body, type);
      latenciesMs.push(performance.now() - sent);
      if (status !== 200) failed++;
    }
  }));
  return { msPerFrame: (performance.now() - start) / total, latenciesMs, failed };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

const root = await Deno.makeTempDir({ prefix: "onebit-bench-daemon-" });
const model = buildBinealResNet18({ inputSize: SIDE, seed: 3 });
const pluginsDir = `${root}/plugins`;
await writePlugin(pluginsDir, "r18a", "1.0.0", model.bytes);
await writePlugin(pluginsDir, "r18b", "1.0.0", model.bytes);
await writePlugin(pluginsDir, "r18c", "1.0.0", model.bytes);
const swapDirs = [
  await writePlugin(`${root}/versions`, "r18a", "1.1.0", model.bytes),
  await writePlugin(`${root}/versions`, "r18a", "1.2.0", model.bytes),
];
const configPath = `${root}/onebit.json`;
await Deno.writeTextFile(
  configPath,
  JSON.stringify({
    threads: 2,
    kernels: { libDir: `${ROOT}zig-out/lib` },
    plugins: {
      dir: "plugins",
      load: ["r18a"],
      watch: false,
      defaults: { concurrency: 2, queueMax: 64, deadlineMs: 30_000, threads: 1 },
    },
    log: { level: "warn" },
  }),
);

const frame = testPattern(SIDE, SIDE, 3).data;
const png = encodePng(testPattern(SIDE, SIDE, 3));

// The direct baseline: what the plugin's process() does, without the daemon around it.
const lib = openKernels({ libDir: `${ROOT}zig-out/lib` });
const ctx = new KernelContext(lib, { threads: 1 });
const instance = new ModelInstance(loadModel(model.bytes), ctx);
function runDirect(): void {
  const outputs = instance.run({ image: frame });
  const scores = outputs[instance.outputNames[0]] as Float32Array;
  let best = 0;
  for (let index = 1; index < scores.length; index++) {
    if (scores[index] > scores[best]) best = index;
  }
  if (best < 0) throw new Error("unreachable");
}

const daemon = await spawnDaemon(configPath);
const directMs: number[] = [];
const httpMs: number[] = [];
const httpLatencies: number[] = [];
let failedLoad = 0;
try {
  runDirect();
  await load(daemon, "r18a", 1, 3, frame, "raw"); // warm both workers' JIT and caches
  for (let roundIndex = 0; roundIndex < options.rounds; roundIndex++) {
    const start = performance.now();
    for (let index = 0; index < requestsPerRound; index++) runDirect();
    directMs.push((performance.now() - start) / requestsPerRound);
    const http = await load(daemon, "r18a", 1, requestsPerRound, frame, "raw");
    httpMs.push(http.msPerFrame);
    httpLatencies.push(...http.latenciesMs);
    failedLoad += http.failed;
  }
  const concurrency: Record<string, { fps: number; p50Ms: number; p99Ms: number }> = {};
  for (const clients of [1, 4, 16]) {
    const run = await load(daemon, "r18a", clients, requestsPerRound * 2, frame, "raw");
    failedLoad += run.failed;
    concurrency[`http_c${clients}`] = {
      fps: 1000 / run.msPerFrame,
      p50Ms: percentile(run.latenciesMs, 50),
      p99Ms: percentile(run.latenciesMs, 99),
    };
  }
  const pngRun = await load(daemon, "r18a", 1, requestsPerRound, png, "png");
  failedLoad += pngRun.failed;

  // Three plugins: RSS of the whole daemon (workers are threads of its process).
  for (const name of ["r18b", "r18c"]) {
    const response = await fetch(`${daemon.url}/v1/plugins`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dir: name }),
    });
    if (response.status !== 201) throw new Error(`load ${name}: ${await response.text()}`);
    await response.body?.cancel();
  }
  await load(daemon, "r18b", 2, 4, frame, "raw");
  await load(daemon, "r18c", 2, 4, frame, "raw");
  await new Promise((resolve) => setTimeout(resolve, 1200)); // one telemetry sample
  const telemetry = await (await fetch(`${daemon.url}/v1/telemetry`)).json();
  const rssBytes = telemetry.process?.residentBytes ?? null;

  // Hot swaps under 16 clients.
  let swapping = true;
  let swapRequests = 0;
  let swapFailed = 0;
  const clients = Array.from({ length: 16 }, async () => {
    while (swapping) {
      const status = await post(daemon, "r18a", frame, "raw");
      swapRequests++;
      if (status !== 200) swapFailed++;
    }
  });
  const swapMs: number[] = [];
  let swapErrors = 0;
  for (let index = 0; index < swaps; index++) {
    const start = performance.now();
    const response = await fetch(`${daemon.url}/v1/plugins/r18a/reload`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dir: swapDirs[index % 2] }),
    });
    if (response.status !== 200) swapErrors++;
    await response.body?.cancel();
    swapMs.push(performance.now() - start);
  }
  swapping = false;
  await Promise.all(clients);

  const directMedian = median(directMs);
  const httpMedian = median(httpMs);
  const overhead = httpMedian / directMedian - 1;
  const rows = [
    { case: "direct", fps: 1000 / directMedian, p50Ms: directMedian, p99Ms: NaN },
    {
      case: "http_c1 (interleaved)",
      fps: 1000 / httpMedian,
      p50Ms: percentile(httpLatencies, 50),
      p99Ms: percentile(httpLatencies, 99),
    },
    ...Object.entries(concurrency).map(([name, value]) => ({ case: name, ...value })),
    {
      case: "http_png_c1",
      fps: 1000 / pngRun.msPerFrame,
      p50Ms: percentile(pngRun.latenciesMs, 50),
      p99Ms: percentile(pngRun.latenciesMs, 99),
    },
  ];
  console.log(formatTable(
    ["case", "FPS", "p50 ms", "p99 ms"],
    rows.map((row) => [
      row.case,
      row.fps.toFixed(1),
      row.p50Ms.toFixed(2),
      Number.isNaN(row.p99Ms) ? "-" : row.p99Ms.toFixed(2),
    ]),
  ));
  const summary = {
    benchmark: "daemon",
    model: model.name,
    input: `${SIDE}x${SIDE}x3`,
    overhead_c1: round(overhead, 4),
    overhead_goal: 0.1,
    direct_ms: round(directMedian, 3),
    http_c1_ms: round(httpMedian, 3),
    fps: Object.fromEntries(rows.map((row) => [row.case.split(" ")[0], round(row.fps, 2)])),
    rss_mib_three_plugins: rssBytes === null ? null : round(rssBytes / 2 ** 20, 1),
    hot_swaps: swaps,
    hot_swap_errors: swapErrors,
    hot_swap_ms_median: round(median(swapMs), 1),
    requests_during_swaps: swapRequests,
    failed_requests_during_swaps: swapFailed,
    failed_requests_other: failedLoad,
  };
  await writeJsonReport(options.out, {
    ...summary,
    rows,
    rounds: options.rounds,
    requestsPerRound,
    machine: { cpu: cpuModel(), load: loadAverage() },
  });
  console.log(JSON.stringify(summary));
} finally {
  await daemon.stop();
  ctx.destroy();
  lib.close();
  await Deno.remove(root, { recursive: true });
}
