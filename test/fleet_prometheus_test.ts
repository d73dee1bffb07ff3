/**
 * A real Prometheus server (Debian's `prometheus`) scrapes a real daemon's /metrics every
 * second and the test reads `onebit_build_info` back through Prometheus' HTTP API.
 *
 * The daemon runs as a subprocess (`onebit serve`, test/daemon_support.ts) serving the echo
 * fixture plugin, so inference counters reach Prometheus too.
 */

import assert from "node:assert/strict";
import { freePort, waitFor } from "../daemon/fleet/test_support.ts";
import { encodePng, testPattern } from "../daemon/media/mod.ts";
import { spawnDaemon, writeDaemonConfig } from "./daemon_support.ts";

const ROOT = new URL("../", import.meta.url).pathname;

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
  name: "prometheus scrapes the daemon's /metrics and serves its counters back",
  async fn() {
    await ensurePrometheus();
    const dir = await Deno.makeTempDir({ prefix: "onebit_prom_" });
    const promPort = freePort();
    const daemon = await spawnDaemon(await writeDaemonConfig(dir, { plugins: ["echo"] }));
    const daemonPort = Number(new URL(daemon.url).port);
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
      for (let frame = 0; frame < 3; frame++) {
        const response = await fetch(`${daemon.url}/v1/tasks/echo/infer`, {
          method: "POST",
          headers: { "content-type": "image/png" },
          body: encodePng(testPattern(32, 24, 3)) as Uint8Array<ArrayBuffer>,
        });
        assert.equal(response.status, 200);
        await response.body?.cancel();
      }
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
      assert.ok(rss.length === 1 && Number(rss[0].value[1]) > 0, JSON.stringify(rss));
      const inferences = await query(promPort, 'onebit_inferences_total{task="echo"}');
      assert.equal(inferences.length, 1);
      assert.equal(inferences[0].value[1], "3");
    } finally {
      prometheus.kill("SIGTERM");
      await prometheus.status;
      assert.equal((await daemon.stop()).code, 0, daemon.log());
      await Deno.remove(dir, { recursive: true });
    }
  },
});
