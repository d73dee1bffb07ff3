/**
 * The plugin SDK end to end: `onebit plugin new` scaffolds a plugin, `onebit plugin check`
 * passes it and fails a broken copy naming the field, and a running daemon loads it,
 * serves a frame over HTTP, hot-swaps a new version of it and serves from the new version.
 */

import assert from "node:assert/strict";
import { encodePng } from "../daemon/media/mod.ts";
import { pluginCommand } from "../daemon/plugin_cli.ts";
import { sceneImage } from "../daemon/sdk/testing.ts";
import { startDaemon } from "../daemon/serve.ts";

/** Runs `onebit plugin <args>`, capturing its output. */
async function plugin(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await pluginCommand(args, {
    out: (line) => out.push(line),
    err: (line) => err.push(line),
  });
  return { code, out: out.join("\n"), err: err.join("\n") };
}

async function editManifest(dir: string, edit: (manifest: Record<string, unknown>) => void) {
  const manifest = JSON.parse(await Deno.readTextFile(`${dir}/plugin.json`));
  edit(manifest);
  await Deno.writeTextFile(`${dir}/plugin.json.tmp`, JSON.stringify(manifest, null, 2));
  await Deno.rename(`${dir}/plugin.json.tmp`, `${dir}/plugin.json`);
}

Deno.test("plugin new scaffolds a plugin that plugin check passes, and check names a broken field", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_sdk_" });
  try {
    const created = await plugin(["new", "shoes", "--task", "classify", "--dir", root]);
    assert.equal(created.code, 0, created.err);
    for (const file of ["plugin.json", "mod.ts", "mod_test.ts", "README.md", "model.safetensors"]) {
      assert.ok((await Deno.stat(`${root}/shoes/${file}`)).isFile, file);
    }
    const checked = await plugin(["check", `${root}/shoes`]);
    assert.equal(checked.code, 0, checked.err);
    assert.match(checked.out, /ok {3}warm-up/);

    // A broken copy: an input size the model does not take, then a bad manifest field.
    await Deno.mkdir(`${root}/broken`);
    for await (const entry of Deno.readDir(`${root}/shoes`)) {
      await Deno.copyFile(`${root}/shoes/${entry.name}`, `${root}/broken/${entry.name}`);
    }
    // Same folder depth as the original, so its relative SDK imports still resolve.
    await editManifest(`${root}/broken`, (m) => (m.input = { width: 40, height: 32, channels: 3 }));
    const sizes = await plugin(["check", `${root}/broken`]);
    assert.equal(sizes.code, 1);
    assert.match(sizes.err, /FAIL models: models\.model .*32x32x3 .*manifest's input is 40x32x3/);
    await editManifest(`${root}/broken`, (m) => (m.apiVersion = 99));
    const api = await plugin(["check", `${root}/broken`]);
    assert.equal(api.code, 1);
    assert.match(api.err, /FAIL manifest: .*apiVersion is 99/);
    await editManifest(`${root}/broken`, (m) => {
      m.apiVersion = 1;
      m.input = { width: 32, height: 32, channels: 3 };
    });
    await Deno.writeTextFile(`${root}/broken/mod.ts`, "export default { setup() {} };\n");
    const module = await plugin(["check", `${root}/broken`]);
    assert.equal(module.code, 1);
    assert.match(module.err, /FAIL module: mod\.ts default export has no process\(\) function/);

    assert.equal((await plugin(["new", "Bad Name", "--task", "classify", "--dir", root])).code, 1);
    assert.equal((await plugin(["new", "x", "--task", "nope", "--dir", root])).code, 2);
    assert.equal((await plugin(["new", "shoes", "--task", "detect", "--dir", root])).code, 1);
    assert.equal((await plugin(["check", "--help"])).code, 0);
    assert.equal((await plugin(["new", "--help"])).code, 0);
    assert.equal((await plugin(["frobnicate"])).code, 2);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("a scaffolded plugin serves in a running daemon and hot-swaps to a new version", async () => {
  const root = await Deno.makeTempDir({ prefix: "onebit_sdk_" });
  const pluginsDir = `${root}/plugins`;
  try {
    assert.equal((await plugin(["new", "seg", "--task", "segment", "--dir", pluginsDir])).code, 0);
    const configPath = `${root}/onebit.json`;
    await Deno.writeTextFile(
      configPath,
      JSON.stringify({
        listen: { host: "127.0.0.1", port: 0 },
        threads: 1,
        plugins: { dir: pluginsDir, load: ["seg"], watch: false },
      }),
    );
    const daemon = await startDaemon({ configPath, port: 0, log: () => {} });
    try {
      const infer = async () => {
        const response = await fetch(`${daemon.url}/v1/tasks/seg/infer`, {
          method: "POST",
          headers: { "content-type": "image/png" },
          body: encodePng(sceneImage(80, 60)) as Uint8Array<ArrayBuffer>,
        });
        const body = await response.json();
        assert.equal(response.status, 200, JSON.stringify(body));
        return body as { version: string; data: { width: number; areas: unknown[] } };
      };
      const first = await infer();
      assert.equal(first.version, "0.1.0");
      assert.equal(first.data.width, 80);

      await editManifest(`${pluginsDir}/seg`, (m) => (m.version = "0.2.0"));
      const reload = await fetch(`${daemon.url}/v1/plugins/seg/reload`, { method: "POST" });
      const status = await reload.json();
      assert.equal(reload.status, 200, JSON.stringify(status));
      assert.equal(status.version, "0.2.0");
      const second = await infer();
      assert.equal(second.version, "0.2.0");
      assert.ok(second.data.areas.length >= 1);
    } finally {
      await daemon.stop();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
