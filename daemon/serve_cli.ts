/**
 * `onebit serve`: starts the daemon in the foreground until SIGTERM or SIGINT.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError } from "./config/errors.ts";
import { startDaemon } from "./serve.ts";

/** Help text of `onebit serve`. */
export const SERVE_USAGE = `Usage: onebit serve [options]

Starts the daemon: the HTTP API, the plugins of the config and its frame sources.
SIGHUP reloads the config and hot-swaps the plugins; SIGTERM drains and exits 0.

Options:
  --config <file>   config file (default: configs/onebit.json, else the embedded defaults)
  --port <n>        listen port, overriding the config (0 picks a free one)
  --host <addr>     listen address, overriding the config (beyond loopback needs auth.token)
  -h, --help        print this help`;

function parsePort(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`--port is '${value}', expected an integer from 0 to 65535`);
  }
  return port;
}

/**
 * Runs `onebit serve args`; resolves with the exit code once the daemon has stopped: 0
 * after SIGTERM/SIGINT, 1 when it could not start, 2 on a usage error.
 */
export async function serveCommand(args: string[]): Promise<number> {
  let values;
  try {
    values = parseArgs({
      args,
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
    if (values.help) {
      console.log(SERVE_USAGE);
      return 0;
    }
    parsePort(values.port);
  } catch (error) {
    console.error(`onebit serve: ${(error as Error).message}\n\n${SERVE_USAGE}`);
    return 2;
  }
  try {
    const daemon = await startDaemon({
      configPath: values.config,
      port: parsePort(values.port),
      host: values.host,
      signals: true,
    });
    const plugins = daemon.host.list();
    const names = plugins.map((plugin) => `${plugin.name} ${plugin.version}`).join(", ");
    const example = plugins.find((plugin) => plugin.manifest.task !== "match")?.name ?? "<task>";
    console.log(`onebit ${daemon.url}  plugins: ${names || "none"}`);
    if (plugins.length === 0) {
      // The shipped plugins load only once their trained model file is in their folder.
      console.log(
        "  no plugin loaded: each plugin folder needs its model file (see the log above, " +
          "plugins/<name>/README.md and train/README.md)",
      );
    }
    console.log(
      `  first image: curl -s --data-binary @test/data/example.png -H 'content-type: image/png' ` +
        `${daemon.url}/v1/tasks/${example}/infer`,
    );
    console.log(
      `  telemetry:   ${daemon.url}/v1/telemetry  ${daemon.url}/metrics  ` +
        `${daemon.url}/v1/telemetry/stream  dashboard ${daemon.url}/ui`,
    );
    await daemon.finished;
    return 0;
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`onebit serve: ${error.message}`);
      return 1;
    }
    throw error;
  }
}
