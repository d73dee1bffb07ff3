/**
 * Fleet commands: JSON messages on `<commands prefix>/<area>/<verb>` topics, executed through
 * the {@linkcode TaskHost} and {@linkcode SourceControl}, answered on the ack topic.
 *
 * | topic suffix      | payload                                  | does                        |
 * |-------------------|------------------------------------------|-----------------------------|
 * | `plugin/reload`   | `{ "id", "name", "dir"? }`               | `host.reload(name, {dir})`  |
 * | `plugin/load`     | `{ "id", "dir" }`                        | `host.load(dir)`            |
 * | `plugin/unload`   | `{ "id", "name" }`                       | `host.unload(name)`         |
 * | `source/start`    | `{ "id", "source": SourceConfig }`       | `sources.start(source)`     |
 * | `source/stop`     | `{ "id", "name" }`                       | `sources.stop(name)`        |
 *
 * The ack is `{ "id", "command", "ok": true, "result"? }` or
 * `{ "id", "command", "ok": false, "error": { "code", "message" } }` (`id` is `null` when the
 * payload had none). Commands run one at a time, in arrival order. A command id seen among
 * the last {@linkcode CommandOptions.recentMax} is not run again (QoS 1 may deliver twice):
 * its first ack is sent again.
 *
 * Who may send commands is decided before this module: the publisher only passes commands on
 * from an authenticated broker connection (see mqtt.ts), and the broker's ACL decides which
 * clients may publish on the command topics.
 *
 * @module
 */

import { z } from "zod";
import type { TaskHost } from "../host/types.ts";
import type { SourceControl } from "../sources/types.ts";
import type { JsonValue } from "../sdk/plugin.ts";
import { FleetError } from "./errors.ts";

/** The commands, by topic suffix. */
export type FleetCommandName =
  | "plugin/reload"
  | "plugin/load"
  | "plugin/unload"
  | "source/start"
  | "source/stop";

/** Every {@linkcode FleetCommandName}. */
export const FLEET_COMMANDS: readonly FleetCommandName[] = Object.freeze([
  "plugin/reload",
  "plugin/load",
  "plugin/unload",
  "source/start",
  "source/stop",
]);

/** The answer published on the ack topic. */
export interface CommandAck {
  readonly id: string | null;
  readonly command: string;
  readonly ok: boolean;
  readonly result?: JsonValue;
  readonly error?: { readonly code: string; readonly message: string };
}

/** What commands act on. */
export interface CommandDeps {
  readonly host: TaskHost;
  /** Without it, source commands fail with `unsupported`. */
  readonly sources?: SourceControl;
}

/** Options of {@linkcode CommandExecutor}. */
export interface CommandOptions {
  /** Remembered command ids (duplicate suppression). Default 256. */
  recentMax?: number;
  /** Commands waiting behind the running one; more are refused with `command_busy`. Default 16. */
  queueMax?: number;
}

/** Counters since start. */
export interface CommandCounters {
  received: number;
  succeeded: number;
  failed: number;
  duplicates: number;
}

const ID = z.string().min(1).max(128);
const NAME = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/);
const PAYLOADS = {
  "plugin/reload": z.object({ id: ID, name: NAME, dir: z.string().min(1).optional() }),
  "plugin/load": z.object({ id: ID, dir: z.string().min(1) }),
  "plugin/unload": z.object({ id: ID, name: NAME }),
  "source/start": z.object({
    id: ID,
    source: z.object({
      name: NAME,
      task: NAME,
      kind: z.enum(["files", "ffmpeg"]),
      input: z.string().min(1),
      fps: z.number().positive().max(1000),
      loop: z.boolean().default(false),
    }),
  }),
  "source/stop": z.object({ id: ID, name: NAME }),
} as const;

function errorOf(error: unknown): { code: string; message: string } {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { code: typeof code === "string" ? code : "internal", message: error.message };
  }
  return { code: "internal", message: String(error) };
}

/**
 * Parses, deduplicates, serializes and runs fleet commands.
 *
 * @example
 * ```ts ignore
 * const executor = new CommandExecutor({ host, sources });
 * const ack = await executor.run("plugin/reload", new TextEncoder().encode('{"id":"1","name":"detect"}'));
 * // ack: { id: "1", command: "plugin/reload", ok: true, result: { version: "1.0.1" } }
 * ```
 */
export class CommandExecutor {
  /** Counters (a live object). */
  readonly counters: CommandCounters = { received: 0, succeeded: 0, failed: 0, duplicates: 0 };
  readonly #deps: CommandDeps;
  readonly #recentMax: number;
  readonly #queueMax: number;
  readonly #recent = new Map<string, Promise<CommandAck>>();
  #tail: Promise<unknown> = Promise.resolve();
  #waiting = 0;

  /** Makes an executor acting on `deps`. */
  constructor(deps: CommandDeps, options: CommandOptions = {}) {
    this.#deps = deps;
    this.#recentMax = options.recentMax ?? 256;
    this.#queueMax = options.queueMax ?? 16;
  }

  /**
   * Runs the command `name` (a topic suffix) with the JSON `payload` and resolves to its ack.
   * Never rejects: every failure becomes an ack with `ok: false`.
   */
  run(name: string, payload: Uint8Array): Promise<CommandAck> {
    this.counters.received += 1;
    let parsed: { id: string } & Record<string, unknown>;
    let rawId: string | null = null;
    try {
      const json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(payload));
      if (typeof json?.id === "string") rawId = json.id;
      if (!(FLEET_COMMANDS as readonly string[]).includes(name)) {
        throw new FleetError(
          "command_invalid",
          `Unknown fleet command '${name}' (known: ${FLEET_COMMANDS.join(", ")})`,
        );
      }
      const result = PAYLOADS[name as FleetCommandName].safeParse(json);
      if (!result.success) {
        const issue = result.error.issues[0];
        throw new FleetError(
          "command_invalid",
          `Invalid payload of fleet command '${name}': ${
            issue.path.join(".") || "(root)"
          }: ${issue.message}`,
        );
      }
      parsed = result.data;
    } catch (error) {
      const wrapped = error instanceof FleetError ? error : new FleetError(
        "command_invalid",
        `Invalid payload of fleet command '${name}': ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      return Promise.resolve(this.#fail(rawId, name, wrapped));
    }
    const previous = this.#recent.get(parsed.id);
    if (previous !== undefined) {
      this.counters.duplicates += 1;
      return previous;
    }
    if (this.#waiting >= this.#queueMax) {
      return Promise.resolve(this.#fail(
        parsed.id,
        name,
        new FleetError(
          "command_busy",
          `Fleet command '${name}' (${parsed.id}) refused: ${this.#waiting} commands waiting`,
        ),
      ));
    }
    this.#waiting += 1;
    const ack = this.#tail.then(async (): Promise<CommandAck> => {
      this.#waiting -= 1;
      try {
        const result = await this.#execute(name as FleetCommandName, parsed);
        this.counters.succeeded += 1;
        return { id: parsed.id, command: name, ok: true, result };
      } catch (error) {
        return this.#fail(parsed.id, name, error);
      }
    });
    this.#tail = ack;
    this.#recent.set(parsed.id, ack);
    if (this.#recent.size > this.#recentMax) {
      this.#recent.delete(this.#recent.keys().next().value!);
    }
    return ack;
  }

  /** An ack refusing a command because the connection is not authenticated. */
  refuse(name: string, payload: Uint8Array): CommandAck {
    this.counters.received += 1;
    let id: string | null = null;
    try {
      const json = JSON.parse(new TextDecoder().decode(payload));
      if (typeof json?.id === "string") id = json.id.slice(0, 128);
    } catch { /* the ack carries id null */ }
    return this.#fail(
      id,
      name,
      new FleetError(
        "command_refused",
        `Fleet command '${name}' refused: the broker connection is not authenticated`,
      ),
    );
  }

  /** Resolves once every accepted command has finished. */
  async idle(): Promise<void> {
    await this.#tail;
  }

  #fail(id: string | null, name: string, error: unknown): CommandAck {
    this.counters.failed += 1;
    return { id, command: name, ok: false, error: errorOf(error) };
  }

  async #execute(name: FleetCommandName, payload: Record<string, unknown>): Promise<JsonValue> {
    const { host, sources } = this.#deps;
    switch (name) {
      case "plugin/reload": {
        const dir = payload.dir as string | undefined;
        const status = await host.reload(payload.name as string, dir ? { dir } : undefined);
        return { name: status.name, version: status.version };
      }
      case "plugin/load": {
        const status = await host.load(payload.dir as string);
        return { name: status.name, version: status.version };
      }
      case "plugin/unload":
        await host.unload(payload.name as string);
        return { name: payload.name as string };
      case "source/start": {
        if (!sources) throw new FleetError("unsupported", "Cannot start a source: no sources");
        // deno-lint-ignore no-explicit-any
        const status = await sources.start(payload.source as any);
        return { name: status.config.name, state: status.state };
      }
      case "source/stop":
        if (!sources) throw new FleetError("unsupported", "Cannot stop a source: no sources");
        await sources.stop(payload.name as string);
        return { name: payload.name as string };
    }
  }
}
