/**
 * sd_notify(3) without libsystemd: state changes sent as datagrams to the socket systemd
 * names in `NOTIFY_SOCKET` (a path, or an abstract name written `@name`). Without
 * `NOTIFY_SOCKET` (not started by systemd, or not `Type=notify`) every call is a no-op.
 *
 * Needs `--allow-env` (NOTIFY_SOCKET) and `--allow-ffi` (the socket calls; see libc.ts for
 * why not `Deno.listenDatagram`). The unit's `NotifyAccess=main` requires these to come
 * from the main process: the daemon itself, never a worker subprocess.
 *
 * @module
 */

import { monotonicMicroseconds, UnixDatagramSocket } from "./libc.ts";

/** Options of {@linkcode SystemdNotifier.fromEnv}. */
export interface NotifierOptions {
  /** Where to read `NOTIFY_SOCKET`. Default: `Deno.env`. */
  readonly env?: { get(name: string): string | undefined };
}

/**
 * Sends READY, STATUS, WATCHDOG, RELOADING and STOPPING to systemd. A failed send never
 * throws: the daemon keeps serving, and `sendFailures` counts it.
 *
 * @example
 * ```ts ignore
 * const notifier = SystemdNotifier.fromEnv();
 * notifier.ready("serving 2 plugins");
 * // ... on SIGTERM:
 * notifier.stopping();
 * notifier.close();
 * ```
 */
export class SystemdNotifier {
  /** The socket address, or `null` when not run under systemd's notify protocol. */
  readonly address: string | null;
  #socket: UnixDatagramSocket | null = null;
  #sendFailures = 0;
  #lastError: string | null = null;

  /** A notifier for `address`; `null` makes every call a no-op. */
  constructor(address: string | null) {
    this.address = address === "" ? null : address;
  }

  /** A notifier for the `NOTIFY_SOCKET` of the environment. */
  static fromEnv(options: NotifierOptions = {}): SystemdNotifier {
    const env = options.env ?? Deno.env;
    return new SystemdNotifier(env.get("NOTIFY_SOCKET") ?? null);
  }

  /** True when there is a socket to talk to. */
  get enabled(): boolean {
    return this.address !== null;
  }

  /** Sends that failed (socket gone, queue full), since start. */
  get sendFailures(): number {
    return this.#sendFailures;
  }

  /** Why the last send failed, or `null`. */
  get lastError(): string | null {
    return this.#lastError;
  }

  /**
   * Sends `fields` as one datagram of `KEY=value` lines. Values must not contain newlines
   * (they are replaced by spaces). Returns whether it was sent; `false` when disabled.
   */
  notify(fields: Readonly<Record<string, string>>): boolean {
    if (this.address === null) return false;
    const text = Object.entries(fields)
      .map(([key, value]) => `${key}=${value.replace(/[\r\n]+/g, " ")}`)
      .join("\n");
    try {
      this.#socket ??= UnixDatagramSocket.open();
      if (this.#socket.send(this.address, new TextEncoder().encode(text))) return true;
      this.#lastError = `the queue of '${this.address}' is full`;
    } catch (error) {
      this.#lastError = error instanceof Error ? error.message : String(error);
    }
    this.#sendFailures += 1;
    return false;
  }

  /** `READY=1`, with a status line when given: start-up is complete. */
  ready(status?: string): boolean {
    return this.notify(status === undefined ? { READY: "1" } : { READY: "1", STATUS: status });
  }

  /** `STATUS=...`: a one-line description `systemctl status` shows. */
  status(text: string): boolean {
    return this.notify({ STATUS: text });
  }

  /** `WATCHDOG=1`: the keep-alive ping (see watchdog.ts for when to send it). */
  watchdog(): boolean {
    return this.notify({ WATCHDOG: "1" });
  }

  /**
   * `RELOADING=1` with `MONOTONIC_USEC` (systemd 253+ requires it for `Type=notify-reload`
   * and accepts it before): a reload started; send {@linkcode SystemdNotifier.ready} when
   * it is done.
   */
  reloading(status?: string): boolean {
    const fields: Record<string, string> = {
      RELOADING: "1",
      MONOTONIC_USEC: String(monotonicMicroseconds()),
    };
    if (status !== undefined) fields.STATUS = status;
    return this.notify(fields);
  }

  /** `STOPPING=1`: shutdown started. */
  stopping(status?: string): boolean {
    return this.notify(
      status === undefined ? { STOPPING: "1" } : { STOPPING: "1", STATUS: status },
    );
  }

  /** Closes the socket; later calls reopen it. */
  close(): void {
    this.#socket?.close();
    this.#socket = null;
  }
}
