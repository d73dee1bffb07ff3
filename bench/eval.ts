/**
 * Plugin evaluation (`deno task eval <plugin> [--limit=N] [--rounds=N]`): the figures of a
 * plugin README's "Measured" table, reproduced from the files in its folder.
 *
 *   - accuracy of the shipped BiNeal model (`model.safetensors`, run by the onebit runtime
 *     exactly as the daemon runs it) and of its 8-bit twin trained with the same recipe
 *     (`twin_int8.onebit`, an all-`qconv2d` onebit model, run by the same runtime, whose int8
 *     arithmetic is byte-exact with ONNX Runtime's QLinearConv — test/ort_qconv_test.ts), and
 *     of the sparse-kernel-selection variant (`model_sks.safetensors`) when the folder has one;
 *   - FPS of the BiNeal model (onebit, 1 thread) against the int8 twin in ONNX Runtime
 *     (QLinearConv u8 x s8, 1 intra-op thread), interleaved in one run;
 *   - file sizes: onebit model, sparse model, int8 twin as ONNX.
 *
 * Tasks: `classify` (top-1 on the Fashion-MNIST test set, 10 000 images, from the data cache
 * of `bash scripts/fetch_data.sh`). Writes bench/results/eval-<plugin>.json; the last line is
 * one JSON object.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { KernelContext, openKernels } from "../daemon/kernels/library.ts";
import { createSession, type TensorValue } from "../daemon/onnx/ort.ts";
import { ModelInstance } from "../daemon/runtime/executor.ts";
import { int8Twin, twinFeeds } from "../daemon/runtime/int8_twin.ts";
import { readModel } from "../daemon/runtime/model_file.ts";
import { readManifest } from "../daemon/host/manifest.ts";
import { formatTable, round, writeJsonReport } from "./lib/report.ts";
import { type BenchCase, timeInterleaved } from "./lib/timing.ts";
import { cpuModel, loadAverage } from "./lib/options.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** Where scripts/fetch_data.sh unpacks the datasets. */
function dataRoot(): string {
  const home = Deno.env.get("ONEBIT_DATA") ??
    `${Deno.env.get("XDG_CACHE_HOME") ?? `${Deno.env.get("HOME")}/.cache`}/onebit/data`;
  return `${home}/root`;
}

/** Reads an IDX file (optionally gzipped): the dims and the u8 payload. */
async function readIdx(path: string): Promise<{ dims: number[]; data: Uint8Array }> {
  let bytes = await Deno.readFile(path);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = new Uint8Array(gunzipSync(bytes));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (view.getUint16(0) !== 0 || bytes[2] !== 0x08) {
    throw new Error(`eval: ${path} is not an IDX file of u8 values`);
  }
  const rank = bytes[3];
  const dims = Array.from({ length: rank }, (_, index) => view.getUint32(4 + 4 * index));
  return { dims, data: bytes.subarray(4 + 4 * rank) };
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let index = 1; index < values.length; index++) {
    if (values[index] > values[best]) best = index;
  }
  return best;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const args = Deno.args.filter((arg) => !arg.startsWith("--"));
const flags = new Map(
  Deno.args.filter((arg) => arg.startsWith("--")).map((arg) => {
    const [flag, value = ""] = arg.split("=", 2);
    return [flag, value] as const;
  }),
);
for (const flag of flags.keys()) {
  if (flag !== "--limit" && flag !== "--rounds") throw new Error(`eval: unknown flag '${flag}'`);
}
if (args.length !== 1) {
  console.error("Usage: deno task eval <plugin> [--limit=N] [--rounds=N]");
  Deno.exit(2);
}
const pluginDir = args[0].includes("/") ? args[0] : `${ROOT}plugins/${args[0]}`;
const manifest = await readManifest(pluginDir);
if (manifest.task !== "classify") {
  throw new Error(`eval: task '${manifest.task}' of ${pluginDir} is not evaluated here yet`);
}
const limit = Number(flags.get("--limit") ?? 10_000);
const rounds = Number(flags.get("--rounds") ?? 9);

const lib = openKernels({ libDir: `${ROOT}zig-out/lib` });
const ctx = new KernelContext(lib, { threads: 1 });
const files = {
  model: `${pluginDir}/${Object.values(manifest.models)[0]}`,
  sparse: `${pluginDir}/model_sks.safetensors`,
  twin: `${pluginDir}/twin_int8.onebit`,
};
const variants: { name: string; file: string }[] = [{ name: "bineal", file: files.model }];
if (await exists(files.sparse)) variants.push({ name: "bineal_sks", file: files.sparse });
if (await exists(files.twin)) variants.push({ name: "int8_twin", file: files.twin });
const instances = await Promise.all(variants.map(async (variant) => ({
  ...variant,
  model: await readModel(variant.file),
})));
const bound = instances.map((variant) => ({
  ...variant,
  instance: new ModelInstance(variant.model, ctx),
}));

// Accuracy: Fashion-MNIST test set.
const folder = `${dataRoot()}/usr/share/datasets/fashion-mnist`;
const images = await readIdx(`${folder}/t10k-images-idx3-ubyte.gz`);
const labels = await readIdx(`${folder}/t10k-labels-idx1-ubyte.gz`);
const pixels = images.dims[1] * images.dims[2];
const count = Math.min(limit, images.dims[0]);
const correct = new Map(bound.map((variant) => [variant.name, 0]));
for (let index = 0; index < count; index++) {
  const image = images.data.subarray(index * pixels, (index + 1) * pixels);
  for (const variant of bound) {
    const input = variant.instance.inputs[0];
    const outputs = variant.instance.run({ [input.name]: image });
    const scores = outputs[variant.instance.outputNames[0]];
    if (argmax(scores as ArrayLike<number>) === labels.data[index]) {
      correct.set(variant.name, correct.get(variant.name)! + 1);
    }
  }
}
const accuracy = Object.fromEntries(
  bound.map((variant) => [variant.name, correct.get(variant.name)! / count]),
);

// Speed: the BiNeal model in onebit against the int8 twin in ONNX Runtime, 1 thread each.
const cases: BenchCase[] = [];
const firstImage = images.data.subarray(0, pixels);
const main = bound[0];
cases.push({
  name: "onebit",
  run: () => void main.instance.run({ [main.instance.inputs[0].name]: firstImage }),
});
const twinModel = instances.find((variant) => variant.name === "int8_twin")?.model;
const onnx = int8Twin(twinModel ?? main.model);
const session = await createSession(onnx.bytes, { threads: 1 });
const feeds: Record<string, TensorValue> = twinFeeds(onnx, 3);
await session.run(feeds);
cases.push({ name: "ort_int8", run: async () => void await session.run(feeds) });
const timings = await timeInterleaved(cases, { rounds });
await session.dispose();
const medianOf = (name: string) => timings.find((timing) => timing.name === name)!.medianMs;
const fps = { onebit: 1000 / medianOf("onebit"), ort_int8: 1000 / medianOf("ort_int8") };

const sizes = {
  onebit: (await Deno.stat(files.model)).size,
  onebit_sks: await exists(files.sparse) ? (await Deno.stat(files.sparse)).size : null,
  int8_onnx: onnx.bytes.length,
};
console.log(formatTable(
  ["model", "top-1", "file bytes"],
  bound.map((variant) => [
    variant.name,
    `${(100 * accuracy[variant.name]).toFixed(2)}%`,
    String(
      variant.name === "bineal"
        ? sizes.onebit
        : variant.name === "bineal_sks"
        ? sizes.onebit_sks
        : onnx.bytes.length,
    ),
  ]),
));
console.log(
  `FPS (1 thread): onebit ${fps.onebit.toFixed(0)}, ORT int8 twin ${fps.ort_int8.toFixed(0)}` +
    ` (${(fps.onebit / fps.ort_int8).toFixed(2)}x)`,
);
const summary = {
  plugin: manifest.name,
  version: manifest.version,
  task: manifest.task,
  metric: "top1_fashion_mnist_test",
  images: count,
  accuracy: Object.fromEntries(Object.entries(accuracy).map(([k, v]) => [k, round(v, 4)])),
  fps: { onebit: round(fps.onebit, 4), ort_int8: round(fps.ort_int8, 4) },
  fps_ratio: round(fps.onebit / fps.ort_int8, 3),
  sizes,
  twin: twinModel === undefined ? "architecture twin (untrained weights)" : "trained int8 twin",
};
await writeJsonReport(`${ROOT}bench/results/eval-${manifest.name}.json`, {
  ...summary,
  machine: { cpu: cpuModel(), load: loadAverage() },
});
console.log(JSON.stringify(summary));
ctx.destroy();
lib.close();
