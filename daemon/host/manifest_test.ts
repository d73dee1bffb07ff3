import assert from "node:assert/strict";
import { PluginError } from "./errors.ts";
import { parseManifest, readManifest, resolveOptions } from "./manifest.ts";
import { copyFixture } from "./test_support.ts";

const good = {
  name: "echo",
  version: "1.0.0",
  task: "custom",
  apiVersion: 1,
  entry: "mod.ts",
  models: {},
  input: { width: 32, height: 24, channels: 3 },
  options: { scale: { type: "number", default: 1, minimum: 0, maximum: 100 } },
};

function refuses(patch: (m: Record<string, unknown>) => void, message: RegExp): void {
  const manifest = structuredClone(good) as Record<string, unknown>;
  patch(manifest);
  assert.throws(
    () => parseManifest(manifest, "plugin.json"),
    (error: unknown) =>
      error instanceof PluginError && error.code === "bad_manifest" && message.test(error.message),
  );
}

Deno.test("parseManifest accepts a good manifest and fills models", () => {
  const { models: _models, ...rest } = good;
  const manifest = parseManifest(rest, "plugin.json");
  assert.deepEqual(manifest.models, {});
  assert.equal(manifest.input.width, 32);
  assert.ok(Object.isFrozen(manifest.input));
});

Deno.test("parseManifest names the field and the value of each bad field", () => {
  refuses((m) => (m.name = "Echo"), /^plugin\.json: name is "Echo", expected a name matching/);
  refuses((m) => (m.version = "1.0"), /version is "1\.0", expected a semantic version/);
  refuses((m) => (m.task = "dance"), /task is "dance", expected one of classify/);
  refuses((m) => (m.apiVersion = 2), /apiVersion is 2, expected 1/);
  refuses((m) => (m.entry = "../x.ts"), /entry is "\.\.\/x\.ts", expected a path inside/);
  refuses((m) => (m.entry = "/abs.ts"), /entry is "\/abs\.ts"/);
  refuses(
    (m) => ((m.input as Record<string, unknown>).width = 0),
    /^plugin\.json: input\.width is 0, expected an integer in 1\.\.4096$/,
  );
  refuses((m) => ((m.input as Record<string, unknown>).height = 4097), /input\.height is 4097/);
  refuses(
    (m) => ((m.input as Record<string, unknown>).channels = 2),
    /input\.channels is 2, expected 1 or 3/,
  );
  refuses((m) => ((m.input as Record<string, unknown>).resize = "zoom"), /input\.resize is "zoom"/);
  refuses((m) => (m.frames = 3), /frames is 3, expected 1 or 2/);
  refuses((m) => delete m.input, /input is missing/);
  refuses((m) => (m.extra = 1), /has unknown field\(s\) extra/);
  refuses(
    (m) => (m.options = { scale: { type: "number", default: 200, minimum: 0, maximum: 100 } }),
    /options\.scale\.default is 200, expected a number in 0\.\.100/,
  );
  refuses(
    (m) => (m.options = { mode: { type: "string", default: "x", enum: ["a", "b"] } }),
    /options\.mode\.default is "x", expected one of a, b/,
  );
  refuses(
    (m) => (m.options = { n: { type: "integer", default: 1.5 } }),
    /options\.n\.default is 1\.5, expected an integer/,
  );
  refuses(
    (m) => (m.options = { n: { type: "number", default: 1, minimum: 5, maximum: 2 } }),
    /options\.n\.minimum 5 is above maximum 2/,
  );
  refuses((m) => (m.options = { n: { type: "float", default: 1 } }), /options\.n\.type is "float"/);
});

Deno.test("readManifest checks that entry, models and selftest exist in the folder", async () => {
  const root = await Deno.makeTempDir();
  try {
    const tiny = await copyFixture(root, "tiny");
    assert.equal((await readManifest(tiny)).models.model, "tiny.onebit");
    await Deno.remove(`${tiny}/tiny.onebit`);
    await assert.rejects(
      readManifest(tiny),
      /models\.model is "tiny\.onebit", but .*tiny\.onebit does not exist/,
    );
    const echo = await copyFixture(root, "echo", { manifest: { entry: "missing.ts" } });
    await assert.rejects(
      readManifest(echo),
      /plugin\.json: entry is "missing\.ts", but .* does not exist/,
    );
    const selftest = await copyFixture(root, "echo", { as: "e2", manifest: { selftest: "x.png" } });
    await assert.rejects(readManifest(selftest), /selftest is "x\.png"/);
    await Deno.mkdir(`${root}/empty`);
    await assert.rejects(
      readManifest(`${root}/empty`),
      (e: unknown) => (e as PluginError).code === "plugin_not_found",
    );
    await Deno.writeTextFile(`${root}/empty/plugin.json`, "{ nope");
    await assert.rejects(readManifest(`${root}/empty`), /plugin\.json: not valid JSON/);
    await Deno.symlink("/etc/hostname", `${echo}/link.ts`);
    await Deno.writeTextFile(`${echo}/plugin.json`, JSON.stringify({ ...good, entry: "link.ts" }));
    await assert.rejects(readManifest(echo), /outside the plugin folder/);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("resolveOptions applies overrides and refuses unknown or out-of-range values", () => {
  const manifest = parseManifest(good, "plugin.json");
  assert.deepEqual(resolveOptions(manifest), { scale: 1 });
  assert.deepEqual(resolveOptions(manifest, { scale: 2.5 }), { scale: 2.5 });
  assert.throws(
    () => resolveOptions(manifest, { scale: 101 }),
    (e: unknown) =>
      (e as PluginError).code === "bad_options" &&
      /Option 'scale' of plugin 'echo' is 101, expected a number in 0\.\.100/.test(
        (e as Error).message,
      ),
  );
  assert.throws(() => resolveOptions(manifest, { scale: "2" }), /is "2", expected a number/);
  assert.throws(
    () => resolveOptions(manifest, { zoom: 1 }),
    /has no option 'zoom' \(its options: scale\)/,
  );
});
