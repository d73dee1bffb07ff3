/**
 * Model benchmark (`deno task bench:models [--quick]`): whole zoo models run side by side,
 * with 1 and 2 threads, by
 *
 *   - `onebit`:        the onebit executor (`daemon/runtime/executor.ts`) on the plain model,
 *   - `onebit_sparse`: the same architecture with sparse kernel selection (codebook, tau 5),
 *   - `ort_int8`:      ONNX Runtime on the int8 twin (QLinearConv u8 x s8 for every conv),
 *   - `ort_fp32`:      ONNX Runtime on the fp32 twin,
 *
 * interleaved per model and thread count so machine noise hits them alike
 * (bench/lib/timing.ts). Models (DESIGN.md section 8, the seed paper's input sizes): BiNeal
 * ResNet-18 1x and 1.5x at 224x224, the CenterNet detector at 448x672 and the FCN segmenter
 * at 512x1024.
 *
 * Per model it reports FPS (from the median of the interleaved rounds), the FPS ratios of
 * onebit over int8 and fp32, the file sizes (onebit, sparse onebit, int8 ONNX, fp32 ONNX),
 * the peak activation memory of the memory plan against the ONNX model size, and the
 * executor's per-op-type time breakdown (a separate profiled instance) so the next
 * bottleneck is visible.
 *
 * Writes bench/results/models.json and prints, as its last line, one JSON summary object.
 * Goals (reported, never asserted): onebit >= 2.4x ORT int8 FPS on every model; the sparse
 * variant >= 1.8x smaller than the plain binary model.
 *
 * Flags: --quick (1 thread, fewer rounds, ResNet-18 1x, the detector and the segmenter at
 * half size; under 60 s), --rounds=N, --threads=1,2, --models=<substring>, --out=<path>.
 *
 * @module
 */

import { KernelContext, openKernels } from "../daemon/kernels/library.ts";
import { cpuHasVnni, createSession, ORT_VERSION, type TensorValue } from "../daemon/onnx/ort.ts";
import { type ActivationArray, ModelInstance } from "../daemon/runtime/executor.ts";
import { fp32Twin, int8Twin, type OnnxTwin, twinFeeds } from "../daemon/runtime/int8_twin.ts";
import { planMemory } from "../daemon/runtime/memory_plan.ts";
import { loadModel, type Model } from "../daemon/runtime/model_file.ts";
import {
  buildBinealResNet18,
  buildCenterNet,
  buildFcn,
  type ZooModel,
  type ZooOptions,
} from "../daemon/runtime/zoo.ts";
import { cpuModel, loadAverage, parseBenchOptions } from "./lib/options.ts";
import { formatTable, round, writeJsonReport } from "./lib/report.ts";
import { type BenchCase, type CaseTiming, timeInterleaved } from "./lib/timing.ts";

/** One model of the benchmark. */
interface ModelSpec {
  /** Short name, e.g. `"resnet18_1x"`. */
  name: string;
  /** Builds the model (plain or sparse). */
  build: (options: ZooOptions) => ZooModel;
  /** Input `[height, width]`. */
  size: readonly [number, number];
  /** Width multiplier. */
  width: number;
}

const allSpecs: readonly ModelSpec[] = [
  { name: "resnet18_1x", build: buildBinealResNet18, size: [224, 224], width: 1 },
  { name: "resnet18_1.5x", build: buildBinealResNet18, size: [224, 224], width: 1.5 },
  { name: "centernet", build: buildCenterNet, size: [448, 672], width: 1 },
  { name: "fcn", build: buildFcn, size: [512, 1024], width: 1 },
];

/** --quick: ResNet-18 1x at full size, the detector and the segmenter at half size. */
const quickSpecs: readonly ModelSpec[] = [
  allSpecs[0],
  { ...allSpecs[2], name: "centernet_224x336", size: [224, 336] },
  { ...allSpecs[3], name: "fcn_256x512", size: [256, 512] },
];

/** Pause before every sample so thread pools that spin after a call go back to sleep. */
const settleMs = 5;
/** Profiled runs for the per-op-type breakdown. */
const profileRuns = 5;

function ratio(numerator: number | null | undefined, denominator: number | null | undefined) {
  if (!numerator || !denominator) return null;
  return round(numerator / denominator, 3);
}

/** Random inputs for a onebit model, from the int8 twin's feeds (same values, NHWC). */
function onebitInputs(
  model: Model,
  feeds: Record<string, TensorValue>,
): Record<string, ActivationArray> {
  const inputs: Record<string, ActivationArray> = {};
  for (const input of model.graph.inputs) {
    const feed = feeds[input.name];
    if (feed === undefined) throw new Error(`bench:models: no feed for input '${input.name}'`);
    inputs[input.name] = feed.data as ActivationArray;
  }
  return inputs;
}

/** Everything built once per model (independent of the thread count). */
interface Built {
  spec: ModelSpec;
  plain: ZooModel;
  sparse: ZooModel;
  model: Model;
  sparseModel: Model;
  int8: OnnxTwin;
  fp32: OnnxTwin;
}

function buildAll(spec: ModelSpec): Built {
  const options: ZooOptions = { width: spec.width, inputSize: spec.size };
  const plain = spec.build(options);
  const sparse = spec.build({ ...options, sparse: true, tau: 5 });
  const model = loadModel(plain.bytes, { name: plain.name });
  const sparseModel = loadModel(sparse.bytes, { name: sparse.name });
  // NHWC twins take the same input bytes as onebit; ORT inserts its own transposes.
  return {
    spec,
    plain,
    sparse,
    model,
    sparseModel,
    int8: int8Twin(model),
    fp32: fp32Twin(model),
  };
}

/** Time of one op type summed over its ops, per run. */
interface OpTypeTime {
  op: string;
  ms: number;
  share: number;
  ops: number;
  kernels: string[];
}

function opTypeBreakdown(instance: ModelInstance): { totalMs: number; byOp: OpTypeTime[] } {
  const profile = instance.profile();
  const byOp = new Map<string, OpTypeTime>();
  for (const row of profile.rows) {
    const entry = byOp.get(row.op) ??
      { op: row.op, ms: 0, share: 0, ops: 0, kernels: [] as string[] };
    entry.ms += row.meanMs;
    entry.ops++;
    if (!entry.kernels.includes(row.kernel)) entry.kernels.push(row.kernel);
    byOp.set(row.op, entry);
  }
  const totalMs = profile.totals.meanMs;
  const rows = [...byOp.values()].sort((a, b) => b.ms - a.ms).map((entry) => ({
    ...entry,
    ms: round(entry.ms) ?? 0,
    share: round(totalMs > 0 ? entry.ms / totalMs : 0, 3) ?? 0,
  }));
  return { totalMs: round(totalMs) ?? 0, byOp: rows };
}

interface CaseResult {
  medianMs: number | null;
  minMs: number | null;
  fps: number | null;
}

function caseResult(timing: CaseTiming | undefined): CaseResult {
  if (timing === undefined) return { medianMs: null, minMs: null, fps: null };
  return {
    medianMs: round(timing.medianMs),
    minMs: round(timing.minMs),
    fps: round(1000 / timing.medianMs),
  };
}

interface ModelRun {
  model: string;
  threads: number;
  cases: Record<string, CaseResult>;
  fpsOverInt8: number | null;
  fpsOverFp32: number | null;
  sparseFpsOverInt8: number | null;
  sparseFpsOverPlain: number | null;
  /** onebit over int8 from the fastest samples (less sensitive to other tenants). */
  fpsOverInt8FromMin: number | null;
  codebookChoices: string[];
  profile: { totalMs: number; byOp: OpTypeTime[] };
  failures: Record<string, string>;
}

async function runModel(
  built: Built,
  ctx: KernelContext,
  rounds: number,
): Promise<ModelRun> {
  const threads = ctx.threads;
  const feeds = twinFeeds(built.int8, 7);
  const inputs = onebitInputs(built.model, feeds);
  const plain = new ModelInstance(built.model, ctx);
  const sparse = new ModelInstance(built.sparseModel, ctx);
  const cases: BenchCase[] = [
    { name: "onebit", run: () => void plain.run(inputs) },
    { name: "onebit_sparse", run: () => void sparse.run(inputs) },
  ];
  const failures: Record<string, string> = {};
  const sessions = [];
  for (const twin of [built.int8, built.fp32]) {
    const name = `ort_${twin.precision}`;
    try {
      const session = await createSession(twin.bytes, { threads });
      sessions.push(session);
      const twinInputs = twinFeeds(twin, 7);
      await session.run(twinInputs);
      cases.push({ name, run: async () => void await session.run(twinInputs) });
    } catch (error) {
      failures[name] = error instanceof Error ? error.message : String(error);
    }
  }
  let timings: CaseTiming[];
  try {
    // One untimed run before every sample wakes the sleeping pool threads of each side.
    timings = await timeInterleaved(cases, {
      rounds,
      warmupCalls: 1,
      sampleMs: 1,
      settleMs,
      primeCalls: 1,
    });
  } finally {
    for (const session of sessions) await session.dispose();
  }
  const byName = (name: string) => caseResult(timings.find((timing) => timing.name === name));
  const results: Record<string, CaseResult> = {
    onebit: byName("onebit"),
    onebit_sparse: byName("onebit_sparse"),
    ort_int8: byName("ort_int8"),
    ort_fp32: byName("ort_fp32"),
  };

  const profiled = new ModelInstance(built.model, ctx, { profile: true });
  for (let run = 0; run < profileRuns; run++) profiled.run(inputs);

  return {
    model: built.spec.name,
    threads,
    cases: results,
    fpsOverInt8: ratio(results.onebit.fps, results.ort_int8.fps),
    fpsOverFp32: ratio(results.onebit.fps, results.ort_fp32.fps),
    sparseFpsOverInt8: ratio(results.onebit_sparse.fps, results.ort_int8.fps),
    sparseFpsOverPlain: ratio(results.onebit_sparse.fps, results.onebit.fps),
    fpsOverInt8FromMin: ratio(results.ort_int8.minMs, results.onebit.minMs),
    codebookChoices: sparse.codebookChoices.map((choice) => `${choice.op}=${choice.path}`),
    profile: opTypeBreakdown(profiled),
    failures,
  };
}

interface ModelSizes {
  model: string;
  input: string;
  onebitBytes: number;
  sparseBytes: number;
  int8OnnxBytes: number;
  fp32OnnxBytes: number;
  int8OverOnebit: number | null;
  fp32OverOnebit: number | null;
  plainOverSparse: number | null;
  peakActivationBytes: number;
  naiveActivationBytes: number;
  peakActivationOverInt8Onnx: number | null;
}

function sizesOf(built: Built): ModelSizes {
  const instancePlan = planMemory(built.model);
  const onebitBytes = built.plain.bytes.length;
  const sparseBytes = built.sparse.bytes.length;
  return {
    model: built.spec.name,
    input: `${built.spec.size[0]}x${built.spec.size[1]}`,
    onebitBytes,
    sparseBytes,
    int8OnnxBytes: built.int8.bytes.length,
    fp32OnnxBytes: built.fp32.bytes.length,
    int8OverOnebit: ratio(built.int8.bytes.length, onebitBytes),
    fp32OverOnebit: ratio(built.fp32.bytes.length, onebitBytes),
    plainOverSparse: ratio(onebitBytes, sparseBytes),
    peakActivationBytes: instancePlan.peakBytes,
    naiveActivationBytes: instancePlan.naiveBytes,
    peakActivationOverInt8Onnx: ratio(instancePlan.peakBytes, built.int8.bytes.length),
  };
}

function mb(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(2);
}

function printTables(runs: readonly ModelRun[], sizes: readonly ModelSizes[]): void {
  const fmt = (value: number | null) => (value === null ? "-" : String(value));
  console.log(formatTable(
    [
      "model",
      "thr",
      "onebit fps",
      "sparse fps",
      "int8 fps",
      "fp32 fps",
      "x int8",
      "x fp32",
      "x int8 (min)",
    ],
    runs.map((run) => [
      run.model,
      String(run.threads),
      fmt(run.cases.onebit.fps),
      fmt(run.cases.onebit_sparse.fps),
      fmt(run.cases.ort_int8.fps),
      fmt(run.cases.ort_fp32.fps),
      fmt(run.fpsOverInt8),
      fmt(run.fpsOverFp32),
      fmt(run.fpsOverInt8FromMin),
    ]),
  ));
  console.log();
  console.log(formatTable(
    ["model", "onebit MB", "sparse MB", "int8 MB", "fp32 MB", "plain/sparse", "peak act MB"],
    sizes.map((size) => [
      size.model,
      mb(size.onebitBytes),
      mb(size.sparseBytes),
      mb(size.int8OnnxBytes),
      mb(size.fp32OnnxBytes),
      fmt(size.plainOverSparse),
      mb(size.peakActivationBytes),
    ]),
  ));
  console.log();
  for (const run of runs) {
    const top = run.profile.byOp.slice(0, 6).map((entry) =>
      `${entry.op} ${entry.ms} ms (${Math.round(entry.share * 100)}%)`
    );
    console.log(
      `${run.model} ${run.threads}t profile ${run.profile.totalMs} ms: ${top.join(", ")}`,
    );
  }
}

async function main(): Promise<void> {
  const options = parseBenchOptions(Deno.args, {
    name: "bench:models",
    filterFlag: "--models",
    out: new URL("./results/models.json", import.meta.url).pathname,
    rounds: { quick: 5, full: 15 },
    threads: { quick: [1], full: [1, 2] },
  });
  const started = performance.now();
  const loadBefore = loadAverage();
  if (loadBefore !== null && loadBefore > 0.5) {
    console.error(
      `bench:models: load average is ${loadBefore} before the run: other processes share ` +
        "the cores, so results (2-thread ones most) are disturbed",
    );
  }
  const specs = (options.quick ? quickSpecs : allSpecs).filter((spec) =>
    spec.name.includes(options.filter)
  );
  using lib = openKernels();
  const contexts = options.threads.map((threads) => new KernelContext(lib, { threads }));
  const runs: ModelRun[] = [];
  const sizes: ModelSizes[] = [];
  try {
    for (const spec of specs) {
      const built = buildAll(spec);
      sizes.push(sizesOf(built));
      for (const ctx of contexts) {
        const run = await runModel(built, ctx, options.rounds);
        runs.push(run);
        console.error(
          `${run.model} threads ${run.threads}: onebit ${run.cases.onebit.medianMs} ms, ` +
            `sparse ${run.cases.onebit_sparse.medianMs} ms, int8 ${run.cases.ort_int8.medianMs} ` +
            `ms, fp32 ${run.cases.ort_fp32.medianMs} ms`,
        );
      }
    }
  } finally {
    for (const ctx of contexts) ctx.destroy();
  }

  const int8Ratios = runs.map((run) => run.fpsOverInt8);
  const sizeRatios = sizes.map((size) => size.plainOverSparse);
  const goals = [
    {
      goal: "onebit >= 2.4x ORT int8 FPS on every model and thread count",
      met: int8Ratios.length === 0 || int8Ratios.includes(null)
        ? null
        : int8Ratios.every((value) => value! >= 2.4),
      detail: runs.map((run) => `${run.model} ${run.threads}t ${run.fpsOverInt8}x`).join(", "),
    },
    {
      goal: "sparse (codebook, tau 5) >= 1.8x smaller than the plain binary model",
      met: sizeRatios.length === 0 || sizeRatios.includes(null)
        ? null
        : sizeRatios.every((value) => value! >= 1.8),
      detail: sizes.map((size) => `${size.model} ${size.plainOverSparse}x`).join(", "),
    },
  ];

  const report = {
    meta: {
      date: new Date().toISOString(),
      cpu: cpuModel(),
      cpuHasVnni: cpuHasVnni() ?? null,
      libraryLevel: lib.level,
      deno: Deno.version.deno,
      onnxruntime: ORT_VERSION,
      quick: options.quick,
      rounds: options.rounds,
      threads: options.threads,
      loadAverage1mBefore: loadBefore,
      loadAverage1mAfter: loadAverage(),
      seconds: round((performance.now() - started) / 1000, 3),
      method: "median and min of interleaved rounds (bench/lib/timing.ts); FPS = 1000 / " +
        "median ms; ratios from medians; profile = mean of separate profiled runs",
    },
    sizes,
    runs,
    goals,
  };
  await writeJsonReport(options.out, report);

  printTables(runs, sizes);
  for (const goal of goals) {
    console.log(
      `${goal.met === null ? "n/a " : goal.met ? "MET " : "MISS"}  ${goal.goal}: ${goal.detail}`,
    );
  }
  console.log(`report: ${options.out}`);

  const models: Record<string, Record<string, number | string | null>> = {};
  for (const size of sizes) {
    models[size.model] = {
      input: size.input,
      plain_over_sparse_size: size.plainOverSparse,
      int8_onnx_over_onebit_size: size.int8OverOnebit,
      peak_activation_bytes: size.peakActivationBytes,
      int8_onnx_bytes: size.int8OnnxBytes,
    };
  }
  for (const run of runs) {
    const entry = models[run.model];
    entry[`fps_${run.threads}t`] = run.cases.onebit.fps;
    entry[`fps_over_int8_${run.threads}t`] = run.fpsOverInt8;
    entry[`fps_over_fp32_${run.threads}t`] = run.fpsOverFp32;
    entry[`fps_over_int8_${run.threads}t_min`] = run.fpsOverInt8FromMin;
    entry[`sparse_fps_over_int8_${run.threads}t`] = run.sparseFpsOverInt8;
    entry[`top_op_${run.threads}t`] = run.profile.byOp[0]?.op ?? null;
  }
  console.log(JSON.stringify({
    bench: "models",
    quick: options.quick,
    models,
    goals: Object.fromEntries(goals.map((goal) => [goal.goal, goal.met])),
  }));
}

if (import.meta.main) await main();
