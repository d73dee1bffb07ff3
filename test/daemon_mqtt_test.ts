/**
 * The spawned daemon with its `mqtt` section enabled, against a real mosquitto: results of
 * HTTP inferences arrive on the events topic in order, fleet commands run and are acked on
 * an authenticated connection, `/metrics` counts what was published, and no result is lost
 * when the broker restarts or the daemon is killed mid-stream.
 */

import assert from "node:assert/strict";
import mqtt from "mqtt";
import {
  assertDelivered,
  MosquittoBroker,
  type Received,
  subscriber,
  waitFor,
} from "../daemon/fleet/test_support.ts";
import { encodePng, testPattern } from "../daemon/media/mod.ts";
import { type DaemonProcess, spawnDaemon, writeDaemonConfig } from "./daemon_support.ts";

/** Posts a `width` x 24 PNG to `task`; resolves with the frame id of the 200 answer. */
async function postFrame(daemon: DaemonProcess, task: string, width: number): Promise<number> {
  const response = await fetch(`${daemon.url}/v1/tasks/${task}/infer`, {
    method: "POST",
    headers: { "content-type": "image/png" },
    body: encodePng(testPattern(width, 24, 3)) as Uint8Array<ArrayBuffer>,
  });
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.frameId;
}

Deno.test("daemon publishes results over MQTT and obeys fleet commands", async () => {
  const broker = await MosquittoBroker.start({ users: { drone: "drone-secret", ops: "ops-pw" } });
  const root = await Deno.makeTempDir({ prefix: "onebit-daemon-mqtt-" });
  const configPath = await writeDaemonConfig(root, {
    plugins: ["echo"],
    config: {
      mqtt: {
        enabled: true,
        url: broker.url,
        device: "d7",
        username: "drone",
        password: "env:ONEBIT_TEST_MQTT_PASSWORD",
        reconnectMs: 200,
        telemetryIntervalMs: 0,
      },
    },
  });
  const daemon = await spawnDaemon(configPath, {
    env: { ONEBIT_TEST_MQTT_PASSWORD: "drone-secret" },
  });
  const client = await mqtt.connectAsync(broker.url, {
    username: "ops",
    password: "ops-pw",
    reconnectPeriod: 0,
  });
  const received: { topic: string; body: Record<string, unknown> }[] = [];
  client.on("message", (topic, payload) => {
    received.push({ topic, body: JSON.parse(new TextDecoder().decode(payload)) });
  });
  try {
    await client.subscribeAsync(["onebit/d7/events/#", "onebit/d7/ack"], { qos: 1 });
    await waitFor("the daemon's broker session", async () => {
      const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
      return /^onebit_mqtt_connected 1$/m.test(metrics);
    });
    for (let frame = 0; frame < 3; frame++) {
      const response = await fetch(`${daemon.url}/v1/tasks/echo/infer`, {
        method: "POST",
        headers: { "content-type": "image/png" },
        body: encodePng(testPattern(32 + frame, 24, 3)) as Uint8Array<ArrayBuffer>,
      });
      assert.equal(response.status, 200);
      await response.body?.cancel();
    }
    await waitFor(
      "three result events",
      () => received.filter((m) => m.topic === "onebit/d7/events/echo").length === 3,
    );
    const widths = received.filter((m) => m.topic === "onebit/d7/events/echo")
      .map((m) => (m.body.data as { originalWidth: number }).originalWidth);
    assert.deepEqual(widths, [32, 33, 34]);

    await client.publishAsync(
      "onebit/d7/cmd/plugin/reload",
      JSON.stringify({ id: "r1", name: "echo" }),
      { qos: 1 },
    );
    await waitFor("the ack", () => received.some((m) => m.topic === "onebit/d7/ack"));
    const ack = received.find((m) => m.topic === "onebit/d7/ack")!.body;
    assert.equal(ack.id, "r1");
    assert.equal(ack.ok, true, JSON.stringify(ack));
    const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
    assert.match(metrics, /onebit_mqtt_messages_total\{state="published"\} [3-9]/);
    assert.match(metrics, /onebit_mqtt_commands_total\{result="succeeded"\} 1/);
    assert.match(metrics, /onebit_plugin_reloads_total\{task="echo",result="ok"\} 1/);
  } finally {
    await client.endAsync();
    assert.equal((await daemon.stop()).code, 0, daemon.log());
    await broker.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon loses no result when the broker stops and restarts mid-stream", async () => {
  const broker = await MosquittoBroker.start();
  const root = await Deno.makeTempDir({ prefix: "onebit-daemon-mqtt-restart-" });
  const configPath = await writeDaemonConfig(root, {
    plugins: ["echo", "tiny"],
    config: {
      mqtt: { enabled: true, url: broker.url, device: "d9", reconnectMs: 100 },
    },
  });
  const daemon = await spawnDaemon(configPath);
  const sub = await subscriber(broker.url, "onebit/d9/events/#");
  const connected = async (up: boolean) => {
    const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
    return new RegExp(`^onebit_mqtt_connected ${up ? 1 : 0}$`, "m").test(metrics);
  };
  try {
    await waitFor("the daemon's broker session", () => connected(true));
    // Frames alternate between two tasks: 0-19 with the broker up, 20-39 while it is down,
    // 40-59 while the daemon and the subscriber reconnect.
    const frameIds: number[] = [];
    const taskOf = (frame: number) => frame % 2 === 0 ? "echo" : "tiny";
    for (let frame = 0; frame < 60; frame++) {
      if (frame === 20) {
        await waitFor("results before the stop", () => sub.messages.length >= 5);
        await broker.halt();
        await waitFor("the daemon to see the broker gone", () => connected(false));
      }
      if (frame === 40) await broker.resume();
      frameIds.push(await postFrame(daemon, taskOf(frame), 32 + frame));
    }
    await waitFor(
      "all 60 results",
      () => new Set(sub.messages.map((m) => m.body.frameId)).size === 60,
    );
    assertDelivered(sub.messages, frameIds, (m) => m.body.frameId as number);
    const tasks = new Set(sub.messages.map((m) => m.topic));
    assert.deepEqual([...tasks].sort(), ["onebit/d9/events/echo", "onebit/d9/events/tiny"]);
    assert.ok(sub.messages.every((m) => m.body.type === "result" && m.body.device === "d9"));
    const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
    assert.match(metrics, /^onebit_mqtt_connected 1$/m);
  } finally {
    await sub.client.endAsync(true);
    assert.equal((await daemon.stop()).code, 0, daemon.log());
    await broker.stop();
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("daemon killed while the broker is down or while it streams loses no result", async () => {
  const broker = await MosquittoBroker.start();
  const root = await Deno.makeTempDir({ prefix: "onebit-daemon-spool-" });
  const configPath = await writeDaemonConfig(root, {
    plugins: ["echo"],
    config: {
      mqtt: {
        enabled: true,
        url: broker.url,
        device: "d8",
        reconnectMs: 100,
        telemetryIntervalMs: 0,
      },
    },
  });
  // A persistent session: the broker queues QoS 1 messages for it while it is away.
  const subscriberOptions = { clientId: "onebit-test-sub", clean: false, reconnectPeriod: 0 };
  const setup = await mqtt.connectAsync(broker.url, subscriberOptions);
  await setup.subscribeAsync("onebit/d8/events/#", { qos: 1 });
  await setup.endAsync();
  await broker.halt();
  const post = async (daemon: DaemonProcess, width: number) => {
    const response = await fetch(`${daemon.url}/v1/tasks/echo/infer`, {
      method: "POST",
      headers: { "content-type": "image/png" },
      body: encodePng(testPattern(width, 24, 3)) as Uint8Array<ArrayBuffer>,
    });
    assert.equal(response.status, 200);
    await response.body?.cancel();
  };
  let daemon = await spawnDaemon(configPath);
  let client: mqtt.MqttClient | null = null;
  try {
    for (let width = 32; width < 37; width++) await post(daemon, width);
    daemon.child.kill("SIGKILL");
    await daemon.status;
    daemon = await spawnDaemon(configPath);
    for (let width = 37; width < 42; width++) await post(daemon, width);
    await broker.resume();
    const messages: Received[] = [];
    client = await mqtt.connectAsync(broker.url, subscriberOptions);
    client.on("message", (topic, payload) => {
      messages.push({ topic, body: JSON.parse(new TextDecoder().decode(payload)) });
    });
    const widthOf = (m: Received) => (m.body.data as { originalWidth: number }).originalWidth;
    const widths = () => messages.map(widthOf);
    await waitFor("ten replayed results", () => new Set(widths()).size === 10);
    // At least once: a record acknowledged just before the kill may come twice, in order.
    const firsts = widths().filter((width, index) => widths().indexOf(width) === index);
    assert.deepEqual(firsts, [32, 33, 34, 35, 36, 37, 38, 39, 40, 41]);

    // Killed again, now while the broker is up and results stream. The broker is frozen
    // for the kill (its connections stay open, nothing is acknowledged) so the killed daemon
    // surely holds sent-but-unacked records; the next daemon must send them again.
    const answered: number[] = [];
    const stream = (async () => {
      for (let width = 42; width < 242; width++) {
        try {
          await post(daemon, width);
        } catch {
          return; // the kill cut this request; its result may or may not have been spooled
        }
        answered.push(width);
      }
    })();
    await waitFor(
      "results streaming to the subscriber",
      () => answered.length >= 10 && widths().filter((width) => width >= 42).length >= 5,
    );
    broker.freeze(true);
    await waitFor("unacknowledged results in the daemon's spool", async () => {
      const metrics = await fetch(`${daemon.url}/metrics`).then((r) => r.text());
      const records = /^onebit_mqtt_spool_records (\d+)$/m.exec(metrics);
      return records !== null && Number(records[1]) >= 5;
    });
    daemon.child.kill("SIGKILL");
    await daemon.status;
    await stream;
    broker.freeze(false);
    assert.ok(answered.length < 200, "the kill came mid-stream");
    daemon = await spawnDaemon(configPath);
    const next = 42 + answered.length + 1; // after the width whose request the kill cut
    for (let width = next; width < next + 5; width++) {
      await post(daemon, width);
      answered.push(width);
    }
    await waitFor(
      "every answered result",
      () => answered.every((width) => widths().includes(width)),
    );
    assertDelivered(messages, [...firsts, ...answered], widthOf);
  } finally {
    await client?.endAsync();
    await daemon.stop();
    await broker.stop();
    await Deno.remove(root, { recursive: true });
  }
});
