/**
 * `onebit serve`: the daemon. Composes the config store, telemetry, the plugin host, the
 * frame sources and the HTTP API, and owns the process-level concerns: signals (SIGHUP
 * reloads the config and hot-swaps the plugins, SIGTERM/SIGINT drain and exit) and the
 * systemd notify protocol.
 *
 * The main thread only routes, serves HTTP and keeps telemetry (DESIGN.md section 2): every
 * decode and every kernel call happens in the plugins' workers.
 *
 * @module
 */

import { ConfigStore } from "./config/load.ts";
import type { Config } from "./config/types.ts";
import { EventBus } from "./events.ts";
import { PluginHost } from "./host/host.ts";
import { createApp } from "./http/app.ts";
import { type HttpServer, serveHttp } from "./http/listen.ts";
import { forcedCpuLevel, hostCpuLevel } from "./kernels/cpu_level.ts";
import { SourceManager } from "./sources/manager.ts";
import { Telemetry } from "./telemetry/telemetry.ts";
import { dashboardRoutes } from "./fleet/dashboard_route.ts";
import { SystemdNotifier } from "./systemd/notify.ts";
import { Watchdog, watchdogIntervalMs } from "./systemd/watchdog.ts";
import { registerMqttMetrics } from "./fleet/metrics.ts";
import { type MqttPublisher, startMqttPublisher } from "./fleet/mqtt.ts";

/** The daemon's version, reported by `/healthz`, build info and the OpenAPI document. */
export const DAEMON_VERSION = "0.5.0";

/** Log levels, lowest first. */
const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A log line writer. */
export type DaemonLog = (level: (typeof LOG_LEVELS)[number], message: string) => void;

/** Options of {@linkcode startDaemon}. */
export interface StartDaemonOptions {
  /** Config file. Default: `configs/onebit.json`, else the embedded defaults. */
  configPath?: string;
  /** Overrides `listen.port` (0 picks a free port). */
  port?: number;
  /** Overrides `listen.host`. */
  host?: string;
  /** Reads variables for `env:` references in the config. Default: the process environment. */
  env?: (name: string) => string | undefined;
  /** Writes log lines. Default: stderr, filtered by `log.level`. */
  log?: DaemonLog;
  /** Install SIGHUP/SIGTERM/SIGINT handlers. Default: false (tests drive the daemon). */
  signals?: boolean;
}

/** A running daemon. */
export interface Daemon {
  /** `http://host:port` the API listens on. */
  readonly url: string;
  /** The running config. */
  config(): Config;
  readonly host: PluginHost;
  readonly telemetry: Telemetry;
  readonly events: EventBus;
  readonly sources: SourceManager;
  /**
   * Re-reads the config file; when it is valid, swaps it and hot-swaps every plugin; when
   * not, keeps everything running and returns the error message.
   */
  reload(): Promise<{ ok: true } | { ok: false; error: string }>;
  /** Drains in-flight work and stops everything; idempotent. */
  stop(): Promise<void>;
  /** Resolves when the daemon has stopped. */
  readonly finished: Promise<void>;
}

function stderrLog(config: () => Config): DaemonLog {
  return (level, message) => {
    if (LOG_LEVELS.indexOf(level) < LOG_LEVELS.indexOf(config().log.level)) return;
    console.error(`${new Date().toISOString()} ${level.padEnd(5)} ${message}`);
  };
}

/**
 * Starts the daemon: loads the config, starts telemetry, listens, loads the configured
 * plugins and sources, then tells systemd it is ready. Throws a `ConfigError` for a bad
 * config (nothing is left running).
 *
 * @example
 * ```ts ignore
 * const daemon = await startDaemon({ port: 0 });
 * console.log(daemon.url);
 * await daemon.stop();
 * ```
 */
export async function startDaemon(options: StartDaemonOptions = {}): Promise<Daemon> {
  const store = await ConfigStore.open(options.configPath, { env: options.env });
  const config = () => store.current;
  const log = options.log ?? stderrLog(config);
  const events = new EventBus();
  const cpuLevel = store.current.kernels.level ?? forcedCpuLevel() ?? hostCpuLevel();
  const telemetry = new Telemetry({
    roots: {
      powercap: store.current.telemetry.powercapRoot,
      hwmon: store.current.telemetry.hwmonRoot,
      powerSupply: store.current.telemetry.powerSupplyRoot,
      thermal: store.current.telemetry.thermalRoot,
    },
    intervalMs: store.current.telemetry.intervalMs,
    events,
    buildInfo: { version: DAEMON_VERSION, cpuLevel, deno: Deno.version.deno },
  });
  const host = new PluginHost({
    config: store.current,
    configDir: store.dir,
    recorder: telemetry,
    events,
    log: (level, message) => log(level, `host: ${message}`),
  });
  const sources = new SourceManager({ host, recorder: telemetry, events });
  const closing = new AbortController();
  let stopping = false;
  let ready = false;

  const app = createApp({
    host,
    sources,
    events,
    telemetry,
    config,
    ready: () => ready && !stopping,
    version: DAEMON_VERSION,
    closing: closing.signal,
    log: (level, message) => log(level, `http: ${message}`),
  });
  app.route("/", dashboardRoutes());

  telemetry.start();
  let server: HttpServer;
  try {
    server = serveHttp(app, {
      host: options.host ?? store.current.listen.host,
      port: options.port ?? store.current.listen.port,
      token: store.current.auth.token,
    });
  } catch (error) {
    await telemetry.stop();
    throw error;
  }
  const { hostname, port } = server.addr;
  const url = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
  log("info", `listening on ${url} (cpu level ${cpuLevel})`);

  // The host logs each plugin that fails to load; the others serve.
  await host.startConfigured();
  for (const source of store.current.sources) {
    try {
      await sources.start(source);
    } catch (error) {
      log("error", `source ${source.name} failed to start: ${(error as Error).message}`);
    }
  }
  let fleet: MqttPublisher | null = null;
  if (store.current.mqtt.enabled) {
    const publisher = startMqttPublisher(store.current.mqtt, { bus: events, host, sources }, {
      baseDir: store.dir,
    });
    registerMqttMetrics(telemetry.registry, () => publisher.metrics());
    fleet = publisher;
  }
  ready = true;
  const serving = () => `serving ${host.list().length} plugins on ${url}`;
  const notifier = SystemdNotifier.fromEnv();
  notifier.ready(serving());
  // Healthy means the API answers: the watchdog asks /healthz through the real server, so
  // a wedged event loop or a dead listener stops the pings and systemd restarts us.
  const healthy = async () => {
    if (!ready || stopping) return false;
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(2000) });
    await response.body?.cancel();
    return response.ok;
  };
  const watchdog = watchdogIntervalMs() === null ? null : new Watchdog(notifier, { healthy });
  watchdog?.start();

  let reloading: Promise<{ ok: true } | { ok: false; error: string }> | null = null;
  const reload = (): Promise<{ ok: true } | { ok: false; error: string }> => {
    reloading ??= (async () => {
      notifier.reloading();
      try {
        const result = await store.reload();
        if (!result.ok) {
          log("error", `config reload refused, the running config stays: ${result.error.message}`);
          return { ok: false as const, error: result.error.message };
        }
        await host.applyConfig(store.current);
        const swapped = await host.reloadAll();
        for (const failure of swapped.failed) {
          log("error", `reload of ${failure.target} failed: ${failure.code}: ${failure.message}`);
        }
        log("info", "config reloaded");
        return { ok: true as const };
      } finally {
        notifier.ready(serving());
        reloading = null;
      }
    })();
    return reloading;
  };

  let stopped: Promise<void> | null = null;
  const { promise: finished, resolve: resolveFinished } = Promise.withResolvers<void>();
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      stopping = true;
      log("info", "stopping: draining in-flight work");
      notifier.stopping();
      watchdog?.stop();
      removeSignals();
      closing.abort();
      await sources.close();
      await fleet?.stop();
      // Stop accepting requests first, then let the host finish what it queued.
      const shutdown = server.shutdown();
      await host.close();
      await shutdown;
      await telemetry.stop();
      notifier.close();
      log("info", "stopped");
      resolveFinished();
    })();
    return stopped;
  };

  const onHup = () => void reload();
  const onTerm = () => void stop();
  const removeSignals = () => {
    if (!options.signals) return;
    Deno.removeSignalListener("SIGHUP", onHup);
    Deno.removeSignalListener("SIGTERM", onTerm);
    Deno.removeSignalListener("SIGINT", onTerm);
  };
  if (options.signals) {
    Deno.addSignalListener("SIGHUP", onHup);
    Deno.addSignalListener("SIGTERM", onTerm);
    Deno.addSignalListener("SIGINT", onTerm);
  }

  return { url, config, host, telemetry, events, sources, reload, stop, finished };
}
