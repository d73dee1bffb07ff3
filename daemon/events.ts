/**
 * The daemon's in-process event bus: results, plugin lifecycle, source state and telemetry
 * ticks go out to subscribers (SSE streams, MQTT, the dashboard). Publishing never blocks
 * and never throws: a subscriber that throws is counted and left subscribed.
 *
 * @module
 */

import type { JsonValue } from "./sdk/plugin.ts";

/** A result of one frame. */
export interface ResultEvent {
  readonly type: "result";
  /** Task (plugin name). */
  readonly task: string;
  /** Plugin version that produced it. */
  readonly version: string;
  readonly frameId: number;
  /** `http` or a source name. */
  readonly source: string;
  readonly latencyMs: number;
  /** The plugin's result data (encoded images are not carried on the bus). */
  readonly data: JsonValue;
  /** Names of the encoded images the result had. */
  readonly images: readonly string[];
  /** `Date.now()` at publication. */
  readonly atMs: number;
}

/** What happened to a plugin. */
export type PluginAction =
  | "loaded"
  | "swapped"
  | "rolled_back"
  | "crashed"
  | "restarted"
  | "failed"
  | "unloaded";

/** A plugin lifecycle change. */
export interface PluginEvent {
  readonly type: "plugin";
  readonly task: string;
  readonly action: PluginAction;
  /** Version concerned (the new one for swaps and rollbacks). */
  readonly version: string;
  /** Why, for failures. */
  readonly message?: string;
  readonly atMs: number;
}

/** A source started, stopped, ended or failed. */
export interface SourceEvent {
  readonly type: "source";
  readonly source: string;
  readonly task: string;
  readonly state: "started" | "stopped" | "ended" | "failed";
  readonly message?: string;
  readonly atMs: number;
}

/** A periodic telemetry snapshot (the JSON of `/v1/telemetry`). */
export interface TelemetryEvent {
  readonly type: "telemetry";
  readonly snapshot: JsonValue;
  readonly atMs: number;
}

/** Everything on the bus. */
export type DaemonEvent = ResultEvent | PluginEvent | SourceEvent | TelemetryEvent;

/** The `type` field of a {@linkcode DaemonEvent}. */
export type DaemonEventType = DaemonEvent["type"];

/** A subscriber. */
export type EventHandler = (event: DaemonEvent) => void;

/**
 * Synchronous fan-out to subscribers.
 *
 * @example
 * ```ts
 * const bus = new EventBus();
 * const stop = bus.subscribe((event) => console.log(event.type), { types: ["result"] });
 * stop();
 * ```
 */
export class EventBus {
  readonly #subscribers = new Set<{ handler: EventHandler; types: ReadonlySet<string> | null }>();
  #handlerErrors = 0;

  /**
   * Calls `handler` for every event published from now on (only for `options.types` when
   * given) and returns the function that unsubscribes it.
   */
  subscribe(
    handler: EventHandler,
    options: { types?: readonly DaemonEventType[] } = {},
  ): () => void {
    const entry = { handler, types: options.types ? new Set<string>(options.types) : null };
    this.#subscribers.add(entry);
    return () => {
      this.#subscribers.delete(entry);
    };
  }

  /** Delivers `event` to every matching subscriber, in subscription order. */
  publish(event: DaemonEvent): void {
    for (const { handler, types } of [...this.#subscribers]) {
      if (types !== null && !types.has(event.type)) continue;
      try {
        handler(event);
      } catch {
        this.#handlerErrors += 1;
      }
    }
  }

  /** Current subscribers. */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Subscriber calls that threw since start. */
  get handlerErrors(): number {
    return this.#handlerErrors;
  }
}
