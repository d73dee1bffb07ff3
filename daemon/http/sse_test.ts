import assert from "node:assert/strict";
import { type DaemonEvent, EventBus } from "../events.ts";
import { eventStream } from "./sse.ts";
import { testApp } from "./test_support.ts";

const decoder = new TextDecoder();

/** Reads the stream until `marker` appears (bounded by `readsMax` chunks). */
async function readUntil(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  marker: string,
  readsMax = 50,
): Promise<string> {
  let text = "";
  for (let reads = 0; reads < readsMax && !text.includes(marker); reads += 1) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

function result(task: string, frameId: number): DaemonEvent {
  return {
    type: "result",
    task,
    version: "1.0.0",
    frameId,
    source: "http",
    latencyMs: 1,
    data: { frameId },
    images: [],
    atMs: 1,
  };
}

function dataLines(text: string): DaemonEvent[] {
  return text.split("\n").filter((line) => line.startsWith("data: ")).map((line) =>
    JSON.parse(line.slice(6))
  );
}

Deno.test("GET /v1/events streams published events and unsubscribes when cancelled", async () => {
  const { app, bus } = testApp();
  const response = await app.request("/v1/events");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type") ?? "", /^text\/event-stream/);
  const reader = response.body!.getReader();
  assert.match(await readUntil(reader, ": connected"), /: connected/);
  assert.equal(bus.subscriberCount, 1);
  bus.publish(result("detect", 1));
  bus.publish({ type: "plugin", task: "detect", action: "swapped", version: "1.1.0", atMs: 2 });
  bus.publish({ type: "telemetry", snapshot: {}, atMs: 3 });
  bus.publish({ type: "source", source: "cam", task: "detect", state: "started", atMs: 4 });
  const text = await readUntil(reader, '"source":"cam"');
  assert.match(text, /^event: result$/m);
  assert.match(text, /^event: plugin$/m);
  assert.doesNotMatch(text, /event: telemetry/);
  assert.deepEqual(dataLines(text).map((event) => event.type), ["result", "plugin", "source"]);
  await reader.cancel();
  assert.equal(bus.subscriberCount, 0);
});

Deno.test("GET /v1/events?task= sends only that task's events", async () => {
  const { app, bus } = testApp();
  const reader = (await app.request("/v1/events?task=match")).body!.getReader();
  await readUntil(reader, ": connected");
  bus.publish(result("detect", 1));
  bus.publish(result("match", 2));
  const events = dataLines(await readUntil(reader, '"frameId":2'));
  assert.deepEqual(events.map((event) => (event as { task: string }).task), ["match"]);
  await reader.cancel();
  assert.equal(bus.subscriberCount, 0);
});

Deno.test("GET /v1/events refuses a bad task filter", async () => {
  const { app, bus } = testApp();
  const response = await app.request("/v1/events?task=Not%20A%20Name");
  assert.equal(response.status, 400);
  assert.equal((await response.json()).error.code, "bad_request");
  assert.equal(bus.subscriberCount, 0);
});

Deno.test("eventStream ends and unsubscribes when its signal aborts", async () => {
  const bus = new EventBus();
  const controller = new AbortController();
  const reader = eventStream(bus, { types: ["result"], signal: controller.signal }).body!
    .getReader();
  await readUntil(reader, ": connected");
  assert.equal(bus.subscriberCount, 1);
  controller.abort();
  assert.equal(bus.subscriberCount, 0);
  await readUntil(reader, "never");
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
});

Deno.test("SSE streams end when the daemon is closing", async () => {
  const state = testApp();
  const reader = (await state.app.request("/v1/telemetry/stream")).body!.getReader();
  await readUntil(reader, "event: telemetry");
  state.closing.abort();
  assert.equal(state.bus.subscriberCount, 0);
  await readUntil(reader, "never");
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
  const late = await state.app.request("/v1/events");
  const text = await readUntil(late.body!.getReader(), "never");
  assert.equal(text, ": connected\n\n");
  assert.equal(state.bus.subscriberCount, 0);
});

Deno.test("GET /v1/telemetry/stream sends the current snapshot, then bus snapshots", async () => {
  const state = testApp();
  state.telemetry.snapshot = { now: 1 };
  const reader = (await state.app.request("/v1/telemetry/stream")).body!.getReader();
  const first = await readUntil(reader, "event: telemetry");
  assert.deepEqual(
    dataLines(first).map((event) => (event as { snapshot: unknown }).snapshot),
    [{ now: 1 }],
  );
  state.bus.publish(result("detect", 1));
  state.bus.publish({ type: "telemetry", snapshot: { now: 2 }, atMs: 5 });
  const next = await readUntil(reader, '"now":2');
  assert.doesNotMatch(next, /event: result/);
  assert.deepEqual(dataLines(next), [{ type: "telemetry", snapshot: { now: 2 }, atMs: 5 }]);
  await reader.cancel();
  assert.equal(state.bus.subscriberCount, 0);
});

Deno.test("SSE streams send heartbeat comments", async () => {
  const { app } = testApp({ sseHeartbeatMs: 5 });
  const reader = (await app.request("/v1/events")).body!.getReader();
  assert.match(await readUntil(reader, ": heartbeat"), /: heartbeat\n\n/);
  await reader.cancel();
});

Deno.test("a slow SSE client loses events beyond the backlog and is told how many", async () => {
  const { app, bus } = testApp();
  const reader = (await app.request("/v1/events")).body!.getReader();
  await readUntil(reader, ": connected");
  for (let frame = 0; frame < 300; frame += 1) bus.publish(result("detect", frame));
  const text = await readUntil(reader, '"frameId":255', 400);
  assert.doesNotMatch(text, /"frameId":256/);
  bus.publish(result("detect", 1000));
  const after = await readUntil(reader, '"frameId":1000');
  assert.match(after, /: dropped 44 events/);
  await reader.cancel();
});
