/**
 * Server-sent event streams of bus events, with heartbeats, a bounded backlog and a clean
 * unsubscribe when the client goes away.
 *
 * @module
 */

import type { DaemonEvent, DaemonEventType, EventBus } from "../events.ts";

/** Options of {@linkcode eventStream}. */
export interface EventStreamOptions {
  /** Event types sent. */
  types: readonly DaemonEventType[];
  /** Sends only events it accepts. Default: all. */
  filter?: (event: DaemonEvent) => boolean;
  /** Events sent first, before any from the bus (a current snapshot). Default none. */
  initial?: readonly DaemonEvent[];
  /** Period of the `: heartbeat` comment that keeps proxies from closing the stream, ms. Default 15000. */
  heartbeatMs?: number;
  /**
   * Ends the stream when aborted. A client that disconnects is noticed without it (the
   * server cancels the body); the routes do not pass `request.signal` because Deno.serve
   * still aborts it on every completed response (legacy behaviour, with a warning).
   */
  signal?: AbortSignal;
  /** Aborted when the daemon stops: the stream ends so a graceful shutdown need not wait. */
  closing?: AbortSignal;
  /** Events buffered for a slow client; more are dropped and the client told how many. Default 256. */
  backlogMax?: number;
}

const encoder = new TextEncoder();

/** One SSE frame: `event: <type>` and the event as one JSON `data:` line. */
export function formatEvent(event: DaemonEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * A `text/event-stream` response carrying the bus events of `options.types`. The bus
 * subscription and the heartbeat timer end when the client cancels the body, when
 * `options.signal` or `options.closing` aborts, whichever comes first.
 *
 * @example
 * ```ts
 * import { EventBus } from "../events.ts";
 * import { eventStream } from "./sse.ts";
 * const bus = new EventBus();
 * const response = eventStream(bus, { types: ["result"] });
 * await response.body?.cancel();
 * console.log(bus.subscriberCount); // 0
 * ```
 */
export function eventStream(bus: EventBus, options: EventStreamOptions): Response {
  const heartbeatMs = options.heartbeatMs ?? 15_000;
  const backlogMax = options.backlogMax ?? 256;
  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      let dropped = 0;
      let open = true;
      const send = (text: string): boolean => {
        if (!open || (controller.desiredSize ?? 0) <= 0) return false;
        controller.enqueue(encoder.encode(text));
        return true;
      };
      const end = () => {
        if (!open) return;
        cleanup();
        controller.close();
      };
      send(": connected\n\n");
      for (const event of options.initial ?? []) send(formatEvent(event));
      const unsubscribe = bus.subscribe((event) => {
        if (options.filter !== undefined && !options.filter(event)) return;
        if (dropped > 0 && send(`: dropped ${dropped} events\n\n`)) dropped = 0;
        if (!send(formatEvent(event))) dropped += 1;
      }, { types: options.types });
      const heartbeat = setInterval(() => send(": heartbeat\n\n"), heartbeatMs);
      cleanup = () => {
        if (!open) return;
        open = false;
        unsubscribe();
        clearInterval(heartbeat);
        options.signal?.removeEventListener("abort", end);
        options.closing?.removeEventListener("abort", end);
      };
      if (options.signal?.aborted || options.closing?.aborted) return end();
      options.signal?.addEventListener("abort", end, { once: true });
      options.closing?.addEventListener("abort", end, { once: true });
    },
    cancel() {
      cleanup();
    },
  }, new CountQueuingStrategy({ highWaterMark: backlogMax }));
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}
