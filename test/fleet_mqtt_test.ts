/**
 * MQTT store-and-forward against a real mosquitto on loopback: delivery, broker restart,
 * publisher kill and restart, spool full policies, and fleet commands with and without auth.
 */

import assert from "node:assert/strict";
import { EventBus, type ResultEvent } from "../daemon/events.ts";
import type { PluginStatus, TaskHost } from "../daemon/host/types.ts";
import { parseMqttConfig } from "../daemon/fleet/config.ts";
import { type MqttPublisher, startMqttPublisher } from "../daemon/fleet/mqtt.ts";
import {
  assertDelivered,
  freePort,
  MosquittoBroker,
  subscriber,
  waitFor,
} from "../daemon/fleet/test_support.ts";

function result(task: string, frameId: number): ResultEvent {
  return {
    type: "result",
    task,
    version: "1.0.0",
    frameId,
    source: "http",
    latencyMs: 1,
    data: { boxes: [[1, 2, 3, 4]] },
    images: [],
    atMs: Date.now(),
  };
}

function config(url: string, spoolDir: string, extra: Record<string, unknown> = {}) {
  return parseMqttConfig({
    enabled: true,
    url,
    device: "dev1",
    reconnectMs: 100,
    connectTimeoutMs: 2000,
    spool: { dir: spoolDir, fsync: true },
    ...extra,
  });
}

Deno.test("mqtt publisher delivers every event once the broker restarts mid-stream", async () => {
  const broker = await MosquittoBroker.start();
  const spoolDir = await Deno.makeTempDir();
  const sub = await subscriber(broker.url, "onebit/dev1/events/#");
  const bus = new EventBus();
  let publisher: MqttPublisher | null = null;
  try {
    publisher = startMqttPublisher(config(broker.url, spoolDir), { bus });
    await waitFor("publisher connection", () => publisher!.connected);
    const tasks = ["detect", "segment", "match"];
    for (let i = 0; i < 30; i += 1) bus.publish(result(tasks[i % 3], i));
    await waitFor("first messages", () => sub.messages.length >= 10);
    await broker.halt();
    await waitFor("publisher sees the broker gone", () => !publisher!.connected);
    for (let i = 30; i < 60; i += 1) bus.publish(result(tasks[i % 3], i));
    assert.ok(publisher.metrics().spoolRecords >= 30, "events wait in the spool");
    await broker.resume();
    await waitFor(
      "all 60 events",
      () => new Set(sub.messages.map((m) => m.body.frameId)).size === 60,
    );
    await publisher.drained();
    assertDelivered(sub.messages, [...Array(60).keys()], (m) => m.body.frameId as number);
    const metrics = publisher.metrics();
    assert.equal(metrics.published, 60);
    assert.ok(metrics.replayed >= 30, `replayed ${metrics.replayed}`);
    assert.ok(metrics.reconnects >= 1);
    assert.equal(metrics.spoolRecords, 0);
    const body = sub.messages[0].body;
    assert.equal(body.device, "dev1");
    assert.equal(body.type, "result");
    assert.deepEqual(body.data, { boxes: [[1, 2, 3, 4]] });
  } finally {
    await publisher?.stop();
    await sub.client.endAsync(true);
    await broker.stop();
    await Deno.remove(spoolDir, { recursive: true });
  }
});

Deno.test("mqtt publisher filters tasks and throttles telemetry", async () => {
  const broker = await MosquittoBroker.start();
  const spoolDir = await Deno.makeTempDir();
  const sub = await subscriber(broker.url, "onebit/dev1/#");
  const bus = new EventBus();
  const publisher = startMqttPublisher(
    config(broker.url, spoolDir, { tasks: ["detect"], telemetryIntervalMs: 1000 }),
    { bus },
  );
  try {
    bus.publish(result("segment", 1));
    bus.publish(result("detect", 2));
    bus.publish({ type: "telemetry", snapshot: { fps: 1 }, atMs: 10_000 });
    bus.publish({ type: "telemetry", snapshot: { fps: 2 }, atMs: 10_500 }); // throttled
    bus.publish({ type: "telemetry", snapshot: { fps: 3 }, atMs: 11_000 });
    bus.publish({ type: "plugin", task: "detect", action: "loaded", version: "1.0.0", atMs: 1 });
    await publisher.drained();
    await waitFor("4 messages", () => sub.messages.length >= 4);
    assert.deepEqual(sub.messages.map((m) => m.topic), [
      "onebit/dev1/events/detect",
      "onebit/dev1/telemetry",
      "onebit/dev1/telemetry",
      "onebit/dev1/status",
    ]);
    assert.deepEqual(sub.messages[1].body.snapshot, { fps: 1 });
    assert.deepEqual(sub.messages[2].body.snapshot, { fps: 3 });
    assert.equal(sub.messages[3].body.action, "loaded");
  } finally {
    await publisher.stop();
    await sub.client.endAsync(true);
    await broker.stop();
    await Deno.remove(spoolDir, { recursive: true });
  }
});

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  // A TextDecoder rather than TextDecoderStream: the latter's types clash with the DOM lib
  // the dashboard test pulls into a combined type check.
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let rest = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    rest += decoder.decode(value, { stream: true });
    const lines = rest.split("\n");
    rest = lines.pop()!;
    lines.forEach(onLine);
  }
}

Deno.test("mqtt publisher process killed mid-stream and restarted on its spool loses nothing", async () => {
  const broker = await MosquittoBroker.start();
  const spoolDir = await Deno.makeTempDir();
  const sub = await subscriber(broker.url, "onebit/dev1/events/#");
  const total = 120;
  const configJson = JSON.stringify({
    enabled: true,
    url: broker.url,
    device: "dev1",
    reconnectMs: 100,
    spool: { dir: spoolDir },
  });
  const child = new URL("../daemon/fleet/test_publisher_child.ts", import.meta.url).pathname;
  const spawn = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", child, configJson, String(total)],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
  try {
    const first = spawn();
    let appended = -1;
    let killed = false;
    const firstLines = readLines(first.stdout, (line) => {
      const match = /^appended (\d+)$/.exec(line);
      if (match) appended = Number(match[1]);
      if (appended >= 40 && !killed) {
        killed = true;
        first.kill("SIGKILL");
      }
    });
    await first.status;
    await firstLines;
    assert.ok(killed && appended >= 40 && appended < total - 1, `killed after ${appended}`);
    const second = spawn();
    let drained = false;
    const resumedAt: number[] = [];
    await readLines(second.stdout, (line) => {
      const match = /^appended (\d+)$/.exec(line);
      if (match && resumedAt.length === 0) resumedAt.push(Number(match[1]));
      if (line === "drained") drained = true;
    });
    assert.equal((await second.status).code, 0);
    assert.ok(drained);
    // The restart continued after the last record the killed process had on disk.
    assert.ok(resumedAt[0] > appended, `resumed at ${resumedAt[0]}, killed after ${appended}`);
    await waitFor(
      `${total} messages`,
      () => new Set(sub.messages.map((m) => m.body.i)).size === total,
    );
    assertDelivered(sub.messages, [...Array(total).keys()], (m) => m.body.i as number);
  } finally {
    await sub.client.endAsync(true);
    await broker.stop();
    await Deno.remove(spoolDir, { recursive: true });
  }
});

for (const policy of ["drop_oldest", "reject_new"] as const) {
  Deno.test(`mqtt publisher with a full spool applies ${policy} and forwards the rest`, async () => {
    const port = freePort(); // nothing listens yet: the broker is "down"
    const spoolDir = await Deno.makeTempDir();
    const bus = new EventBus();
    const url = `mqtt://127.0.0.1:${port}`;
    const publisher = startMqttPublisher(
      config(url, spoolDir, { spool: { dir: spoolDir, recordsMax: 5, policy } }),
      { bus },
    );
    let broker: MosquittoBroker | null = null;
    let sub: Awaited<ReturnType<typeof subscriber>> | null = null;
    try {
      for (let i = 0; i < 8; i += 1) bus.publish(result("detect", i));
      const metrics = publisher.metrics();
      assert.equal(metrics.spoolRecords, 5);
      assert.equal(metrics.spooled, policy === "drop_oldest" ? 8 : 5);
      assert.equal(metrics.droppedOldest, policy === "drop_oldest" ? 3 : 0);
      assert.equal(metrics.rejectedNew, policy === "reject_new" ? 3 : 0);
      broker = await MosquittoBroker.start({ port });
      sub = await subscriber(broker.url, "onebit/dev1/events/#");
      await publisher.drained();
      const expected = policy === "drop_oldest" ? [3, 4, 5, 6, 7] : [0, 1, 2, 3, 4];
      await waitFor("5 messages", () => sub!.messages.length >= 5);
      assert.deepEqual(sub.messages.map((m) => m.body.frameId), expected);
      assert.equal(publisher.metrics().replayed, 5);
    } finally {
      await publisher.stop();
      await sub?.client.endAsync(true);
      await broker?.stop();
      await Deno.remove(spoolDir, { recursive: true });
    }
  });
}

/** A TaskHost that records reloads; other methods fail as a missing plugin would. */
function fakeHost(calls: string[]): TaskHost {
  const status = (name: string) => ({ name, version: "1.0.1" }) as unknown as PluginStatus;
  const missing = (name: string) =>
    Object.assign(new Error(`Plugin '${name}' is not loaded`), { code: "plugin_not_found" });
  return {
    list: () => [],
    get: () => undefined,
    load: (dir) => Promise.reject(missing(dir)),
    reload: (name) => {
      calls.push(`reload ${name}`);
      return name === "detect" ? Promise.resolve(status(name)) : Promise.reject(missing(name));
    },
    unload: (name) => Promise.reject(missing(name)),
    infer: (name) => Promise.reject(missing(name)),
    lastFrame: (name) => {
      throw missing(name);
    },
    started: true,
    close: () => Promise.resolve(),
  };
}

Deno.test("mqtt commands run over an authenticated connection and are acked", async () => {
  const users = { daemon: "s3cret", operator: "op-pass" };
  const broker = await MosquittoBroker.start({ users });
  const spoolDir = await Deno.makeTempDir();
  const calls: string[] = [];
  const acks = await subscriber(broker.url, "onebit/dev1/ack", {
    username: "operator",
    password: "op-pass",
  });
  Deno.env.set("ONEBIT_TEST_MQTT_PASSWORD", "s3cret");
  const publisher = startMqttPublisher(
    config(broker.url, spoolDir, { username: "daemon", password: "env:ONEBIT_TEST_MQTT_PASSWORD" }),
    { bus: new EventBus(), host: fakeHost(calls) },
  );
  try {
    assert.equal(publisher.authenticated, true);
    await waitFor("publisher connection", () => publisher.connected);
    // The subscription is sent right after CONNACK; a round trip through the ack topic
    // (a malformed command answered by the daemon) proves it is in place.
    await waitFor("daemon subscribed", async () => {
      await acks.client.publishAsync("onebit/dev1/cmd/plugin/reload", "not json", { qos: 1 });
      await new Promise((r) => setTimeout(r, 50));
      return acks.messages.length > 0;
    });
    const send = (suffix: string, body: unknown) =>
      acks.client.publishAsync(`onebit/dev1/cmd/${suffix}`, JSON.stringify(body), { qos: 1 });
    await send("plugin/reload", { id: "c1", name: "detect" });
    await send("plugin/reload", { id: "c2", name: "nope" });
    await send("plugin/explode", { id: "c3" });
    await send("source/stop", { id: "c4", name: "cam0" });
    await send("plugin/reload", { id: "c1", name: "detect" }); // duplicate id: not run again
    // Probe acks (id null) may still arrive: keep the answers to these commands.
    const answers = () => acks.messages.map((m) => m.body).filter((body) => body.id !== null);
    await waitFor("5 acks", () => answers().length >= 5);
    // Acks carry the command id; a refused command may be answered before a running one.
    const all = answers();
    const byId = (id: string) => all.filter((body) => body.id === id);
    const got = [byId("c1")[0], byId("c2")[0], byId("c3")[0], byId("c4")[0], byId("c1")[1]];
    assert.deepEqual(got[0], {
      id: "c1",
      command: "plugin/reload",
      ok: true,
      result: { name: "detect", version: "1.0.1" },
    });
    assert.deepEqual(got[1].error, {
      code: "plugin_not_found",
      message: "Plugin 'nope' is not loaded",
    });
    assert.equal((got[2].error as { code: string }).code, "command_invalid");
    assert.match((got[2].error as { message: string }).message, /plugin\/explode/);
    assert.equal((got[3].error as { code: string }).code, "unsupported");
    assert.deepEqual(got[4], got[0]);
    assert.deepEqual(calls, ["reload detect", "reload nope"]);
    assert.equal(acks.messages[0].body.id, null);
    assert.equal(publisher.metrics().commandsSucceeded, 1);
  } finally {
    Deno.env.delete("ONEBIT_TEST_MQTT_PASSWORD");
    await publisher.stop();
    await acks.client.endAsync(true);
    await broker.stop();
    await Deno.remove(spoolDir, { recursive: true });
  }
});

Deno.test("mqtt commands over an anonymous connection are refused and not run", async () => {
  const broker = await MosquittoBroker.start();
  const spoolDir = await Deno.makeTempDir();
  const calls: string[] = [];
  const acks = await subscriber(broker.url, "onebit/dev1/ack");
  const publisher = startMqttPublisher(config(broker.url, spoolDir), {
    bus: new EventBus(),
    host: fakeHost(calls),
  });
  try {
    assert.equal(publisher.authenticated, false);
    await waitFor("publisher connection", () => publisher.connected);
    await waitFor("refusal", async () => {
      await acks.client.publishAsync(
        "onebit/dev1/cmd/plugin/reload",
        JSON.stringify({ id: "r1", name: "detect" }),
        { qos: 1 },
      );
      await new Promise((r) => setTimeout(r, 50));
      return acks.messages.length > 0;
    });
    const ack = acks.messages[0].body;
    assert.equal(ack.id, "r1");
    assert.equal(ack.ok, false);
    assert.equal((ack.error as { code: string }).code, "command_refused");
    assert.deepEqual(calls, []);
  } finally {
    await publisher.stop();
    await acks.client.endAsync(true);
    await broker.stop();
    await Deno.remove(spoolDir, { recursive: true });
  }
});

Deno.test("mqtt publisher refuses an unset env password and a bad config", () => {
  assert.throws(
    () =>
      startMqttPublisher(
        config("mqtt://127.0.0.1:1", "/nonexistent", { password: "env:ONEBIT_NO_SUCH_VAR" }),
        { bus: new EventBus() },
      ),
    /ONEBIT_NO_SUCH_VAR is not set/,
  );
  assert.throws(() => parseMqttConfig({ url: "http://x" }), /mqtt\.url/);
  assert.throws(() => parseMqttConfig({ spool: { policy: "drop_newest" } }), /mqtt\.spool\.policy/);
});
