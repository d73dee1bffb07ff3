/**
 * Integration tests of `onebit serve`: the real daemon spawned on a free port with fixture
 * plugins and driven over HTTP, signals and the systemd notify socket.
 */

import assert from "node:assert/strict";
import { copyFixture } from "../daemon/host/test_support.ts";
import { encodeJpeg, encodePng, encodePnm, testPattern } from "../daemon/media/mod.ts";
import { UnixDatagramSocket } from "../daemon/systemd/libc.ts";
import { type DaemonProcess, spawnDaemon, writeDaemonConfig } from "./daemon_support.ts";

const TOKEN = "integration-test-token-0123456789";
const auth = { authorization: `Bearer ${TOKEN}` };

interface ErrorBody {
  error: { code: string; message: string };
}

interface SourceJson {
  config: { name: string; task: string; kind: string };
  state: string;
  framesSent: number;
}

async function json<T>(response: Response): Promise<T> {
  return await response.json() as T;
}

function png(width = 40, height = 30): Uint8Array<ArrayBuffer> {
  return encodePng(testPattern(width, height, 3)) as Uint8Array<ArrayBuffer>;
}

async function infer(
  daemon: DaemonProcess,
  task: string,
  body: Uint8Array,
  headers: Record<string, string> = { "content-type": "image/png" },
): Promise<Response> {
  return await fetch(`${daemon.url}/v1/tasks/${task}/infer`, {
    method: "POST",
    headers: { ...auth, ...headers },
    body: body as Uint8Array<ArrayBuffer>,
  });
}

async function expectError(response: Response, status: number, code: string): Promise<void> {
  const body = await json<ErrorBody>(response);
  assert.equal(response.status, status, JSON.stringify(body));
  assert.equal(body.error.code, code);
  assert.ok(body.error.message.length > 0);
}

async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function pluginStatus(
  daemon: DaemonProcess,
  name: string,
): Promise<{ version: string; state: string; restarts: number; reloads: number }> {
  const response = await fetch(`${daemon.url}/v1/plugins/${name}`);
  assert.equal(response.status, 200);
  return await response.json();
}

Deno.test("daemon serves every route, isolates broken plugins and hot-swaps", async (t) => {
  const root = await Deno.makeTempDir({ prefix: "onebit-daemon-" });
  const configPath = await writeDaemonConfig(root, {
    plugins: ["echo", "tiny", "hangs", "crashes", "throws"],
    config: {
      auth: { token: TOKEN },
      limits: { bodyBytesMax: 256 * 1024 },
      plugins: {
        dir: "plugins",
        load: ["*"],
        watch: false,
        defaults: { concurrency: 1, queueMax: 8, deadlineMs: 5000, threads: 1 },
        overrides: { hangs: { deadlineMs: 400 } },
      },
    },
  });
  const daemon = await spawnDaemon(configPath);
  try {
    await t.step("read routes answer", async () => {
      assert.equal((await fetch(`${daemon.url}/healthz`).then((r) => r.text())).length > 0, true);
      assert.equal(
        await fetch(`${daemon.url}/readyz`).then((r) => (r.body?.cancel(), r.status)),
        200,
      );
      const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
      assert.match(metrics, /^onebit_build_info\{.*cpu_level="x86_64_/m);
      const { plugins } = await json<{ plugins: { name: string }[] }>(
        await fetch(`${daemon.url}/v1/plugins`),
      );
      assert.deepEqual(plugins.map((p) => p.name).sort(), [
        "crashes",
        "echo",
        "hangs",
        "throws",
        "tiny",
      ]);
      const openapi = await json<{ paths: Record<string, unknown> }>(
        await fetch(`${daemon.url}/openapi.json`),
      );
      for (const path of ["/v1/tasks/{name}/infer", "/v1/plugins", "/metrics", "/healthz"]) {
        assert.ok(path in openapi.paths, `${path} in the OpenAPI document`);
      }
      const telemetry = await json<{ tasks: Record<string, unknown> }>(
        await fetch(`${daemon.url}/v1/telemetry`),
      );
      assert.equal(typeof telemetry.tasks, "object");
    });

    await t.step("infer takes PNG, JPEG, PPM and raw tensors and resizes them", async () => {
      const fromPng = await infer(daemon, "echo", png(64, 48));
      assert.equal(fromPng.status, 200);
      const result = await json<{ version: string; data: Record<string, number> }>(fromPng);
      assert.equal(result.version, "1.0.0");
      assert.deepEqual([result.data.width, result.data.height, result.data.originalWidth], [
        32,
        24,
        64,
      ]);
      const fromPnm = await infer(daemon, "echo", encodePnm(testPattern(20, 10, 1)), {
        "content-type": "image/x-portable-graymap",
      });
      assert.equal(fromPnm.status, 200);
      assert.equal(
        (await json<{ data: { originalWidth: number } }>(fromPnm)).data.originalWidth,
        20,
      );
      const fromJpeg = await infer(daemon, "echo", encodeJpeg(testPattern(48, 36, 3)), {
        "content-type": "image/jpeg",
      });
      assert.equal(fromJpeg.status, 200);
      assert.equal(
        (await json<{ data: { originalHeight: number } }>(fromJpeg)).data.originalHeight,
        36,
      );
      const raw = await infer(daemon, "echo", new Uint8Array(8 * 4 * 3).fill(200), {
        "content-type": "application/octet-stream",
        "x-onebit-shape": "4x8x3",
      });
      assert.equal(raw.status, 200);
      assert.equal((await json<{ data: { mean: number } }>(raw)).data.mean, 200);
      const tiny = await infer(daemon, "tiny", png());
      assert.equal(tiny.status, 200, await tiny.clone().text());
      await tiny.body?.cancel();
    });

    await t.step("bad requests get JSON errors with stable codes", async () => {
      const unauthorized = await fetch(`${daemon.url}/v1/tasks/echo/infer`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: png(),
      });
      await expectError(unauthorized, 401, "unauthorized");
      const corrupt = png();
      corrupt.fill(7, 40);
      await expectError(await infer(daemon, "echo", corrupt), 400, "bad_image");
      await expectError(
        await infer(daemon, "echo", new Uint8Array(10), { "content-type": "text/plain" }),
        415,
        "unsupported_media_type",
      );
      await expectError(
        await infer(daemon, "echo", new Uint8Array(300 * 1024)),
        413,
        "body_too_large",
      );
      await expectError(await infer(daemon, "nope", png()), 404, "plugin_not_found");
      await expectError(await fetch(`${daemon.url}/v2/nothing`), 404, "not_found");
    });

    await t.step("a hanging, a crashing and a throwing plugin are isolated", async () => {
      await expectError(await infer(daemon, "hangs", png()), 504, "deadline_exceeded");
      await expectError(await infer(daemon, "crashes", png()), 502, "plugin_crashed");
      const thrown = await infer(daemon, "throws", png());
      assert.ok(thrown.status >= 500, `throws answered ${thrown.status}`);
      assert.equal((await json<ErrorBody>(thrown)).error.code, "process_failed");
      const echo = await infer(daemon, "echo", png());
      assert.equal(echo.status, 200);
      await echo.body?.cancel();
      await until(
        async () => (await pluginStatus(daemon, "hangs")).restarts >= 1,
        "the hung worker to be restarted",
      );
      await until(
        async () => (await pluginStatus(daemon, "crashes")).state === "ready",
        "the crashed worker to serve again",
      );
    });

    await t.step("a broken version is rolled back, a good one swapped in", async () => {
      const broken = await copyFixture(`${root}/versions`, "echo", {
        as: "echo_broken",
        version: "2.0.0",
        codeFrom: "bad_setup",
      });
      const refused = await fetch(`${daemon.url}/v1/plugins/echo/reload`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ dir: broken }),
      });
      await expectError(refused, 422, "reload_failed");
      assert.equal((await pluginStatus(daemon, "echo")).version, "1.0.0");
      const served = await infer(daemon, "echo", png());
      assert.equal((await json<{ version: string }>(served)).version, "1.0.0");

      const good = await copyFixture(`${root}/versions`, "echo", {
        as: "echo_good",
        version: "1.1.0",
      });
      const swapped = await fetch(`${daemon.url}/v1/plugins/echo/reload`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({ dir: good }),
      });
      assert.equal(swapped.status, 200, await swapped.clone().text());
      await swapped.body?.cancel();
      const after = await infer(daemon, "echo", png());
      assert.equal((await json<{ version: string }>(after)).version, "1.1.0");
      const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
      assert.match(metrics, /onebit_plugin_reloads_total\{task="echo",result="ok"\} 1/);
      assert.match(metrics, /onebit_plugin_reloads_total\{task="echo",result="failed"\} 1/);
    });

    await t.step("POST /v1/plugins loads a folder and DELETE unloads it", async () => {
      const dir = await copyFixture(`${root}/versions`, "echo", {
        as: "echo_extra",
        name: "extra",
      });
      const load = (headers: Record<string, string>) =>
        fetch(`${daemon.url}/v1/plugins`, {
          method: "POST",
          headers: { ...headers, "content-type": "application/json" },
          body: JSON.stringify({ dir }),
        });
      await expectError(await load({}), 401, "unauthorized");
      const loaded = await load(auth);
      const status = await json<{ name: string; version: string; state: string; dir: string }>(
        loaded,
      );
      assert.equal(loaded.status, 201, JSON.stringify(status));
      assert.deepEqual([status.name, status.version, status.state, status.dir], [
        "extra",
        "1.0.0",
        "ready",
        dir,
      ]);
      await expectError(await load(auth), 409, "plugin_exists");
      const served = await infer(daemon, "extra", png(50, 20));
      assert.equal(served.status, 200);
      assert.equal(
        (await json<{ data: { originalWidth: number } }>(served)).data.originalWidth,
        50,
      );

      const unload = () =>
        fetch(`${daemon.url}/v1/plugins/extra`, { method: "DELETE", headers: auth });
      const unloaded = await unload();
      assert.equal(unloaded.status, 200);
      assert.deepEqual(await unloaded.json(), { unloaded: "extra" });
      await expectError(await infer(daemon, "extra", png()), 404, "plugin_not_found");
      await expectError(await unload(), 404, "plugin_not_found");
      await expectError(await fetch(`${daemon.url}/v1/plugins/extra`), 404, "plugin_not_found");
      const { plugins } = await json<{ plugins: { name: string }[] }>(
        await fetch(`${daemon.url}/v1/plugins`),
      );
      assert.ok(!plugins.some((plugin) => plugin.name === "extra"));
      const echo = await infer(daemon, "echo", png());
      assert.equal(echo.status, 200, "the other plugins keep serving");
      await echo.body?.cancel();
    });

    await t.step("the telemetry stream sends the current snapshot first", async () => {
      const controller = new AbortController();
      const response = await fetch(`${daemon.url}/v1/telemetry/stream`, {
        signal: controller.signal,
      });
      assert.equal(response.status, 200);
      assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      const firstEvent = /^event: (\S+)\ndata: ([^\n]+)\n\n/m;
      // Bounded by a chunk count: the snapshot is written as soon as the stream opens.
      for (let chunk = 0; chunk < 100 && !firstEvent.test(text); chunk++) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      controller.abort();
      await reader.cancel().catch(() => {});
      const match = firstEvent.exec(text);
      assert.ok(match, `an SSE event in ${JSON.stringify(text.slice(0, 200))}`);
      assert.equal(match[1], "telemetry");
      const event = JSON.parse(match[2]) as {
        type: string;
        atMs: number;
        snapshot: { tasks: Record<string, unknown> };
      };
      assert.equal(event.type, "telemetry");
      assert.equal(typeof event.atMs, "number");
      assert.ok("echo" in event.snapshot.tasks, Object.keys(event.snapshot.tasks).join(", "));
    });

    await t.step("results reach SSE subscribers and a files source feeds a plugin", async () => {
      const images = `${root}/images`;
      await Deno.mkdir(images);
      await Deno.writeFile(`${images}/a.png`, png(16, 16));
      const controller = new AbortController();
      const stream = await fetch(`${daemon.url}/v1/events?task=echo`, {
        signal: controller.signal,
      });
      assert.equal(stream.status, 200);
      const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader();
      const started = await fetch(`${daemon.url}/v1/sources`, {
        method: "POST",
        headers: { ...auth, "content-type": "application/json" },
        body: JSON.stringify({
          name: "folder",
          task: "echo",
          kind: "files",
          input: images,
          fps: 20,
          loop: true,
        }),
      });
      assert.equal(started.status, 201, await started.clone().text());
      await started.body?.cancel();
      let text = "";
      const fromSource = /event: result\ndata: [^\n]*"source":"folder"/;
      while (!fromSource.test(text)) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      assert.match(text, fromSource);
      assert.match(text, /event: source\ndata: [^\n]*"state":"started"/);
      controller.abort();
      await reader.cancel().catch(() => {});
      await expectError(await fetch(`${daemon.url}/v1/sources`), 401, "unauthorized");
      const listed = await fetch(`${daemon.url}/v1/sources`, { headers: auth });
      assert.equal(listed.status, 200);
      const { sources } = await json<{ sources: SourceJson[] }>(listed);
      assert.equal(sources.length, 1);
      assert.deepEqual(
        [sources[0].config.name, sources[0].config.task, sources[0].config.kind, sources[0].state],
        ["folder", "echo", "files", "running"],
      );
      assert.ok(sources[0].framesSent >= 1, `framesSent ${sources[0].framesSent}`);
      const stopped = await fetch(`${daemon.url}/v1/sources/folder`, {
        method: "DELETE",
        headers: auth,
      });
      assert.equal(stopped.status, 200);
      assert.deepEqual(await stopped.json(), { stopped: "folder" });
      const after = await json<{ sources: SourceJson[] }>(
        await fetch(`${daemon.url}/v1/sources`, { headers: auth }),
      );
      assert.deepEqual(after.sources.map((source) => source.state), ["stopped"]);
    });
  } finally {
    const status = await daemon.stop();
    assert.equal(status.code, 0, daemon.log());
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon keeps its config when a SIGHUP reload is invalid", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit-daemon-" });
  const configPath = await writeDaemonConfig(root, { plugins: ["echo"] });
  const daemon = await spawnDaemon(configPath);
  try {
    const good = await Deno.readTextFile(configPath);
    await Deno.writeTextFile(configPath, good.replace('"threads": 2', '"threads": "many"'));
    daemon.child.kill("SIGHUP");
    await until(() => /reload refused/.test(daemon.log()), "the refused reload in the log");
    assert.match(daemon.log(), /threads/);
    const still = await infer(daemon, "echo", png());
    assert.equal((await json<{ data: { mean: number } }>(still)).data.mean > 0, true);

    // A valid reload applies the new option values through a hot swap.
    const scaled = JSON.parse(good);
    scaled.plugins.overrides = { echo: { options: { scale: 0 } } };
    await Deno.writeTextFile(configPath, JSON.stringify(scaled));
    daemon.child.kill("SIGHUP");
    await until(() => /config reloaded/.test(daemon.log()), "the reload in the log");
    const after = await infer(daemon, "echo", png());
    assert.equal((await json<{ data: { mean: number } }>(after)).data.mean, 0);
  } finally {
    const status = await daemon.stop();
    assert.equal(status.code, 0, daemon.log());
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon tells systemd it is ready and drains in-flight work of 8 clients on SIGTERM", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit-daemon-" });
  const configPath = await writeDaemonConfig(root, {
    plugins: ["echo"],
    config: {
      plugins: {
        dir: "plugins",
        load: ["*"],
        watch: false,
        overrides: { echo: { options: { delayMs: 400 } } },
      },
    },
  });
  const socketPath = `${root}/notify.sock`;
  const socket = UnixDatagramSocket.bind(socketPath);
  const messages: string[] = [];
  const drain = () => {
    for (let message = socket.receive(); message !== null; message = socket.receive()) {
      messages.push(new TextDecoder().decode(message));
    }
  };
  const daemon = await spawnDaemon(configPath, {
    env: { NOTIFY_SOCKET: socketPath, WATCHDOG_USEC: "400000" },
  });
  try {
    await until(() => (drain(), messages.some((m) => m.includes("WATCHDOG=1"))), "a ping");
    assert.ok(messages.some((m) => m.split("\n").includes("READY=1")), messages.join("|"));
    // Eight clients post frames back to back (at most 10 each) while SIGTERM arrives: one
    // frame is in flight, the others wait in the queue or are on their way.
    let terminated = false;
    let okAfterTerm = 0;
    const outcomes: string[] = [];
    const client = async () => {
      for (let request = 0; request < 10; request++) {
        let response: Response;
        try {
          response = await infer(daemon, "echo", png());
        } catch {
          outcomes.push("closed"); // refused or reset once the server stopped listening
          return;
        }
        const body = await response.json() as { data?: { width: number } } & Partial<ErrorBody>;
        if (response.status === 200) {
          assert.equal(body.data!.width, 32);
          outcomes.push("ok");
          if (terminated) okAfterTerm++;
          continue;
        }
        assert.deepEqual([response.status, body.error?.code], [503, "shutting_down"]);
        assert.ok(body.error!.message.length > 0);
        outcomes.push("shutting_down");
        return;
      }
    };
    const clients = Array.from({ length: 8 }, () => client());
    await until(async () => {
      const status = await pluginStatus(daemon, "echo") as unknown as {
        inFlight: number;
        queueDepth: number;
      };
      return status.inFlight === 1 && status.queueDepth >= 4;
    }, "a frame in flight and frames queued");
    terminated = true;
    daemon.child.kill("SIGTERM");
    await Promise.all(clients);
    assert.ok(okAfterTerm >= 1, `the in-flight frame finished: ${outcomes.join(" ")}`);
    assert.ok(outcomes.length >= 8, outcomes.join(" "));
    const status = await daemon.status;
    assert.equal(status.code, 0, daemon.log());
    drain();
    assert.ok(messages.some((m) => m.split("\n").includes("STOPPING=1")), messages.join("|"));
  } finally {
    await daemon.stop();
    socket.close();
    await Deno.remove(root, { recursive: true });
  }
});
