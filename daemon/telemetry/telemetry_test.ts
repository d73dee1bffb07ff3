import assert from "node:assert/strict";
import { EventBus, type TelemetryEvent } from "../events.ts";
import { Telemetry, type TelemetryOptions, type TelemetrySnapshot } from "./telemetry.ts";
import { TelemetryError } from "./errors.ts";
import { withTempDir, writeTree } from "./test_support.ts";

const NO_SENSORS = {
  powercap: "/nonexistent/onebit/powercap",
  hwmon: "/nonexistent/onebit/hwmon",
  powerSupply: "/nonexistent/onebit/power_supply",
  thermal: "/nonexistent/onebit/thermal",
};

const BUILD = { version: "0.1.0", cpuLevel: "avx2", deno: "2.9.6" };

function clock(startMs = 1_000_000) {
  const state = { nowMs: startMs };
  return { state, now: () => state.nowMs };
}

function telemetry(options: Partial<TelemetryOptions> = {}): Telemetry {
  return new Telemetry({
    roots: NO_SENSORS,
    intervalMs: 1000,
    buildInfo: BUILD,
    process: { cpuSeconds: () => 2.5, residentBytes: () => 50_000_000 },
    ...options,
  });
}

/** A fixture board: one RAPL package and one thermal zone, under `dir`. */
async function fixtureBoard(dir: string, energyUj: number): Promise<void> {
  await writeTree(dir, {
    "powercap/intel-rapl:0/name": "package-0",
    "powercap/intel-rapl:0/energy_uj": energyUj,
    "powercap/intel-rapl:0/max_energy_range_uj": 262143328850,
    "thermal/thermal_zone0/type": "x86_pkg_temp",
    "thermal/thermal_zone0/temp": 55000,
  });
}

const boardRoots = (dir: string) => ({
  powercap: `${dir}/powercap`,
  hwmon: `${dir}/hwmon`,
  powerSupply: `${dir}/power_supply`,
  thermal: `${dir}/thermal`,
});

Deno.test("Telemetry counts inferences, errors, drops, reloads and restarts per task", () => {
  const { now } = clock();
  const t = telemetry({ now });
  for (let i = 1; i <= 100; i += 1) t.inference("detect", i, i / 2);
  t.error("detect", "deadline_exceeded");
  t.error("detect", "deadline_exceeded");
  t.error("detect", "bad_image");
  t.dropped("detect", "queue_full");
  t.dropped("detect", "latest_wins", 4);
  t.dropped("detect", "latest_wins", -3); // ignored
  t.queueDepth("detect", 7);
  t.queueDepth("detect", Number.NaN); // ignored
  t.reload("detect", "1.1.0", false);
  t.reload("detect", "1.2.0", true);
  t.restart("detect");
  const snapshot = t.snapshot();
  const detect = snapshot.tasks.detect;
  assert.equal(detect.inferences, 100);
  assert.deepEqual(detect.errors, { deadline_exceeded: 2, bad_image: 1 });
  assert.equal(detect.errorsTotal, 3);
  assert.deepEqual(detect.dropped, { queue_full: 1, latest_wins: 4 });
  assert.equal(detect.queueDepth, 7);
  assert.deepEqual(detect.reloads, { ok: 1, failed: 1 });
  assert.equal(detect.version, "1.2.0");
  assert.equal(detect.restarts, 1);
  assert.deepEqual(detect.latencyMs, { count: 100, p50: 50, p95: 95, p99: 99, max: 100 });
  t.pluginVersion("detect", null);
  assert.equal(t.snapshot().tasks.detect.version, null);
  assert.equal(t.snapshot().tasks.detect.inferences, 100); // counters stay after unload
});

Deno.test("Telemetry FPS follows the injected clock over the sliding window", () => {
  const { state, now } = clock();
  const t = telemetry({ now, fpsWindowMs: 2000 });
  for (let i = 0; i < 60; i += 1) {
    state.nowMs += 50; // 20 FPS for 3 s
    t.inference("segment", 5, 5);
  }
  assert.equal(t.snapshot().tasks.segment.fps, 20);
  state.nowMs += 1000;
  assert.equal(t.snapshot().tasks.segment.fps, 10);
  state.nowMs += 5000;
  assert.equal(t.snapshot().tasks.segment.fps, 0);
});

Deno.test("Telemetry samples power, temperature and process and shares energy by busy time", async () => {
  await withTempDir(async (dir) => {
    const { state, now } = clock();
    const t = telemetry({ now, roots: boardRoots(dir) });
    await fixtureBoard(dir, 1_000_000);
    await t.sampleNow();
    let snapshot = t.snapshot();
    assert.equal(snapshot.power.source, "rapl");
    assert.equal(snapshot.power.watts, null); // one counter reading is not a power
    assert.equal(snapshot.power.energyJoulesTotal, null);
    assert.deepEqual(snapshot.temperatures, [{
      zone: "thermal_zone0",
      type: "x86_pkg_temp",
      celsius: 55,
    }]);
    // No time passed since the sampler's baseline: no ratio yet.
    assert.deepEqual(snapshot.process, {
      cpuSecondsTotal: 2.5,
      cpuPercent: null,
      residentBytes: 50_000_000,
    });

    t.inference("detect", 30, 30);
    t.inference("detect", 30, 30);
    t.inference("match", 20, 40);
    state.nowMs += 2000;
    await fixtureBoard(dir, 21_000_000); // 20 J over 2 s
    await t.sampleNow();
    snapshot = t.snapshot();
    assert.equal(snapshot.power.watts, 10);
    assert.equal(snapshot.power.energyJoulesTotal, 20);
    assert.equal(snapshot.process?.cpuPercent, 0); // the fake CPU time did not move
    assert.deepEqual(snapshot.tasks.detect.energy, {
      joulesTotal: 12, // 60 of 100 busy ms
      joulesPerInferenceLast: 6,
      joulesPerInferenceCumulative: 6,
    });
    assert.equal(snapshot.tasks.match.energy.joulesPerInferenceLast, 8);

    const text = await t.prometheus();
    assert.match(text, /^onebit_power_watts\{source="rapl:package-0"\} 10$/m);
    assert.match(text, /^onebit_energy_joules_total\{source="rapl:package-0"\} 20$/m);
    assert.match(text, /^onebit_energy_per_inference_joules\{task="detect"\} 6$/m);
    assert.match(text, /^onebit_power_sources 1$/m);
    assert.match(
      text,
      /^onebit_temperature_celsius\{zone="thermal_zone0",type="x86_pkg_temp"\} 55$/m,
    );
    assert.match(text, /^onebit_inferences_total\{task="detect"\} 2$/m);
    assert.match(text, /^onebit_inference_latency_seconds_bucket\{le="0.05",task="detect"\} 2$/m);
    assert.match(text, /^onebit_process_cpu_seconds_total 2.5$/m);
    assert.match(text, /^onebit_process_resident_memory_bytes 50000000$/m);
  });
});

Deno.test("Telemetry without sensors says source none and exposes no power number", async () => {
  const t = telemetry();
  await t.sampleNow();
  await t.sampleNow();
  const snapshot = t.snapshot();
  assert.equal(snapshot.power.source, "none");
  assert.equal(snapshot.power.watts, null);
  assert.equal(snapshot.power.energyJoulesTotal, null);
  assert.deepEqual(snapshot.power.sensors, []);
  const text = await t.prometheus();
  assert.doesNotMatch(text, /^onebit_power_watts\{/m);
  assert.doesNotMatch(text, /^onebit_energy_joules_total\{/m);
  assert.match(text, /^onebit_power_sources 0$/m);
  assert.match(text, /^onebit_build_info\{version="0.1.0",cpu_level="avx2",deno="2.9.6"\} 1$/m);
});

Deno.test("Telemetry JSON snapshot has the documented shape", async () => {
  const { now } = clock();
  const t = telemetry({ now });
  t.inference("detect", 10, 9);
  t.pluginVersion("detect", "1.0.0");
  await t.sampleNow();
  const json = JSON.parse(JSON.stringify(t.json())) as TelemetrySnapshot;
  assert.deepEqual(Object.keys(json).sort(), [
    "atMs",
    "build",
    "intervalMs",
    "power",
    "process",
    "sampledAtMs",
    "tasks",
    "temperatures",
  ]);
  assert.equal(json.atMs, 1_000_000);
  assert.equal(json.sampledAtMs, 1_000_000);
  assert.equal(json.intervalMs, 1000);
  assert.deepEqual(json.build, BUILD);
  assert.deepEqual(Object.keys(json.power).sort(), [
    "energyJoulesTotal",
    "idleJoulesTotal",
    "sensorErrorsTotal",
    "sensors",
    "source",
    "watts",
  ]);
  assert.deepEqual(json.tasks.detect, {
    version: "1.0.0",
    inferences: 1,
    errorsTotal: 0,
    errors: {},
    fps: 0.2, // one frame in the 5 s window
    latencyMs: { count: 1, p50: 10, p95: 10, p99: 10, max: 10 },
    queueDepth: 0,
    dropped: { queue_full: 0, latest_wins: 0 },
    reloads: { ok: 0, failed: 0 },
    restarts: 0,
    energy: { joulesTotal: 0, joulesPerInferenceLast: null, joulesPerInferenceCumulative: null },
  });
});

Deno.test("Telemetry publishes a TelemetryEvent every interval and stops cleanly", async () => {
  const events = new EventBus();
  const received: TelemetryEvent[] = [];
  const t = new Telemetry({ roots: NO_SENSORS, intervalMs: 10, events, buildInfo: BUILD });
  const { promise, resolve } = Promise.withResolvers<void>();
  const unsubscribe = events.subscribe((event) => {
    if (event.type !== "telemetry") return;
    received.push(event);
    if (received.length === 3) resolve();
  }, { types: ["telemetry"] });
  t.start();
  t.start(); // a second start does nothing
  assert.equal(t.running, true);
  await promise;
  await t.stop();
  unsubscribe();
  assert.equal(t.running, false);
  const count = received.length;
  assert.ok(count >= 3);
  for (const event of received) {
    assert.equal(typeof event.atMs, "number");
    assert.equal((event.snapshot as TelemetrySnapshot).power.source, "none");
  }
  assert.equal(t.sampleErrors, 0);
});

Deno.test("Telemetry refuses options that cannot work, naming the value", () => {
  for (const intervalMs of [0, 5, 1.5, Number.NaN]) {
    assert.throws(() => telemetry({ intervalMs }), (error: unknown) => {
      assert.ok(error instanceof TelemetryError);
      assert.equal(error.code, "invalid_option");
      assert.match(error.message, new RegExp(`intervalMs is ${intervalMs}`));
      return true;
    });
  }
  assert.throws(() => telemetry({ latencyRing: 0 }), /latencyRing is 0/);
  assert.throws(
    () => telemetry({ latencyBucketsS: [0.1, 0.05] }),
    /latencyBucketsS is \[0.1, 0.05\]/,
  );
});

Deno.test("Telemetry exposition passes promtool check metrics", async () => {
  const setup = await new Deno.Command("bash", {
    args: ["scripts/system_packages.sh", "prometheus"],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  assert.equal(setup.code, 0, "scripts/system_packages.sh prometheus failed");
  await withTempDir(async (dir) => {
    const { state, now } = clock();
    const t = telemetry({ now, roots: boardRoots(dir) });
    await fixtureBoard(dir, 0);
    await t.sampleNow();
    for (const task of ["detect", "segment"]) {
      t.pluginVersion(task, "1.0.0");
      t.inference(task, 12, 10);
      t.error(task, "bad_image");
      t.dropped(task, "latest_wins", 2);
      t.reload(task, "1.0.1", true);
      t.restart(task);
    }
    state.nowMs += 1000;
    await fixtureBoard(dir, 4_000_000);
    await t.sampleNow();
    const text = await t.prometheus();
    // Every metric of DESIGN.md section 6 is there.
    for (
      const name of [
        "onebit_inferences_total",
        "onebit_errors_total",
        "onebit_inference_latency_seconds",
        "onebit_fps",
        "onebit_frames_dropped_total",
        "onebit_queue_depth",
        "onebit_plugin_reloads_total",
        "onebit_plugin_restarts_total",
        "onebit_plugin_info",
        "onebit_power_watts",
        "onebit_energy_joules_total",
        "onebit_energy_per_inference_joules",
        "onebit_temperature_celsius",
        "onebit_process_cpu_seconds_total",
        "onebit_process_cpu_ratio",
        "onebit_process_resident_memory_bytes",
        "onebit_build_info",
        "onebit_power_sensor_errors_total",
      ]
    ) assert.match(text, new RegExp(`^# TYPE ${name} `, "m"), name);
    const promtool = new Deno.Command("promtool", {
      args: ["check", "metrics"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = promtool.stdin.getWriter();
    await writer.write(new TextEncoder().encode(text));
    await writer.close();
    const result = await promtool.output();
    const output = new TextDecoder().decode(result.stdout) +
      new TextDecoder().decode(result.stderr);
    assert.equal(
      result.code,
      0,
      `promtool check metrics failed:\n${output}\n--- exposition ---\n${text}`,
    );
    assert.equal(output.trim(), "", output);
  });
});
