/**
 * A publisher process for the kill-and-restart test (test/fleet_mqtt_test.ts): reads a
 * {@linkcode parseMqttConfig} input as JSON from `Deno.args[0]` and a total count from
 * `Deno.args[1]`, then spools message `i` (topic `onebit/<device>/events/t<i % 3>`, payload
 * `{ i }`) for every `i` from the spool's next seq up to the total, printing `appended <i>`
 * once each is on disk, and after the last one waits for every PUBACK and prints `drained`.
 * The message number equals its spool seq, so a restarted process continues where the
 * killed one stopped. Not used by the daemon.
 *
 * @module
 */

import { EventBus } from "../events.ts";
import { parseMqttConfig } from "./config.ts";
import { startMqttPublisher } from "./mqtt.ts";

const config = parseMqttConfig(JSON.parse(Deno.args[0]));
const total = Number(Deno.args[1]);
const publisher = startMqttPublisher(config, { bus: new EventBus() }, { subscribeBus: false });
const encoder = new TextEncoder();
for (let i = publisher.spool.nextSeq; i < total; i += 1) {
  const seq = publisher.enqueue(`onebit/${config.device}/events/t${i % 3}`, { i });
  if (seq !== i) throw new Error(`spool seq ${seq} differs from message ${i}`);
  Deno.stdout.writeSync(encoder.encode(`appended ${i}\n`));
  // Yield so the publisher sends while appending: the kill lands mid-stream.
  await new Promise((resolve) => setTimeout(resolve, 2));
}
await publisher.drained();
Deno.stdout.writeSync(encoder.encode("drained\n"));
await publisher.stop();
