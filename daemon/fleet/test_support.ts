/**
 * Test helpers of the fleet modules: a real mosquitto broker on loopback, a free port, and a
 * bounded wait. Not used by the daemon.
 *
 * @module
 */

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
    await child.status;
  }

  /** Stops the process and removes its folder. */
  async stop(): Promise<void> {
    await this.halt();
    await Deno.remove(this.#dir, { recursive: true });
  }
}
