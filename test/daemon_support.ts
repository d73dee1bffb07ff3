/**
 * Spawning the real daemon (`deno run ... daemon/main.ts serve`) for integration tests and
 * benchmarks: a temp config, a free port, its log collected.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { copyFixture } from "../daemon/host/test_support.ts";

/** The repository root. */
export const REPO_ROOT: string = fileURLToPath(new URL("..", import.meta.url));

/** A daemon child process. */
export interface DaemonProcess {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly child: Deno.ChildProcess;
  /** Everything it wrote to stderr (its log) and stdout so far. */
  log(): string;
  /** Resolves with its exit status. */
  readonly status: Promise<Deno.CommandStatus>;
  /** SIGTERM, then the exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/** Options of {@linkcode spawnDaemon}. */
export interface SpawnDaemonOptions {
  /** Extra environment (NOTIFY_SOCKET, WATCHDOG_USEC, tokens). */
  env?: Record<string, string>;
  /** How long to wait for the listening line, ms. Default 60 000. */
  startTimeoutMs?: number;
}

/**
 * Starts `onebit serve --config configPath --port 0` and resolves once it prints its URL
 * (after the configured plugins have loaded). Throws with the daemon's log when it exits
 * first or does not start in time.
 */
export async function spawnDaemon(
  configPath: string,
  options: SpawnDaemonOptions = {},
): Promise<DaemonProcess> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-all",
      "--unstable-worker-options",
      `${REPO_ROOT}daemon/main.ts`,
      "serve",
      "--config",
      configPath,
      "--port",
      "0",
    ],
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
  };
  const collected = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const status = child.status.then(async (status) => {
    await collected;
    return status;
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  let exited = false;
  status.then(() => exited = true);
  let url: string | null = null;
  while (url === null) {
    const match = /^onebit (http:\/\/\S+)/m.exec(text);
    if (match) {
      url = match[1];
      break;
    }
    if (exited || Date.now() > deadline) {
      if (!exited) child.kill("SIGKILL");
      await status;
      throw new Error(`the daemon did not start:\n${text}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    url,
    child,
    log: () => text,
    status,
    stop: () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      return status;
    },
  };
}

/** Options of {@linkcode writeDaemonConfig}. */
export interface DaemonFixtureOptions {
  /** Fixture plugins to copy into `<root>/plugins` (from test/fixtures/plugins). */
  plugins: readonly string[];
  /** Merged into the config object. */
  config?: Record<string, unknown>;
}

/**
 * Writes `<root>/onebit.json` serving copies of the fixture plugins from `<root>/plugins`
 * and returns its path.
 */
export async function writeDaemonConfig(
  root: string,
  options: DaemonFixtureOptions,
): Promise<string> {
  await Deno.mkdir(`${root}/plugins`, { recursive: true });
  for (const plugin of options.plugins) await copyFixture(`${root}/plugins`, plugin);
  const config = {
    listen: { host: "127.0.0.1", port: 0 },
    threads: 2,
    kernels: { libDir: `${REPO_ROOT}zig-out/lib` },
    plugins: {
      dir: "plugins",
      load: ["*"],
      watch: false,
      defaults: { concurrency: 1, queueMax: 8, deadlineMs: 3000, threads: 1 },
    },
    telemetry: { intervalMs: 200 },
    log: { level: "debug" },
    ...options.config,
  };
  const path = `${root}/onebit.json`;
  await Deno.writeTextFile(path, JSON.stringify(config, null, 2));
  return path;
}
