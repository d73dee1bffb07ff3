import assert from "node:assert/strict";
import { KernelContext, openKernels } from "../../kernels/library.ts";
import { ModelInstance } from "../../runtime/executor.ts";
import { loadModel } from "../../runtime/model_file.ts";
import { buildEdsr } from "../../runtime/zoo.ts";
import type { Frame, PluginManifest } from "../plugin.ts";
import { frameGeometry, imageInputOf, imageToInput, tensorToImage } from "./input.ts";

Deno.test("imageToInput fills the model input, converting channels and size", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const model = loadModel(buildEdsr({ width: 0.125, inputSize: [6, 8], blocks: 1 }).bytes);
  const instance = new ModelInstance(model, ctx);
  assert.deepEqual(imageInputOf(instance), { name: "image", height: 6, width: 8, channels: 3 });
  const gray = { width: 8, height: 6, channels: 1 as const, data: new Uint8Array(48).fill(9) };
  const inputs = imageToInput(gray, instance);
  assert.equal(inputs.image.length, 144);
  assert.ok(inputs.image.every((v) => v === 9));
  const big = { width: 16, height: 12, channels: 3 as const, data: new Uint8Array(576).fill(200) };
  assert.ok(imageToInput(big, instance).image.every((v) => v === 200));
  const outputs = instance.run(inputs);
  const up = tensorToImage(outputs.upscaled as Uint8Array, [1, 12, 16, 3]);
  assert.equal(up.width, 16);
  assert.throws(() => imageInputOf(instance, "nope"), /no input 'nope'/);
  assert.throws(() => tensorToImage(new Uint8Array(3), [1, 2, 2, 3]), /3 values, expected 12/);
});

Deno.test("frameGeometry maps fitted points back for stretch and letterbox", () => {
  const frame = {
    id: 1,
    images: [],
    originalSizes: [{ width: 200, height: 100 }],
    source: "test",
    receivedAtMs: 0,
  } as unknown as Frame;
  const manifest = { input: { width: 100, height: 100, channels: 3 } } as PluginManifest;
  assert.deepEqual(frameGeometry(frame, manifest).toOriginal(50, 50), [100, 50]);
  const letterbox = {
    input: { width: 100, height: 100, channels: 3, resize: "letterbox" },
  } as PluginManifest;
  assert.deepEqual(frameGeometry(frame, letterbox).toOriginal(50, 50), [100, 50]);
  assert.deepEqual(frameGeometry(frame, letterbox).toOriginal(0, 25), [0, 0]);
  assert.throws(() => frameGeometry(frame, manifest, 1), /no index 1/);
});
