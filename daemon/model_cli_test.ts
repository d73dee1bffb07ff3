import assert from "node:assert/strict";
import { modelCommand } from "./model_cli.ts";

function capture() {
  const lines: string[] = [];
  const errors: string[] = [];
  return {
    lines,
    errors,
    io: { out: (l: string) => lines.push(l), err: (l: string) => errors.push(l) },
  };
}

Deno.test("model build, inspect and estimate work on a small ResNet-18 file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/r18.onebit`;
    const build = capture();
    assert.equal(
      await modelCommand(["build", "resnet18", "--out", file, "--size", "32"], build.io),
      0,
    );
    assert.match(build.lines[0], /wrote .*r18\.onebit: bineal_resnet18/);
    const inspect = capture();
    assert.equal(await modelCommand(["inspect", file, "--json"], inspect.io), 0);
    const report = JSON.parse(inspect.lines[0]);
    assert.equal(report.fileBytes, (await Deno.stat(file)).size);
    assert.equal(report.task, "classify");
    assert.ok(report.opCounts.bconv2d > 0, "a BiNeal ResNet has binary convs");
    assert.ok(report.peakActivationBytes > 0);
    const estimate = capture();
    assert.equal(
      await modelCommand(["estimate", file, "--accelerator", "systolic:16x16"], estimate.io),
      0,
    );
    assert.ok(estimate.lines[0].length > 0);
    const onnx = capture();
    const onnxFile = `${dir}/r18.int8.onnx`;
    assert.equal(await modelCommand(["onnx", file, "--out", onnxFile], onnx.io), 0);
    const bytes = await Deno.readFile(onnxFile);
    assert.match(onnx.lines[0], new RegExp(`int8 ONNX twin, ${bytes.length} bytes`));
    // A ModelProto whose graph holds QLinearConv nodes (the op type is a plain string).
    assert.ok(new TextDecoder().decode(bytes).includes("QLinearConv"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("model commands refuse bad usage and bad files with clear errors", async () => {
  const unknown = capture();
  assert.equal(await modelCommand(["build", "vgg", "--out", "/tmp/x"], unknown.io), 2);
  assert.match(unknown.errors[0], /unknown family 'vgg'/);
  const noAccelerator = capture();
  assert.equal(await modelCommand(["estimate", "x.onebit"], noAccelerator.io), 2);
  assert.match(noAccelerator.errors[0], /needs --accelerator/);
  const noOut = capture();
  assert.equal(await modelCommand(["onnx", "x.onebit"], noOut.io), 2);
  assert.match(noOut.errors[0], /onnx needs --out/);
  const dir = await Deno.makeTempDir();
  try {
    const bad = `${dir}/bad.onebit`;
    await Deno.writeFile(bad, new Uint8Array([1, 2, 3]));
    const refused = capture();
    assert.equal(await modelCommand(["inspect", bad], refused.io), 1);
    assert.match(refused.errors[0], /Cannot load model/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
