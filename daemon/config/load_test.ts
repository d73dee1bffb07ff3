import assert from "node:assert/strict";
import { join } from "node:path";
import { ConfigError } from "./errors.ts";
import { ConfigStore, DEFAULT_CONFIG_PATH, loadConfig } from "./load.ts";
import type { Config } from "./types.ts";

async function withDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "onebit_config_test_" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("loadConfig reads the repository's configs/onebit.json", async () => {
  const loaded = await loadConfig();
  assert.equal(loaded.path, DEFAULT_CONFIG_PATH);
  assert.deepEqual(loaded.config.plugins.load, ["*"]);
  assert.equal(loaded.config.plugins.dir, join(loaded.dir, "..", "plugins"));
  assert.ok(Object.isFrozen(loaded.config.listen));
});

Deno.test("loadConfig returns the embedded defaults when the default file is absent", async () => {
  await withDir(async (dir) => {
    const loaded = await loadConfig(undefined, { defaultPath: join(dir, "onebit.json") });
    assert.equal(loaded.path, null);
    assert.equal(loaded.dir, dir);
    assert.equal(loaded.config.listen.port, 8470);
    assert.equal(loaded.config.plugins.dir, join(dir, "..", "plugins"));
  });
});

Deno.test("loadConfig refuses an explicitly given missing file", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "nope.json");
    await assert.rejects(loadConfig(file), (error: unknown) => {
      assert.ok(error instanceof ConfigError);
      assert.match(error.message, /nope\.json: cannot read the file: no such file/);
      return true;
    });
  });
});

Deno.test("loadConfig names the file for bad JSON and bad fields", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "bad.json");
    await Deno.writeTextFile(file, "{ listen: ");
    await assert.rejects(loadConfig(file), /bad\.json: the file is not valid JSON/);
    await Deno.writeTextFile(file, JSON.stringify({ listen: { port: 70000 } }));
    await assert.rejects(loadConfig(file), {
      message: `${file}: listen.port is 70000, expected 0..65535`,
    });
  });
});

Deno.test("loadConfig resolves relative paths against the file's folder and keeps URLs", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "onebit.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        plugins: { dir: "plugs" },
        kernels: { libDir: "/opt/lib" },
        telemetry: { hwmonRoot: "fixtures/hwmon" },
        sources: [
          { name: "a", task: "t", kind: "files", input: "frames" },
          { name: "b", task: "t", kind: "ffmpeg", input: "rtsp://10.0.0.2/s" },
          { name: "c", task: "t", kind: "ffmpeg", input: "/dev/video0" },
        ],
      }),
    );
    const { config } = await loadConfig(file);
    assert.equal(config.plugins.dir, join(dir, "plugs"));
    assert.equal(config.kernels.libDir, "/opt/lib");
    assert.equal(config.telemetry.hwmonRoot, join(dir, "fixtures/hwmon"));
    assert.deepEqual(config.sources.map((source) => source.input), [
      join(dir, "frames"),
      "rtsp://10.0.0.2/s",
      "/dev/video0",
    ]);
  });
});

Deno.test("the example configs are valid", async () => {
  const env = (name: string) => (name === "ONEBIT_TOKEN" ? "example-token-0123456789" : undefined);
  for (const name of ["drone.json", "gateway.json"]) {
    const file = new URL(`../../configs/examples/${name}`, import.meta.url).pathname;
    const { config } = await loadConfig(file, { env });
    assert.equal(config.auth.token, "example-token-0123456789", name);
    assert.equal(config.sources[0].kind, "ffmpeg", name);
  }
  const drone = new URL("../../configs/examples/drone.json", import.meta.url).pathname;
  await assert.rejects(loadConfig(drone, { env: () => undefined }), /ONEBIT_TOKEN/);
});

Deno.test("ConfigStore swaps a valid reload and tells listeners", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "onebit.json");
    await Deno.writeTextFile(file, JSON.stringify({ listen: { port: 9000 } }));
    const store = await ConfigStore.open(file);
    assert.equal(store.current.listen.port, 9000);
    assert.equal(store.path, file);
    const seen: [number, number][] = [];
    const stop = store.subscribe((next, previous) => {
      seen.push([previous.listen.port, next.listen.port]);
    });
    await Deno.writeTextFile(file, JSON.stringify({ listen: { port: 9001 } }));
    assert.deepEqual(await store.reload(), { ok: true });
    assert.equal(store.current.listen.port, 9001);
    assert.deepEqual(seen, [[9000, 9001]]);
    stop();
    await Deno.writeTextFile(file, JSON.stringify({ listen: { port: 9002 } }));
    assert.deepEqual(await store.reload(), { ok: true });
    assert.equal(seen.length, 1);
  });
});

Deno.test("ConfigStore keeps the running config when a reload is invalid", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "onebit.json");
    await Deno.writeTextFile(
      file,
      JSON.stringify({ listen: { port: 9000 }, log: { level: "warn" } }),
    );
    const store = await ConfigStore.open(file);
    const before: Config = store.current;
    let calls = 0;
    store.subscribe(() => calls++);
    // Valid fields beside an invalid one: nothing of the new file may leak in.
    await Deno.writeTextFile(file, JSON.stringify({ listen: { port: 9001 }, log: { level: "x" } }));
    const result = await store.reload();
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.equal(result.error.code, "bad_config");
      assert.match(result.error.message, /log\.level is "x"/);
    }
    assert.equal(store.current, before);
    assert.equal(store.current.listen.port, 9000);
    assert.equal(calls, 0);
    await Deno.remove(file);
    const gone = await store.reload();
    assert.equal(gone.ok, false);
    assert.equal(store.current, before);
  });
});

Deno.test("ConfigStore runs concurrent reloads one at a time and counts throwing listeners", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "onebit.json");
    await Deno.writeTextFile(file, JSON.stringify({ listen: { port: 9000 } }));
    const store = await ConfigStore.open(file);
    store.subscribe(() => {
      throw new Error("listener failure");
    });
    const results = await Promise.all([store.reload(), store.reload(), store.reload()]);
    assert.deepEqual(results, [{ ok: true }, { ok: true }, { ok: true }]);
    assert.equal(store.listenerErrors, 3);
  });
});

Deno.test("ConfigStore on the embedded defaults picks up a default file created later", async () => {
  await withDir(async (dir) => {
    const file = join(dir, "onebit.json");
    const store = await ConfigStore.open(undefined, { defaultPath: file });
    assert.equal(store.path, null);
    await Deno.writeTextFile(file, JSON.stringify({ listen: { port: 9100 } }));
    assert.deepEqual(await store.reload(), { ok: true });
    assert.equal(store.path, file);
    assert.equal(store.current.listen.port, 9100);
  });
});
