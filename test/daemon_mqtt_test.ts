/**
 * The spawned daemon with its `mqtt` section enabled, against a real mosquitto: results of
 * HTTP inferences arrive on the events topic in order, fleet commands run and are acked on
 * an authenticated connection, and `/metrics` counts what was published.
 */

import assert from "node:assert/strict";
import mqtt from "mqtt";
import { MosquittoBroker, waitFor } from "../daemon/fleet/test_support.ts";
import { encodePng, testPattern } from "../daemon/media/mod.ts";
import { type DaemonProcess, spawnDaemon, writeDaemonConfig } from "./daemon_support.ts";

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

Deno.test("daemon killed while the broker is down loses no result: the spool replays them in order", async () => {
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
    const widths: number[] = [];
    client = await mqtt.connectAsync(broker.url, subscriberOptions);
    client.on("message", (_topic, payload) => {
      const event = JSON.parse(new TextDecoder().decode(payload));
      widths.push(event.data.originalWidth);
    });
    await waitFor("ten replayed results", () => new Set(widths).size === 10);
    // At least once: a record acknowledged just before the kill may come twice, in order.
    const firsts = widths.filter((width, index) => widths.indexOf(width) === index);
    assert.deepEqual(firsts, [32, 33, 34, 35, 36, 37, 38, 39, 40, 41]);
  } finally {
    await client?.endAsync();
    await daemon.stop();
    await broker.stop();
    await Deno.remove(root, { recursive: true });
  }
});
