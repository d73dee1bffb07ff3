/**
 * systemd integration: sd_notify over NOTIFY_SOCKET (READY, STATUS, WATCHDOG, RELOADING,
 * STOPPING) and a watchdog fed only while the daemon is healthy. Needs `--allow-env` and
 * `--allow-ffi`; everything is a no-op outside systemd.
 *
 * @example
 * ```ts ignore
 * import { SystemdNotifier, Watchdog } from "./mod.ts";
 * const notifier = SystemdNotifier.fromEnv();
 * const watchdog = new Watchdog(notifier, { healthy: () => true });
 * notifier.ready("serving");
 * watchdog.start();
 * ```
 *
 * @module
 */

export { type NotifierOptions, SystemdNotifier } from "./notify.ts";
export {
  Watchdog,
  type WatchdogEnvOptions,
  watchdogIntervalMs,
  type WatchdogOptions,
} from "./watchdog.ts";
export { LibcError, monotonicMicroseconds, unixAddress, UnixDatagramSocket } from "./libc.ts";
