/**
 * The systemd watchdog: `WATCHDOG=1` at half of `WATCHDOG_USEC`, sent only while the
 * daemon says it is healthy, so that a wedged daemon is restarted by systemd
 * (DESIGN.md section 9).
 *
 * @module
 */

import type { SystemdNotifier } from "./notify.ts";

/** Options of {@linkcode watchdogIntervalMs}. */
export interface WatchdogEnvOptions {
  /** Where to read `WATCHDOG_USEC` and `WATCHDOG_PID`. Default: `Deno.env`. */
  readonly env?: { get(name: string): string | undefined };
  /** This process's id, compared with `WATCHDOG_PID`. Default: `Deno.pid`. */
  readonly pid?: number;
}

/**
 * The watchdog timeout systemd asks for, in ms, or `null` when there is none: no or an
 * invalid `WATCHDOG_USEC`, or a `WATCHDOG_PID` naming another process (sd_watchdog_enabled
 * semantics).
 *
 * @example
 * ```ts
 * import { watchdogIntervalMs } from "./watchdog.ts";
 * const env = new Map([["WATCHDOG_USEC", "30000000"]]);
 * console.log(watchdogIntervalMs({ env })); // 30000
 * ```
 */
export function watchdogIntervalMs(options: WatchdogEnvOptions = {}): number | null {
  const env = options.env ?? Deno.env;
  const usec = env.get("WATCHDOG_USEC");
  if (usec === undefined || !/^\d+$/.test(usec) || Number(usec) === 0) return null;
  const pid = env.get("WATCHDOG_PID");
  if (pid !== undefined && pid !== "" && Number(pid) !== (options.pid ?? Deno.pid)) return null;
  return Number(usec) / 1000;
}

/** Options of {@linkcode Watchdog}. */
export interface WatchdogOptions extends WatchdogEnvOptions {
  /**
   * Whether the daemon is healthy now (the HTTP server answers, the host is not wedged).
   * A ping is sent only when it returns (or resolves to) `true`; throwing counts as no.
   */
  readonly healthy: () => boolean | Promise<boolean>;
  /** Overrides the timeout read from the environment, ms. */
  readonly intervalMs?: number;
}

/**
 * Pings systemd's watchdog at half the timeout while healthy.
 *
 * @example
 * ```ts ignore
 * const watchdog = new Watchdog(notifier, { healthy: () => host.started && server.listening });
 * watchdog.start();
 * // ...
 * watchdog.stop();
 * ```
 */
export class Watchdog {
  /** Ping period, ms, or `null` when the watchdog is off. */
  readonly periodMs: number | null;
  readonly #notifier: SystemdNotifier;
  readonly #healthy: WatchdogOptions["healthy"];
  #timer: ReturnType<typeof setInterval> | null = null;
  #checking = false;
  #pings = 0;
  #skipped = 0;

  /** A stopped watchdog; its period is half of `intervalMs` or of `WATCHDOG_USEC`. */
  constructor(notifier: SystemdNotifier, options: WatchdogOptions) {
    const intervalMs = options.intervalMs ?? watchdogIntervalMs(options);
    this.periodMs = intervalMs === null || !notifier.enabled ? null : Math.max(1, intervalMs / 2);
    this.#notifier = notifier;
    this.#healthy = options.healthy;
  }

  /** Pings sent. */
  get pings(): number {
    return this.#pings;
  }

  /** Ticks without a ping because the daemon was not healthy. */
  get skipped(): number {
    return this.#skipped;
  }

  /** Starts pinging (a no-op when the watchdog is off or already running). */
  start(): void {
    if (this.periodMs === null || this.#timer !== null) return;
    this.#timer = setInterval(() => void this.tick(), this.periodMs);
  }

  /** Stops pinging. */
  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One check: pings when healthy. Overlapping checks are skipped. Returns whether it pinged. */
  async tick(): Promise<boolean> {
    if (this.#checking) return false;
    this.#checking = true;
    try {
      let healthy = false;
      try {
        healthy = (await this.#healthy()) === true;
      } catch {
        healthy = false;
      }
      if (!healthy || this.#timer === null) {
        if (!healthy) this.#skipped += 1;
        return false;
      }
      const sent = this.#notifier.watchdog();
      if (sent) this.#pings += 1;
      return sent;
    } finally {
      this.#checking = false;
    }
  }
}
