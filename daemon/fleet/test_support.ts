/**
 * Test helpers of the fleet modules: a real mosquitto broker on loopback, a free port, a
 * bounded wait, a persistent-session subscriber and an at-least-once, in-order delivery
 * check. Not used by the daemon.
 *
 * @module
 */

import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { MqttClient } from "mqtt";

const MOSQUITTO_PATHS = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"];

/** A free TCP port on 127.0.0.1 (bound, read, released). */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/**
 * Waits until `condition()` holds, checking every `stepMs`, failing after `timeoutMs` with
 * `what` in the message. A guard against hangs, not a timing assertion.
 */
export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  options: { timeoutMs?: number; stepMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 20_000);
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, options.stepMs ?? 20));
  }
}

/** Installs mosquitto through scripts/system_packages.sh when missing; returns its path. */
export async function ensureMosquitto(): Promise<string> {
  const found = () => MOSQUITTO_PATHS.find((path) => fileExists(path));
  if (found() === undefined) {
    const script = new URL("../../scripts/system_packages.sh", import.meta.url).pathname;
    const out = await new Deno.Command("bash", { args: [script, "mosquitto"] }).output();
    if (!out.success) {
      throw new Error(
        `system_packages.sh mosquitto failed: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
  }
  const path = found();
  if (path === undefined) throw new Error("mosquitto is not installed");
  return path;
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

/** Options of {@linkcode MosquittoBroker.start}. */
export interface BrokerOptions {
  /** Users allowed in (a password file); none = anonymous allowed. */
  users?: Record<string, string>;
  /** Port; default a free one. */
  port?: number;
}

/** A mosquitto process on 127.0.0.1 with its temp folder (persistence on, saved at SIGTERM). */
export class MosquittoBroker {
  /** The port it listens on. */
  readonly port: number;
  /** `mqtt://127.0.0.1:<port>`. */
  readonly url: string;
  readonly #dir: string;
  readonly #binary: string;
  #child: Deno.ChildProcess | null = null;
  #frozen = false;

  private constructor(binary: string, dir: string, port: number) {
    this.#binary = binary;
    this.#dir = dir;
    this.port = port;
    this.url = `mqtt://127.0.0.1:${port}`;
  }

  /** Writes the config (and password file), starts mosquitto and waits until it listens. */
  static async start(options: BrokerOptions = {}): Promise<MosquittoBroker> {
    const binary = await ensureMosquitto();
    const dir = await Deno.makeTempDir({ prefix: "onebit_mosquitto_" });
    const broker = new MosquittoBroker(binary, dir, options.port ?? freePort());
    const lines = [
      `listener ${broker.port} 127.0.0.1`,
      "persistence true",
      `persistence_location ${dir}/`,
      "log_dest none",
      "max_queued_messages 100000",
    ];
    // Started as root, mosquitto switches to the `mosquitto` user, which cannot read the
    // private temp folder: keep the current user instead.
    if (Deno.uid() === 0) lines.push("user root");
    if (options.users && Object.keys(options.users).length > 0) {
      const passwd = `${dir}/passwd`;
      Deno.writeTextFileSync(passwd, "");
      for (const [user, password] of Object.entries(options.users)) {
        const out = await new Deno.Command("mosquitto_passwd", {
          args: ["-b", passwd, user, password],
        })
          .output();
        if (!out.success) {
          throw new Error(`mosquitto_passwd failed: ${new TextDecoder().decode(out.stderr)}`);
        }
      }
      lines.push("allow_anonymous false", `password_file ${passwd}`);
    } else {
      lines.push("allow_anonymous true");
    }
    Deno.writeTextFileSync(`${dir}/mosquitto.conf`, lines.join("\n") + "\n");
    await broker.resume();
    return broker;
  }

  /** Running. */
  get running(): boolean {
    return this.#child !== null;
  }

  /** Starts the process again (same port, config and persisted sessions). */
  async resume(): Promise<void> {
    if (this.#child !== null) return;
    this.#child = new Deno.Command(this.#binary, {
      args: ["-c", `${this.#dir}/mosquitto.conf`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    let exited: Deno.CommandStatus | null = null;
    this.#child.status.then((status) => exited = status);
    await waitFor(`mosquitto on port ${this.port}`, async () => {
      if (exited !== null) throw new Error(`mosquitto exited with ${exited.code} at start`);
      try {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: this.port });
        conn.close();
        return true;
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000 });
  }

  /** Stops the process (SIGTERM: it saves its sessions) and waits for its exit. */
  async halt(signal: Deno.Signal = "SIGTERM"): Promise<void> {
    const child = this.#child;
    if (child === null) return;
    this.#child = null;
    child.kill(signal);
    // A frozen process handles the signal only once it runs again.
    if (this.#frozen && signal !== "SIGKILL") child.kill("SIGCONT");
    this.#frozen = false;
    await child.status;
  }

  /**
   * Freezes (`SIGSTOP`) or thaws (`SIGCONT`) the running process: frozen, its connections
   * stay open but nothing is acknowledged, so publishers keep messages unacked.
   */
  freeze(frozen: boolean): void {
    if (this.#child === null) throw new Error("mosquitto is not running");
    this.#child.kill(frozen ? "SIGSTOP" : "SIGCONT");
    this.#frozen = frozen;
  }

  /** Stops the process and removes its folder. */
  async stop(): Promise<void> {
    await this.halt();
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/** One message a {@linkcode subscriber} received, its payload parsed as JSON. */
export interface Received {
  /** The topic it came on. */
  topic: string;
  /** The parsed payload. */
  body: Record<string, unknown>;
}

/**
 * A test subscriber to `filter` at QoS 1 with a persistent session (`clean: false`, a fresh
 * client id) that reconnects every 100 ms, so it survives broker restarts. Resolves once
 * subscribed; `messages` fills in arrival order.
 */
export async function subscriber(
  url: string,
  filter: string,
  auth: { username?: string; password?: string } = {},
): Promise<{ client: MqttClient; messages: Received[] }> {
  const messages: Received[] = [];
  const client = mqtt.connect(url, {
    clientId: `test-sub-${crypto.randomUUID().slice(0, 8)}`,
    clean: false,
    reconnectPeriod: 100,
    ...auth,
  });
  client.on("message", (topic, payload) => {
    messages.push({ topic, body: JSON.parse(new TextDecoder().decode(payload)) });
  });
  await new Promise<void>((resolve, reject) => {
    client.once("connect", () => resolve());
    client.once("error", reject);
  });
  await client.subscribeAsync(filter, { qos: 1 });
  return { client, messages };
}

/**
 * Asserts every id of `ids` arrived in `messages` and that, per task (the topic's last
 * level), first arrivals are in increasing id order. Duplicates are allowed: delivery is at
 * least once.
 */
export function assertDelivered(
  messages: readonly Received[],
  ids: readonly number[],
  idOf: (message: Received) => number,
): void {
  const seen = new Set(messages.map(idOf));
  const missing = ids.filter((id) => !seen.has(id));
  assert.deepEqual(missing, [], `lost ${missing.length} messages`);
  const perTask = new Map<string, number[]>();
  const first = new Set<number>();
  for (const m of messages) {
    const id = idOf(m);
    if (first.has(id)) continue; // at least once: a resent duplicate is allowed
    first.add(id);
    const task = m.topic.split("/").at(-1)!;
    if (!perTask.has(task)) perTask.set(task, []);
    perTask.get(task)!.push(id);
  }
  for (const [task, order] of perTask) {
    assert.deepEqual(order, [...order].sort((a, b) => a - b), `order of task ${task}`);
  }
}
