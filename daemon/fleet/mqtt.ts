/**
 * MQTT store-and-forward: result, status and telemetry events from the {@linkcode EventBus}
 * go into the on-disk {@linkcode Spool} first, then to the broker with QoS 1; a record leaves
 * the spool only when the broker's PUBACK arrives. While the broker is unreachable records
 * accumulate in the spool (bounded, full policy from the config) and are replayed in order
 * on reconnect, and after a restart of the process on the same spool folder. Delivery is at
 * least once: a record whose PUBACK was lost is sent again. One FIFO for every topic keeps
 * the order per task.
 *
 * Fleet commands (commands.ts) are taken from `<topics.commands>/#` and executed only when
 * the connection is *authenticated*: the config gives a user name and password, or a TLS
 * client certificate and key, and the broker accepted the connection with them (a CONNACK
 * with return code 0). An anonymous connection still subscribes, so a sender learns why
 * nothing happens: every command is answered `command_refused` and nothing runs. Which
 * clients may publish on the command topics is the broker's ACL's business (mosquitto:
 * `acl_file`); this daemon trusts any command reaching it over its authenticated session.
 *
 * @module
 */

import mqtt from "mqtt";
import type { IClientOptions, MqttClient } from "mqtt";
import type { DaemonEvent, EventBus } from "../events.ts";
import type { TaskHost } from "../host/types.ts";
import type { SourceControl } from "../sources/types.ts";
import type { JsonValue } from "../sdk/plugin.ts";
import { type CommandAck, CommandExecutor } from "./commands.ts";
import { expandTopic, type MqttConfig, resolveSecret } from "./config.ts";
import { FleetError } from "./errors.ts";
import { Spool } from "./spool.ts";

/** What the publisher works with. */
export interface MqttPublisherDeps {
  /** Events to publish. */
  readonly bus: EventBus;
  /** Plugin host: task families for `kinds`, and the target of commands. */
  readonly host?: TaskHost;
  /** Target of source commands. */
  readonly sources?: SourceControl;
}

/** Options of {@linkcode startMqttPublisher}. */
export interface MqttPublisherOptions {
  /** Folder a relative `spool.dir` is resolved against. Default: the current folder. */
  baseDir?: string;
  /** Subscribe to the bus (`false`: only {@linkcode MqttPublisher.enqueue} feeds it). Default `true`. */
  subscribeBus?: boolean;
}

/** Counters and gauges of the publisher, for `/metrics`. */
export interface MqttMetrics {
  /** Broker session up. */
  readonly connected: boolean;
  /** Commands are executed (authenticated connection, commands enabled). */
  readonly authenticated: boolean;
  /** Records written to the spool. */
  readonly spooled: number;
  /** Records the broker acknowledged (removed from the spool). */
  readonly published: number;
  /** Published records that had waited in the spool for a connection (offline or restart). */
  readonly replayed: number;
  /** Records dropped by the `drop_oldest` policy. */
  readonly droppedOldest: number;
  /** Records refused by the `reject_new` policy. */
  readonly rejectedNew: number;
  /** Publishes that failed (resent later). */
  readonly publishErrors: number;
  /** Successful connections after the first. */
  readonly reconnects: number;
  /** Records in the spool now. */
  readonly spoolRecords: number;
  /** Bytes in the spool now. */
  readonly spoolBytes: number;
  /** Sent, not yet acknowledged. */
  readonly inflight: number;
  readonly commandsReceived: number;
  readonly commandsSucceeded: number;
  readonly commandsFailed: number;
  /** The last connection error message, or `null`. */
  readonly lastError: string | null;
}

/** A record in the spool. */
interface SpooledMessage {
  readonly t: string;
  readonly p: JsonValue;
}

function loadTlsFile(path: string | null, what: string): string | undefined {
  if (path === null) return undefined;
  try {
    return Deno.readTextFileSync(path);
  } catch (error) {
    throw new FleetError("config_invalid", `Cannot read mqtt.tls.${what} '${path}': ${error}`, {
      cause: error,
    });
  }
}

/**
 * The running publisher. Make it with {@linkcode startMqttPublisher}; stop it with `stop()`.
 */
export class MqttPublisher {
  /** The config it runs with. */
  readonly config: MqttConfig;
  /** The spool (open until `stop()`). */
  readonly spool: Spool;
  /** Fleet command executor. */
  readonly commands: CommandExecutor | null;
  /** True when commands may run (see the module doc). */
  readonly authenticated: boolean;

  readonly #client: MqttClient;
  readonly #deps: MqttPublisherDeps;
  readonly #unsubscribe: () => void;
  #sentSeq = -1;
  #inflight = 0;
  #backlogEndSeq = -1;
  #published = 0;
  #replayed = 0;
  #publishErrors = 0;
  #connects = 0;
  #lastTelemetryMs = -Infinity;
  #lastError: string | null = null;
  #stopped = false;
  #idleWaiters: (() => void)[] = [];

  /** Use {@linkcode startMqttPublisher}. */
  constructor(
    config: MqttConfig,
    deps: MqttPublisherDeps,
    init: { spool: Spool; clientOptions: IClientOptions; subscribeBus: boolean },
  ) {
    this.config = config;
    this.#deps = deps;
    this.spool = init.spool;
    this.authenticated = config.commands.enabled && (
      (config.username !== null && config.password !== null) ||
      (config.tls.cert !== null && config.tls.key !== null)
    );
    this.commands = config.commands.enabled && deps.host
      ? new CommandExecutor({ host: deps.host, sources: deps.sources })
      : null;
    this.#unsubscribe = init.subscribeBus
      ? deps.bus.subscribe((event) => this.#onEvent(event))
      : () => {};
    this.#client = mqtt.connect(config.url, init.clientOptions);
    this.#client.on("connect", () => this.#onConnect());
    this.#client.on("error", (error) => {
      this.#lastError = error.message;
    });
    this.#client.on("message", (topic, payload) => this.#onMessage(topic, payload));
  }

  /** Broker session up. */
  get connected(): boolean {
    return this.#client.connected;
  }

  /**
   * Spools `payload` for `topic` and sends it when it can. Returns the spool seq, or `null`
   * when the spool refused it (`reject_new` and full).
   */
  enqueue(topic: string, payload: JsonValue): number | null {
    if (this.#stopped) {
      throw new FleetError("spool_closed", "Cannot publish: the MQTT publisher is stopped");
    }
    const seq = this.spool.append({ t: topic, p: payload } satisfies SpooledMessage);
    this.#pump();
    return seq;
  }

  /** Counters and gauges now. */
  metrics(): MqttMetrics {
    const spool = this.spool.counters;
    const commands = this.commands?.counters;
    return {
      connected: this.connected,
      authenticated: this.authenticated,
      spooled: spool.spooled,
      published: this.#published,
      replayed: this.#replayed,
      droppedOldest: spool.droppedOldest,
      rejectedNew: spool.rejectedNew,
      publishErrors: this.#publishErrors,
      reconnects: Math.max(0, this.#connects - 1),
      spoolRecords: this.#stopped ? 0 : this.spool.size,
      spoolBytes: this.#stopped ? 0 : this.spool.bytes,
      inflight: this.#inflight,
      commandsReceived: commands?.received ?? 0,
      commandsSucceeded: commands?.succeeded ?? 0,
      commandsFailed: commands?.failed ?? 0,
      lastError: this.#lastError,
    };
  }

  /** Resolves when the spool is empty (everything acknowledged) or the publisher stops. */
  drained(): Promise<void> {
    if (this.#stopped || this.spool.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Unsubscribes from the bus, waits for running commands, closes the connection (records not
   * yet acknowledged stay in the spool for the next start) and closes the spool. Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#unsubscribe();
    await this.commands?.idle();
    await this.#client.endAsync(true);
    this.spool.close();
    for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  #onEvent(event: DaemonEvent): void {
    if (this.#stopped) return;
    const { topics, device } = this.config;
    switch (event.type) {
      case "result":
        if (!this.#wantsTask(event.task)) return;
        this.enqueue(expandTopic(topics.events, { device, task: event.task }), {
          device,
          ...event,
        } as unknown as JsonValue);
        return;
      case "telemetry": {
        const interval = this.config.telemetryIntervalMs;
        if (interval === 0 || event.atMs - this.#lastTelemetryMs < interval) return;
        this.#lastTelemetryMs = event.atMs;
        this.enqueue(expandTopic(topics.telemetry, { device }), {
          device,
          atMs: event.atMs,
          snapshot: event.snapshot,
        });
        return;
      }
      case "plugin":
      case "source":
        if (topics.status === null) return;
        this.enqueue(expandTopic(topics.status, { device }), {
          device,
          ...event,
        } as unknown as JsonValue);
        return;
    }
  }

  #wantsTask(task: string): boolean {
    const { tasks, kinds } = this.config;
    if (!tasks.includes("*") && !tasks.includes(task)) return false;
    if (kinds === null) return true;
    const kind = this.#deps.host?.get(task)?.manifest.task;
    return kind !== undefined && kinds.includes(kind);
  }

  #onConnect(): void {
    this.#connects += 1;
    this.#lastError = null;
    // Everything spooled so far waited for this connection: count it as replayed when sent.
    this.#backlogEndSeq = this.spool.nextSeq - 1;
    if (this.commands !== null) {
      const filter = `${
        expandTopic(this.config.topics.commands, { device: this.config.device })
      }/#`;
      this.#client.subscribe(filter, { qos: 1 }, (error) => {
        if (error) this.#lastError = `subscribe ${filter}: ${error.message}`;
      });
    }
    this.#pump();
  }

  /** Sends spooled records after `#sentSeq` while the session is up and the window allows. */
  #pump(): void {
    if (this.#stopped || !this.#client.connected) return;
    const window = this.config.inflightMax - this.#inflight;
    if (window <= 0) return;
    for (const record of this.spool.peek(this.#sentSeq, window)) {
      const message = record.value as unknown as SpooledMessage;
      this.#sentSeq = record.seq;
      this.#inflight += 1;
      this.#client.publish(message.t, JSON.stringify(message.p), { qos: 1 }, (error) => {
        this.#inflight -= 1;
        if (this.#stopped) return;
        if (error) {
          // The client gave the message up (closed session): send everything unacked again.
          this.#publishErrors += 1;
          this.#sentSeq = Math.min(this.#sentSeq, record.seq - 1);
        } else if (this.spool.ack(record.seq)) {
          this.#published += 1;
          if (record.seq <= this.#backlogEndSeq) this.#replayed += 1;
        }
        if (this.spool.size === 0) {
          for (const resolve of this.#idleWaiters.splice(0)) resolve();
        }
        this.#pump();
      });
    }
  }

  #onMessage(topic: string, payload: Uint8Array): void {
    const prefix = `${expandTopic(this.config.topics.commands, { device: this.config.device })}/`;
    if (this.#stopped || !topic.startsWith(prefix) || this.commands === null) return;
    const name = topic.slice(prefix.length);
    const reply = (ack: CommandAck) => {
      if (this.#stopped) return;
      const ackTopic = expandTopic(this.config.topics.ack, { device: this.config.device });
      this.#client.publish(ackTopic, JSON.stringify(ack), { qos: 1 });
    };
    if (!this.authenticated) {
      reply(this.commands.refuse(name, payload));
      return;
    }
    this.commands.run(name, payload).then(reply);
  }
}

/**
 * Opens the spool, connects to the broker (reconnecting forever every `reconnectMs`) and
 * starts publishing. Throws `FleetError` (`config_invalid`, `secret_missing`, `spool_io`) when
 * it cannot start; a broker that is down is not an error (records wait in the spool).
 *
 * @example
 * ```ts ignore
 * const publisher = startMqttPublisher(parseMqttConfig(config.mqtt), { bus, host, sources });
 * // ... later
 * await publisher.stop();
 * ```
 */
export function startMqttPublisher(
  config: MqttConfig,
  deps: MqttPublisherDeps,
  options: MqttPublisherOptions = {},
): MqttPublisher {
  const password = resolveSecret(config.password);
  const clientOptions: IClientOptions = {
    clientId: config.clientId ?? `onebit-${config.device}`,
    username: config.username ?? undefined,
    password: password ?? undefined,
    keepalive: config.keepaliveS,
    reconnectPeriod: config.reconnectMs,
    connectTimeout: config.connectTimeoutMs,
    clean: true,
    protocolVersion: 4,
    ca: loadTlsFile(config.tls.ca, "ca"),
    cert: loadTlsFile(config.tls.cert, "cert"),
    key: loadTlsFile(config.tls.key, "key"),
    rejectUnauthorized: config.tls.rejectUnauthorized,
  };
  const dir = config.spool.dir.startsWith("/") || options.baseDir === undefined
    ? config.spool.dir
    : `${options.baseDir}/${config.spool.dir}`;
  const spool = Spool.open(dir, {
    bytesMax: config.spool.bytesMax,
    recordsMax: config.spool.recordsMax,
    policy: config.spool.policy,
    segmentBytes: config.spool.segmentBytes,
    fsync: config.spool.fsync,
  });
  return new MqttPublisher(config, deps, {
    spool,
    clientOptions,
    subscribeBus: options.subscribeBus ?? true,
  });
}
