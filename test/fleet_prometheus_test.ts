/**
 * A real Prometheus server (Debian's `prometheus`) scrapes a real daemon's /metrics every
 * second and the test reads `onebit_build_info` back through Prometheus' HTTP API.
 *
 * The daemon runs as a subprocess, `deno run -A daemon/main.ts serve --config <tmp>`, until
 * daemon/serve.ts (`startDaemon`) exists. While the CLI has no `serve` command the test is
 * skipped and says so.
 */

import assert from "node:assert/strict";
import { freePort, waitFor } from "../daemon/fleet/test_support.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const MAIN = `${ROOT}daemon/main.ts`;

/** True when `daemon/main.ts --help` lists a `serve` command. */
async function cliServes(): Promise<boolean> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return /^\s+serve\b/m.test(text);
}

const SERVES = await cliServes();
if (!SERVES) {
  console.error("fleet_prometheus_test: skipped: daemon/main.ts has no `serve` command yet");
}

async function ensurePrometheus(): Promise<void> {
  const has = await new Deno.Command("bash", { args: ["-c", "command -v prometheus"] }).output();
  if (has.success) return;
  const script = `${ROOT}scripts/system_packages.sh`;
  const out = await new Deno.Command("bash", { args: [script, "prometheus"] }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
}

async function query(
  promPort: number,
  expr: string,
): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const url = `http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(expr)}`;
  const response = await fetch(url);
  const body = await response.json();
  assert.equal(body.status, "success", JSON.stringify(body));
  return body.data.result;
}

async function reachable(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

Deno.test({
  name: "prometheus scrapes the daemon's /metrics and serves onebit_build_info back",
  ignore: !SERVES,
  async fn() {
    await ensurePrometheus();
    const dir = await Deno.makeTempDir({ prefix: "onebit_prom_" });
    const daemonPort = freePort();
    const promPort = freePort();
    Deno.mkdirSync(`${dir}/plugins`);
    Deno.writeTextFileSync(
      `${dir}/onebit.json`,
      JSON.stringify({
        listen: { host: "127.0.0.1", port: daemonPort },
        plugins: { dir: `${dir}/plugins`, load: [] },
      }),
    );
    Deno.writeTextFileSync(
      `${dir}/prometheus.yml`,
      [
        "global:",
        "  scrape_interval: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: onebit",
        "    metrics_path: /metrics",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${daemonPort}"]`,
        "",
      ].join("\n"),
    );
    const daemon = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "serve", "--config", `${dir}/onebit.json`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const prometheus = new Deno.Command("prometheus", {
      args: [
        `--config.file=${dir}/prometheus.yml`,
        `--storage.tsdb.path=${dir}/tsdb`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      await waitFor("daemon /healthz", () => reachable(`http://127.0.0.1:${daemonPort}/healthz`));
      await waitFor("prometheus ready", () => reachable(`http://127.0.0.1:${promPort}/-/ready`));
      let up: Awaited<ReturnType<typeof query>> = [];
      await waitFor("a scrape of the daemon", async () => {
        up = await query(promPort, 'up{job="onebit"}');
        return up.length === 1 && up[0].value[1] === "1";
      }, { stepMs: 200 });
      let info: Awaited<ReturnType<typeof query>> = [];
      await waitFor("onebit_build_info in prometheus", async () => {
        info = await query(promPort, "onebit_build_info");
        return info.length > 0;
      }, { stepMs: 200 });
      assert.equal(info[0].value[1], "1");
      assert.equal(info[0].metric.job, "onebit");
      assert.equal(info[0].metric.instance, `127.0.0.1:${daemonPort}`);
      // The daemon's own process figures arrive too (the same scrape carries them).
      const rss = await query(promPort, "onebit_process_resident_memory_bytes");
      assert.ok(rss.length === 0 || Number(rss[0].value[1]) > 0);
    } finally {
      prometheus.kill("SIGTERM");
      daemon.kill("SIGTERM");
      await prometheus.status;
      await daemon.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});
