/**
 * The shared plugin conformance suite (STYLE.md, "Plugins"): every plugin, shipped or
 * scaffolded, runs the same checks in a real host with real workers and kernels —
 *
 *   - manifest: valid, `apiVersion` equal to {@linkcode PLUGIN_API_VERSION};
 *   - warm-up: the plugin loads and its self-test frame runs (the host does it at load);
 *   - a frame: `manifest.frames` images give a JSON-serialisable result whose encoded images
 *     are non-empty and, when PNG, decodable;
 *   - bad frames: a corrupt image and an empty one fail with `bad_image`, a wrong number of
 *     images fails too, and the plugin keeps serving afterwards;
 *   - teardown: closing stops the worker and a later frame is refused.
 *
 * @example
 * ```ts ignore
 * // plugins/classify/mod_test.ts
 * conformanceSuite("classify", { dir: import.meta.dirname!, files: { "model.safetensors": bytes } });
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { readManifest } from "../host/manifest.ts";
import { decodeImage, encodePng } from "../media/mod.ts";
import { PLUGIN_API_VERSION } from "./plugin.ts";
import { copyPlugin, openTestHost, sceneImage } from "./testing.ts";

/** Options of {@linkcode conformanceSuite}. */
export interface ConformanceOptions {
  /** The plugin folder under test (copied to a temp folder first). */
  dir: string;
  /** Files written into the copy, e.g. a model built for the test. Default none. */
  files?: Readonly<Record<string, Uint8Array>>;
  /** Merged into the copy's plugin.json. Default none. */
  manifest?: Readonly<Record<string, unknown>>;
  /** Option overrides for the plugin. Default none. */
  options?: Readonly<Record<string, number | boolean | string>>;
}

/** Registers one `Deno.test` named "<name> passes the plugin conformance suite". */
export function conformanceSuite(name: string, options: ConformanceOptions): void {
  Deno.test(`${name} passes the plugin conformance suite`, async (t) => {
    const root = await Deno.makeTempDir({ prefix: `onebit_conformance_${name}_` });
    try {
      const dir = await copyPlugin(options.dir, `${root}/${name}`, {
        files: options.files,
        manifest: options.manifest,
      });
      const manifest = await readManifest(dir);
      await t.step("manifest is valid and speaks this contract version", () => {
        assert.equal(manifest.apiVersion, PLUGIN_API_VERSION);
        assert.match(manifest.version, /^\d+\.\d+\.\d+/);
      });
      const frames = manifest.frames ?? 1;
      const image = () =>
        encodePng(sceneImage(manifest.input.width + 7, manifest.input.height + 5));
      const plugin = await openTestHost(dir, { options: options.options });
      try {
        await t.step("it loads and warms up", () => {
          assert.equal(plugin.status.state, "ready");
          assert.equal(plugin.status.version, manifest.version);
        });
        await t.step("a frame gives a JSON result and decodable images", async () => {
          const outcome = await plugin.infer(Array.from({ length: frames }, image));
          assert.deepEqual(JSON.parse(JSON.stringify(outcome.result.data)), outcome.result.data);
          for (const [key, encoded] of Object.entries(outcome.result.images ?? {})) {
            assert.ok(encoded.bytes.length > 0, `image '${key}' is empty`);
            if (encoded.mediaType === "image/png") {
              const decoded = decodeImage(encoded, { pixelsMax: 1 << 26 });
              assert.ok(decoded.width > 0 && decoded.height > 0, `image '${key}'`);
            }
          }
        });
        await t.step("bad frames fail with stable codes and change nothing", async () => {
          const corrupt = image();
          corrupt.fill(0x55, 20);
          const bad = Array.from({ length: frames }, () => corrupt.slice());
          await assert.rejects(plugin.infer(bad), { code: "bad_image" });
          const empty = Array.from({ length: frames }, () => ({
            bytes: new Uint8Array(0),
            mediaType: "image/png",
          }));
          await assert.rejects(plugin.host.infer(manifest.name, { images: empty }), {
            code: "bad_image",
          });
          await assert.rejects(plugin.infer(Array.from({ length: frames + 1 }, image)));
          const outcome = await plugin.infer(Array.from({ length: frames }, image));
          assert.equal(outcome.version, manifest.version);
        });
      } finally {
        await plugin.close();
      }
      await t.step("teardown stops it: later frames are refused", async () => {
        await assert.rejects(plugin.infer(Array.from({ length: frames }, image)));
      });
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
