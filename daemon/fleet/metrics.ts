/**
 * The MQTT publisher's counters as Prometheus metrics, read when `/metrics` is scraped.
 *
 * @module
 */

import { Counter, Gauge, type Registry } from "prom-client";
import type { MqttMetrics } from "./mqtt.ts";

/** The counter fields of {@linkcode MqttMetrics} and the `state` label each becomes. */
const MESSAGE_COUNTERS = [
  ["spooled", "spooled"],
  ["published", "published"],
  ["replayed", "replayed"],
  ["droppedOldest", "dropped_oldest"],
  ["rejectedNew", "rejected_new"],
  ["publishErrors", "publish_error"],
] as const satisfies readonly (readonly [keyof MqttMetrics, string])[];

/**
 * Registers `onebit_mqtt_*` metrics in `registry`, each reading `metrics()` at scrape time:
 * `onebit_mqtt_connected`, `onebit_mqtt_messages_total{state}`, `onebit_mqtt_reconnects_total`,
 * `onebit_mqtt_spool_records`, `onebit_mqtt_spool_bytes`, `onebit_mqtt_inflight` and
 * `onebit_mqtt_commands_total{result}`.
 *
 * @example
 * ```ts ignore
 * registerMqttMetrics(telemetry.registry, () => publisher.metrics());
 * ```
 */
export function registerMqttMetrics(registry: Registry, metrics: () => MqttMetrics): void {
  const registers = [registry];
  const gauge = (name: string, help: string, read: (m: MqttMetrics) => number) =>
    new Gauge({
      name,
      help,
      registers,
      collect() {
        this.set(read(metrics()));
      },
    });
  gauge("onebit_mqtt_connected", "1 while the broker session is up.", (m) => m.connected ? 1 : 0);
  gauge(
    "onebit_mqtt_spool_records",
    "Records waiting in the on-disk spool.",
    (m) => m.spoolRecords,
  );
  gauge("onebit_mqtt_spool_bytes", "Bytes of the on-disk spool.", (m) => m.spoolBytes);
  gauge("onebit_mqtt_inflight", "Messages sent and not yet acknowledged.", (m) => m.inflight);
  new Counter({
    name: "onebit_mqtt_messages_total",
    help: "Messages by what happened to them: spooled, published (acknowledged), replayed after " +
      "waiting for a connection, dropped_oldest / rejected_new by a full spool, publish_error.",
    labelNames: ["state"],
    registers,
    collect() {
      this.reset();
      const current = metrics();
      for (const [field, state] of MESSAGE_COUNTERS) this.inc({ state }, current[field] as number);
    },
  });
  new Counter({
    name: "onebit_mqtt_reconnects_total",
    help: "Successful broker connections after the first.",
    registers,
    collect() {
      this.reset();
      this.inc(metrics().reconnects);
    },
  });
  new Counter({
    name: "onebit_mqtt_commands_total",
    help: "Fleet commands received, by result.",
    labelNames: ["result"],
    registers,
    collect() {
      this.reset();
      const current = metrics();
      this.inc({ result: "succeeded" }, current.commandsSucceeded);
      this.inc({ result: "failed" }, current.commandsFailed);
    },
  });
}
