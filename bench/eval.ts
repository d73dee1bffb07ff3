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
 *   - file sizes: onebit model, sparse model, int8 twin as ONNX;
 *   - and writes them into the plugin README's Measured table (unless `--no-readme`).
 *
 * Accuracy is task-specific (`bench/eval/<task>.ts`, contract in `bench/eval/task.ts`): top-1
 * on Fashion-MNIST (classify), mAP@0.5 (detect), mIoU (segment), PSNR (superres),
 * homography accuracy and mean matching accuracy (match) on the held-out sets of the training
 * package. Writes bench/results/eval-<plugin>.json; the last line is one JSON object.
 *
 * @module
 */

import { KernelContext, openKernels } from "../daemon/kernels/library.ts";
import { createSession, type TensorValue } from "../daemon/onnx/ort.ts";
import { ModelInstance } from "../daemon/runtime/executor.ts";
import { int8Twin, twinFeeds } from "../daemon/runtime/int8_twin.ts";
import { readModel } from "../daemon/runtime/model_file.ts";
import { readManifest } from "../daemon/host/manifest.ts";
import { exists } from "../daemon/telemetry/power/sysfs.ts";
import { formatTable, round, writeJsonReport } from "./lib/report.ts";
import { type BenchCase, timeInterleaved } from "./lib/timing.ts";
import { cpuModel, loadAverage } from "./lib/options.ts";
import { ROOT, type TaskEval } from "./eval/task.ts";
import { measuredTable, replaceMeasured } from "./eval/readme.ts";
import { evaluateClassify } from "./eval/classify.ts";
import { evaluateDetect } from "./eval/detect.ts";
import { evaluateSegment } from "./eval/segment.ts";
import { evaluateSuperres } from "./eval/superres.ts";
import { evaluateMatch } from "./eval/match.ts";

/** Each task's accuracy measurement, by DESIGN.md task name. */
const TASKS: Readonly<Record<string, TaskEval>> = {
  classify: evaluateClassify,
  detect: evaluateDetect,
  segment: evaluateSegment,
  superres: evaluateSuperres,
  match: evaluateMatch,
};

const args = Deno.args.filter((arg) => !arg.startsWith("--"));
const flags = new Map(
  Deno.args.filter((arg) => arg.startsWith("--")).map((arg) => {
    const [flag, value = ""] = arg.split("=", 2);
    return [flag, value] as const;
  }),
);
for (const flag of flags.keys()) {
  if (!["--limit", "--rounds", "--no-readme"].includes(flag)) {
    throw new Error(`eval: unknown flag '${flag}'`);
  }
}
if (args.length !== 1) {
  console.error("Usage: deno task eval <plugin> [--limit=N] [--rounds=N] [--no-readme]");
  Deno.exit(2);
}
const pluginDir = args[0].includes("/") ? args[0] : `${ROOT}plugins/${args[0]}`;
const manifest = await readManifest(pluginDir);
const taskEval = TASKS[manifest.task];
if (taskEval === undefined) {
  throw new Error(`eval: task '${manifest.task}' of ${pluginDir} has no evaluation`);
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

// Accuracy on the task's held-out set.
const accuracy = await taskEval(bound, { pluginDir, manifest, limit });

// Speed: the BiNeal models in onebit against the int8 twin in ONNX Runtime, 1 thread each,
// interleaved in one run.
const cases: BenchCase[] = [];
const main = bound[0];
// Binary networks take the same time on any image: one fixed pseudo-random frame.
const sample = new Uint8Array(
  main.instance.inputs[0].shape.reduce((product, size) => product * size, 1),
).map((_, index) => (index * 2654435761) >>> 24);
const timed = { bineal: "onebit", bineal_sks: "onebit_sks" } as Record<string, string>;
for (const variant of bound) {
  if (timed[variant.name] === undefined) continue;
  const input = variant.instance.inputs[0].name;
  cases.push({
    name: timed[variant.name],
    run: () => void variant.instance.run({ [input]: sample }),
  });
}
const twinModel = instances.find((variant) => variant.name === "int8_twin")?.model;
const onnx = int8Twin(twinModel ?? main.model);
const session = await createSession(onnx.bytes, { threads: 1 });
const feeds: Record<string, TensorValue> = twinFeeds(onnx, 3);
await session.run(feeds);
cases.push({ name: "ort_int8", run: async () => void await session.run(feeds) });
const timings = await timeInterleaved(cases, { rounds });
await session.dispose();
const fps: Record<string, number> = Object.fromEntries(
  timings.map((timing) => [timing.name, 1000 / timing.medianMs]),
);

const sizes = {
  onebit: (await Deno.stat(files.model)).size,
  onebit_sks: await exists(files.sparse) ? (await Deno.stat(files.sparse)).size : null,
  int8_onnx: onnx.bytes.length,
};
const shown = Object.fromEntries(
  bound.map((variant) => [variant.name, accuracy.format(accuracy.values[variant.name])]),
);
console.log(formatTable(
  ["model", accuracy.label, "file bytes"],
  bound.map((variant) => [
    variant.name,
    shown[variant.name],
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
  `FPS (1 thread): ${
    Object.entries(fps).map(([name, value]) => `${name} ${value.toFixed(1)}`).join(", ")
  } (onebit/ORT ${(fps.onebit / fps.ort_int8).toFixed(2)}x)`,
);
if (!flags.has("--no-readme")) {
  const readme = `${pluginDir}/README.md`;
  await Deno.writeTextFile(
    readme,
    replaceMeasured(
      await Deno.readTextFile(readme),
      measuredTable({
        plugin: manifest.name,
        label: accuracy.label,
        samples: accuracy.count,
        values: shown,
        fps,
        sizes,
        extra: accuracy.note,
      }),
    ),
  );
  // The README is formatted as the repository's check wants it (line width, table padding).
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", readme] })
    .output();
  if (!fmt.success) throw new Error(`eval: deno fmt ${readme} failed`);
  console.log(`updated the Measured table of ${readme}`);
}
const summary = {
  plugin: manifest.name,
  version: manifest.version,
  task: manifest.task,
  metric: accuracy.metric,
  samples: accuracy.count,
  accuracy: Object.fromEntries(
    Object.entries(accuracy.values).map(([k, v]) => [k, round(v, 4)]),
  ),
  ...(accuracy.extra === undefined ? {} : { extra: accuracy.extra }),
  fps: Object.fromEntries(Object.entries(fps).map(([name, value]) => [name, round(value, 4)])),
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
