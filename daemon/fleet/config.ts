/**
 * The `mqtt` section of the daemon config: broker, identity, topics, what is published, the
 * spool and fleet commands. Every field has a default, so `{}` (or an absent section) parses
 * to {@linkcode MQTT_CONFIG_DEFAULTS} with `enabled: false`.
 *
 * Topic templates may use `{device}` and (events only) `{task}`.
 *
 * @module
 */

import { z } from "zod";
import { FleetError } from "./errors.ts";

const TASK_KIND = z.enum(["classify", "detect", "segment", "match", "superres", "custom"]);

/** Zod schema of the `mqtt` config section. */
export const mqttConfigSchema = z.strictObject({
  /** Start the publisher with the daemon. Default `false`. */
  enabled: z.boolean().default(false),
  /** Broker URL: `mqtt://`, `mqtts://`, `ws://`, `wss://`. Default `mqtt://127.0.0.1:1883`. */
  url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, "must be mqtt://, mqtts://, ws:// or wss://")
    .default("mqtt://127.0.0.1:1883"),
  /** Device name used in topics. Default `onebit`. */
  device: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, "must be 1-64 of [A-Za-z0-9_.-]")
    .default("onebit"),
  /** MQTT client id; `null` = `onebit-<device>`. */
  clientId: z.string().min(1).max(128).nullable().default(null),
  /** Broker user name; `null` = anonymous. */
  username: z.string().min(1).nullable().default(null),
  /** Password, literal or `env:VAR` (read from the environment at start). */
  password: z.string().min(1).nullable().default(null),
  /** TLS files (PEM paths) for `mqtts://`/`wss://`; cert+key = client certificate auth. */
  tls: z.strictObject({
    ca: z.string().nullable().default(null),
    cert: z.string().nullable().default(null),
    key: z.string().nullable().default(null),
    rejectUnauthorized: z.boolean().default(true),
  }).prefault({}),
  /** Keepalive, seconds. Default 30. */
  keepaliveS: z.number().int().min(0).max(65535).default(30),
  /** Delay between reconnect attempts, ms. Default 2000. */
  reconnectMs: z.number().int().min(100).max(600_000).default(2000),
  /** CONNACK wait, ms. Default 10 000. */
  connectTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  topics: z.strictObject({
    /** Result events. Default `onebit/{device}/events/{task}`. */
    events: z.string().min(1).default("onebit/{device}/events/{task}"),
    /** Telemetry snapshots. Default `onebit/{device}/telemetry`. */
    telemetry: z.string().min(1).default("onebit/{device}/telemetry"),
    /** Plugin and source lifecycle events; `null` = not published. */
    status: z.string().min(1).nullable().default("onebit/{device}/status"),
    /** Command prefix; the publisher subscribes to `<commands>/#`. */
    commands: z.string().min(1).default("onebit/{device}/cmd"),
    /** Command acknowledgements. */
    ack: z.string().min(1).default("onebit/{device}/ack"),
  }).prefault({}),
  /** Plugin names whose results are published; `["*"]` = all. */
  tasks: z.array(z.string().min(1)).default(["*"]),
  /** Task families whose results are published; `null` = all. */
  kinds: z.array(TASK_KIND).nullable().default(null),
  /** At most one telemetry message per this many ms; 0 = no telemetry. Default 5000. */
  telemetryIntervalMs: z.number().int().min(0).max(86_400_000).default(5000),
  /** Messages sent and not yet PUBACKed at once. Default 32. */
  inflightMax: z.number().int().min(1).max(1000).default(32),
  spool: z.strictObject({
    /** Spool folder; relative paths are relative to the config file. Default `spool`. */
    dir: z.string().min(1).default("spool"),
    /** Capacity, bytes. Default 64 MiB. */
    bytesMax: z.number().int().min(1024).default(64 * 1024 * 1024),
    /** Capacity, records. Default 100 000. */
    recordsMax: z.number().int().min(1).default(100_000),
    /** Full policy. Default `drop_oldest`. */
    policy: z.enum(["drop_oldest", "reject_new"]).default("drop_oldest"),
    /** Segment file size, bytes. Default 4 MiB. */
    segmentBytes: z.number().int().min(1024).default(4 * 1024 * 1024),
    /** fdatasync every record. Default `true`. */
    fsync: z.boolean().default(true),
  }).prefault({}),
  commands: z.strictObject({
    /** Accept fleet commands (only ever over an authenticated connection). Default `true`. */
    enabled: z.boolean().default(true),
  }).prefault({}),
});

/** The `mqtt` config section after validation. */
export type MqttConfig = z.output<typeof mqttConfigSchema>;

/** The section as written in a config file. */
export type MqttConfigInput = z.input<typeof mqttConfigSchema>;

/** Every default (what an empty section parses to). */
export const MQTT_CONFIG_DEFAULTS: MqttConfig = Object.freeze(mqttConfigSchema.parse({}));

/**
 * Validates `input` as the `mqtt` section. Throws `FleetError` `config_invalid` naming the
 * field and the value.
 *
 * @example
 * ```ts
 * const config = parseMqttConfig({ enabled: true, device: "drone-7" });
 * config.topics.events; // "onebit/{device}/events/{task}"
 * ```
 */
export function parseMqttConfig(input: unknown): MqttConfig {
  const parsed = mqttConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = ["mqtt", ...issue.path.map(String)].join(".");
    throw new FleetError("config_invalid", `Invalid config ${path}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Resolves a secret: `env:NAME` reads the environment variable NAME (throws `secret_missing`
 * when unset), anything else is returned as is.
 */
export function resolveSecret(value: string | null): string | null {
  if (value === null || !value.startsWith("env:")) return value;
  const name = value.slice(4);
  const found = Deno.env.get(name);
  if (found === undefined) {
    throw new FleetError("secret_missing", `Cannot read secret '${value}': ${name} is not set`);
  }
  return found;
}

/** Fills `{device}` and `{task}` in a topic template. */
export function expandTopic(template: string, values: { device: string; task?: string }): string {
  return template.replaceAll("{device}", values.device).replaceAll("{task}", values.task ?? "");
}
