/**
 * Kernel benchmark (`deno task bench:kernels [--quick]`): the convolutions of ResNet-18's
 * stages run side by side, with 1 and 2 threads, by
 *
 *   - `binary`:    onebit's binary conv (`daemon/kernels/bconv.ts`, binary output transform),
 *   - `ort_int8`:  ONNX Runtime QLinearConv, u8 activations x s8 per-channel weights,
 *   - `ort_fp32`:  ONNX Runtime fp32 Conv,
 *   - `int8`:      onebit's own int8 conv (`daemon/kernels/qconv.ts`, bit-exact with ORT's),
 *   - `roofline`:  the register-only xor + popcount + add loop (`daemon/kernels/roofline.ts`),
 *
 * interleaved per shape and thread count so machine noise hits them alike (bench/lib/timing.ts).
 * Shapes, per stage (channels c @ size s): 3x3 stride 1 pad 1 (c -> c, s x s), its stride-2
 * variant (c -> c, input s x s, pad 1, output ceil(s/2)), and 1x1 stride 1 (c -> c, s x s).
 * A MAC is one multiply-accumulate of the convolution (binary MACs for `binary`); the roofline
 * counts 64 binary MACs per word op.
 *
 * Writes bench/results/kernels.json and prints, as its last line, one JSON object with the
 * per-shape ratios and the goals (DESIGN.md section 8): single-thread binary >= 5x ORT int8
 * on every 3x3 shape; >= 60% of the roofline on the 256/512-channel shapes; binary with
 * 2 threads >= 1.8x binary with 1 thread. Goals are reported, never asserted.
 *
 * Flags: --quick (a subset of shapes, fewer rounds; under 60 s), --rounds=N, --threads=1,2,
 * --shapes=<substring>, --out=<path>.
 *
 * @module
 */

import { BinaryConv2d } from "../daemon/kernels/bconv.ts";
import { alignedArray } from "../daemon/kernels/buffers.ts";
import { KernelContext, type KernelLibrary, openKernels } from "../daemon/kernels/library.ts";
import {
  packQconvWeights,
  qconv2d,
  qconvOutputLength,
  requantScales,
} from "../daemon/kernels/qconv.ts";
import { BINARY_MACS_PER_WORD_OP, runRoofline } from "../daemon/kernels/roofline.ts";
import { outH, outW, type Window2d, wordsFor } from "../daemon/kernels/shape.ts";
import { convModel, GraphBuilder, qlinearConvModel } from "../daemon/onnx/model_writer.ts";
import { cpuHasVnni, createSession, ORT_VERSION, type TensorValue } from "../daemon/onnx/ort.ts";
import { randomFloats, randomInts, seededRandom } from "../daemon/onnx/test_data.ts";
import { cpuModel, loadAverage, parseBenchOptions } from "./lib/options.ts";
import { formatTable, round, writeJsonReport } from "./lib/report.ts";
import { type BenchCase, type CaseTiming, timeInterleaved } from "./lib/timing.ts";

/** One convolution problem of the benchmark. */
interface ConvProblem {
  /** e.g. `"3x3s1 64@56"`. */
  name: string;
  /** `"3x3s1"`, `"3x3s2"` or `"1x1"`. */
  kind: string;
  shape: Window2d;
  /** Multiply-accumulates of one call. */
  macs: number;
}

/** A prepared implementation: one call per `run`, resources freed by `dispose`. */
interface Prepared {
  run: () => void | Promise<void>;
  dispose: () => void | Promise<void>;
  /** Pause after each sample while the implementation's threads stop spinning. */
  settleAfterMs?: number;
}

/** Everything an implementation may use, per thread count. */
interface Environment {
  lib: KernelLibrary;
  ctx: KernelContext;
  threads: number;
}

/**
 * An implementation of a conv problem. Adding one to the benchmark (e.g. onebit's int8 conv)
 * is adding one entry to `implementations`.
 */
interface Implementation {
  name: string;
  prepare: (problem: ConvProblem, env: Environment) => Promise<Prepared>;
}

const stages: readonly [channels: number, size: number][] = [[64, 56], [128, 28], [256, 14], [
  512,
  7,
]];

function convProblem(kind: string, channels: number, size: number): ConvProblem {
  const kernel = kind === "1x1" ? 1 : 3;
  const stride = kind === "3x3s2" ? 2 : 1;
  const pad = kernel === 3 ? 1 : 0;
  const shape: Window2d = {
    batch: 1,
    inH: size,
    inW: size,
    inC: channels,
    outC: channels,
    kernelH: kernel,
    kernelW: kernel,
    strideH: stride,
    strideW: stride,
    padTop: pad,
    padBottom: pad,
    padLeft: pad,
    padRight: pad,
  };
  const macs = outH(shape) * outW(shape) * channels * channels * kernel * kernel;
  return { name: `${kind} ${channels}@${size}`, kind, shape, macs };
}

function allProblems(): ConvProblem[] {
  return ["3x3s1", "3x3s2", "1x1"].flatMap((kind) =>
    stages.map(([channels, size]) => convProblem(kind, channels, size))
  );
}

/** --quick: every 3x3 stride-1 shape (the goals' subject) plus one stride-2 and one 1x1. */
const quickProblems = new Set([
  "3x3s1 64@56",
  "3x3s1 128@28",
  "3x3s1 256@14",
  "3x3s1 512@7",
  "3x3s2 128@28",
  "1x1 256@14",
]);

function randomWords(length: number, seed: number): BigUint64Array {
  const words = alignedArray("u64", length);
  const halves = new Uint32Array(words.buffer, words.byteOffset, length * 2);
  const random = seededRandom(seed);
  for (let index = 0; index < halves.length; index++) halves[index] = random() * 2 ** 32;
  return words;
}

const binary: Implementation = {
  name: "binary",
  prepare: (problem, env) => {
    const { shape } = problem;
    // inC is a multiple of 64 for every benchmark shape, so no tail bits need clearing.
    const weights = randomWords(
      shape.outC * shape.kernelH * shape.kernelW * wordsFor(shape.inC),
      1,
    );
    const conv = new BinaryConv2d(env.ctx, {
      shape,
      transform: { kind: "binary", thresholds: new Int32Array(shape.outC) },
    }, weights);
    const input = randomWords(conv.inputWords, 2);
    const output = alignedArray("u8", conv.outputBytes);
    return Promise.resolve({ run: () => conv.run(input, output), dispose: () => {} });
  },
};

function nchwDims(shape: Window2d): number[] {
  return [shape.batch, shape.inC, shape.inH, shape.inW];
}

async function ortPrepared(
  model: Uint8Array,
  feed: TensorValue,
  threads: number,
): Promise<Prepared> {
  const session = await createSession(model, { threads });
  return {
    run: async () => {
      await session.run({ x: feed });
    },
    dispose: () => session.dispose(),
    // ONNX Runtime's intra-op threads spin for about 40 ms after a run (measured with
    // /proc/self/task/*/schedstat); a 2-thread onebit run in that window would share its
    // second core with a spinning thread.
    settleAfterMs: threads > 1 ? ortSpinSettleMs : 0,
  };
}

const ortInt8: Implementation = {
  name: "ort_int8",
  prepare: (problem, env) => {
    const { shape } = problem;
    const random = seededRandom(3);
    const taps = shape.inC * shape.kernelH * shape.kernelW;
    const model = qlinearConvModel(shape, {
      weights: randomInts(Int8Array, shape.outC * taps, { random }),
      weightScales: randomFloats(shape.outC, { random, min: 0.002, max: 0.02 }),
      bias: randomInts(Int32Array, shape.outC, { random, min: -1000, max: 1000 }),
      xScale: 0.02,
      xZeroPoint: 128,
      yScale: 0.05 * Math.sqrt(taps),
      yZeroPoint: 128,
    });
    const data = randomInts(Uint8Array, shape.inC * shape.inH * shape.inW, { random });
    return ortPrepared(model, { type: "uint8", data, dims: nchwDims(shape) }, env.threads);
  },
};

const ortFp32: Implementation = {
  name: "ort_fp32",
  prepare: (problem, env) => {
    const { shape } = problem;
    const random = seededRandom(4);
    const model = convModel(shape, {
      weights: randomFloats(shape.outC * shape.inC * shape.kernelH * shape.kernelW, { random }),
      bias: randomFloats(shape.outC, { random }),
    });
    const data = randomFloats(shape.inC * shape.inH * shape.inW, { random });
    return ortPrepared(model, { type: "float32", data, dims: nchwDims(shape) }, env.threads);
  },
};

const int8: Implementation = {
  name: "int8",
  prepare: (problem, env) => {
    const { shape } = problem;
    const random = seededRandom(3);
    const taps = shape.inC * shape.kernelH * shape.kernelW;
    const packedWeights = packQconvWeights(
      env.ctx,
      shape,
      randomInts(Int8Array, shape.outC * taps, { random }),
    );
    const input = alignedArray("u8", shape.inC * shape.inH * shape.inW);
    input.set(randomInts(Uint8Array, input.length, { random }));
    const output = alignedArray("u8", qconvOutputLength(shape));
    const scale = requantScales(0.02, 0.01, 0.05 * Math.sqrt(taps), shape.outC);
    const args = { input, packedWeights, scale, xZeroPoint: 128, yZeroPoint: 128, output };
    return Promise.resolve({ run: () => qconv2d(env.ctx, shape, args), dispose: () => {} });
  },
};

const implementations: readonly Implementation[] = [binary, ortInt8, ortFp32, int8];

/**
 * Pause before every sample: onebit's pool threads spin for 2 ms after a call before they
 * sleep (kernels/src/ctx.zig); with 2 cores, a spinning thread of the previous case would
 * steal a core from a 2-thread run of the next one.
 */
const settleMs = 3;

/**
 * Priming before every sample: long enough for a sleeping pool thread to wake (a halted vCPU
 * took milliseconds here), so a sample measures calls that follow each other, as a model's
 * ops do.
 */
const primeMs = 3;

/** How every case of a shape is sampled (bench/lib/timing.ts), besides the rounds. */
const timingOptions = { warmupCalls: 2, sampleMs: 3, settleMs, primeCalls: 1, primeMs } as const;

/** Pause after a sample of a multi-threaded ONNX Runtime session (it spins ~40 ms). */
const ortSpinSettleMs = 60;

/** Roofline iterations per call: about half a millisecond on one AVX-512 core. */
const rooflineIterations = 200_000;

/** Mean time of one call of a trivial ONNX Runtime model: the per-run overhead of the binding. */
async function ortCallOverheadMs(rounds: number): Promise<number> {
  const graph = new GraphBuilder();
  graph.output(graph.relu(graph.input("x", "float32", [1])), "float32", [1]);
  const prepared = await ortPrepared(graph.encode(), {
    type: "float32",
    data: Float32Array.of(1),
    dims: [1],
  }, 1);
  try {
    const [timing] = await timeInterleaved([{ name: "ort_noop", run: prepared.run }], {
      rounds,
      sampleMs: 5,
    });
    return timing.medianMs;
  } finally {
    await prepared.dispose();
  }
}

interface CaseResult {
  medianMs: number | null;
  minMs: number | null;
  /** Billions of MACs per second from the median time (binary MACs for `binary`, `roofline`). */
  gmacsPerSecond: number | null;
  /** The same from the fastest sample. */
  gmacsPerSecondBest: number | null;
  callsPerSample: number;
  /** Per-call time of every sample in round order, milliseconds. */
  samplesMs: (number | null)[];
  error?: string;
}

interface ShapeRun {
  shape: string;
  kind: string;
  threads: number;
  macs: number;
  cases: Record<string, CaseResult>;
  /** ORT int8 median time / binary median time. */
  binaryOverInt8: number | null;
  /** ORT fp32 median time / binary median time. */
  binaryOverFp32: number | null;
  /** Binary MAC rate / roofline binary MAC rate, both from median times. */
  rooflineFraction: number | null;
  /**
   * The same three ratios from the fastest samples: on a loaded machine the minimum is the
   * run least disturbed by other processes.
   */
  fromMin: {
    binaryOverInt8: number | null;
    binaryOverFp32: number | null;
    rooflineFraction: number | null;
  };
}

function caseResult(timing: CaseTiming, macs: number): CaseResult {
  return {
    medianMs: round(timing.medianMs),
    minMs: round(timing.minMs),
    gmacsPerSecond: round(macs / (timing.medianMs / 1000) / 1e9),
    gmacsPerSecondBest: round(macs / (timing.minMs / 1000) / 1e9),
    callsPerSample: timing.callsPerSample,
    samplesMs: timing.samplesMs.map((sample) => round(sample)),
  };
}

function ratio(numerator: number | null | undefined, denominator: number | null | undefined) {
  if (!numerator || !denominator) return null;
  return round(numerator / denominator, 3);
}

async function runShape(
  problem: ConvProblem,
  env: Environment,
  rounds: number,
): Promise<ShapeRun> {
  const cases: BenchCase[] = [];
  const prepared: Prepared[] = [];
  const failures: Record<string, string> = {};
  for (const implementation of implementations) {
    try {
      const ready = await implementation.prepare(problem, env);
      prepared.push(ready);
      cases.push({ name: implementation.name, run: ready.run, settleAfterMs: ready.settleAfterMs });
    } catch (error) {
      failures[implementation.name] = error instanceof Error ? error.message : String(error);
    }
  }
  let rooflineWordOps = 0;
  cases.push({
    name: "roofline",
    run: () => {
      rooflineWordOps = runRoofline(env.ctx, rooflineIterations);
    },
  });
  let timings: CaseTiming[];
  try {
    timings = await timeInterleaved(cases, { rounds, ...timingOptions });
  } finally {
    for (const ready of prepared) await ready.dispose();
  }
  const results: Record<string, CaseResult> = {};
  for (const timing of timings) {
    const macs = timing.name === "roofline"
      ? rooflineWordOps * BINARY_MACS_PER_WORD_OP
      : problem.macs;
    results[timing.name] = caseResult(timing, macs);
  }
  for (const [name, error] of Object.entries(failures)) {
    results[name] = {
      medianMs: null,
      minMs: null,
      gmacsPerSecond: null,
      gmacsPerSecondBest: null,
      callsPerSample: 0,
      samplesMs: [],
      error,
    };
  }
  return {
    shape: problem.name,
    kind: problem.kind,
    threads: env.threads,
    macs: problem.macs,
    cases: results,
    binaryOverInt8: ratio(results.ort_int8?.medianMs, results.binary?.medianMs),
    binaryOverFp32: ratio(results.ort_fp32?.medianMs, results.binary?.medianMs),
    rooflineFraction: ratio(results.binary?.gmacsPerSecond, results.roofline?.gmacsPerSecond),
    fromMin: {
      binaryOverInt8: ratio(results.ort_int8?.minMs, results.binary?.minMs),
      binaryOverFp32: ratio(results.ort_fp32?.minMs, results.binary?.minMs),
      rooflineFraction: ratio(
        results.binary?.gmacsPerSecondBest,
        results.roofline?.gmacsPerSecondBest,
      ),
    },
  };
}

/**
 * The 2-thread goal is about onebit's kernel, so it is measured in a pass of its own: the
 * binary conv with 1 and with 2 threads interleaved, and no ONNX Runtime session in between.
 * Beside ORT the 2-thread samples share a core with ORT's pool threads whenever one still
 * spins past the settle pause; those ratios are kept in the report as `scalingBesideOrt`.
 */
async function runScaling(
  problem: ConvProblem,
  lib: KernelLibrary,
  contexts: readonly KernelContext[],
  rounds: number,
): Promise<CaseTiming[]> {
  const cases: BenchCase[] = [];
  const prepared: Prepared[] = [];
  try {
    for (const ctx of contexts) {
      const ready = await binary.prepare(problem, { lib, ctx, threads: ctx.threads });
      prepared.push(ready);
      cases.push({ name: `binary_${ctx.threads}t`, run: ready.run });
    }
    return await timeInterleaved(cases, { rounds, ...timingOptions });
  } finally {
    for (const ready of prepared) await ready.dispose();
  }
}

interface Goal {
  goal: string;
  met: boolean | null;
  detail: string;
}

function evaluateGoals(runs: readonly ShapeRun[], scaling: Record<string, number | null>): Goal[] {
  const oneThread = runs.filter((run) => run.threads === 1);
  const threeByThree = oneThread.filter((run) => run.kind.startsWith("3x3"));
  const int8Misses = threeByThree.filter((run) => (run.binaryOverInt8 ?? 0) < 5);
  const wide = oneThread.filter((run) => /\b(256|512)@/.test(run.shape));
  const rooflineMisses = wide.filter((run) => (run.rooflineFraction ?? 0) < 0.6);
  const scalings = Object.entries(scaling);
  const scalingMisses = scalings.filter(([, value]) => (value ?? 0) < 1.8);
  const describe = (list: { shape: string; value: number | null }[]) =>
    list.map((item) => `${item.shape} ${item.value ?? "n/a"}`).join(", ");
  return [
    {
      goal: "single-thread binary >= 5x ORT int8 on every 3x3 shape",
      met: threeByThree.length === 0 ? null : int8Misses.length === 0,
      detail: int8Misses.length === 0
        ? `all ${threeByThree.length} shapes`
        : `below 5x: ${
          describe(int8Misses.map((r) => ({ shape: r.shape, value: r.binaryOverInt8 })))
        }`,
    },
    {
      goal: "single-thread binary >= 60% of the roofline on 256/512-channel shapes",
      met: wide.length === 0 ? null : rooflineMisses.length === 0,
      detail: rooflineMisses.length === 0
        ? `all ${wide.length} shapes`
        : `below 0.6: ${
          describe(rooflineMisses.map((r) => ({ shape: r.shape, value: r.rooflineFraction })))
        }`,
    },
    {
      goal: "binary with 2 threads >= 1.8x binary with 1 thread",
      met: scalings.length === 0 ? null : scalingMisses.length === 0,
      detail: scalingMisses.length === 0
        ? `all ${scalings.length} shapes`
        : `below 1.8x: ${describe(scalingMisses.map(([shape, value]) => ({ shape, value })))}`,
    },
  ];
}

function printTable(runs: readonly ShapeRun[]): void {
  const ms = (result: CaseResult | undefined) => result?.medianMs?.toFixed(3) ?? "n/a";
  const rows = runs.map((run) => [
    run.shape,
    String(run.threads),
    ms(run.cases.binary),
    ms(run.cases.ort_int8),
    ms(run.cases.ort_fp32),
    ms(run.cases.int8),
    String(run.cases.binary?.gmacsPerSecond ?? "n/a"),
    String(run.cases.roofline?.gmacsPerSecond ?? "n/a"),
    String(run.binaryOverInt8 ?? "n/a"),
    String(run.binaryOverFp32 ?? "n/a"),
    String(run.rooflineFraction ?? "n/a"),
  ]);
  console.log(formatTable([
    "shape",
    "thr",
    "binary ms",
    "int8 ms",
    "fp32 ms",
    "ob int8 ms",
    "binary GMAC/s",
    "roofline GMAC/s",
    "x int8",
    "x fp32",
    "of roofline",
  ], rows));
}

async function main(): Promise<void> {
  const options = parseBenchOptions(Deno.args, {
    name: "bench:kernels",
    filterFlag: "--shapes",
    out: new URL("./results/kernels.json", import.meta.url).pathname,
    rounds: { quick: 7, full: 25 },
    threads: { quick: [1, 2], full: [1, 2] },
  });
  const started = performance.now();
  const loadBefore = loadAverage();
  if (loadBefore !== null && loadBefore > 0.5) {
    console.error(
      `bench:kernels: load average is ${loadBefore} before the run: other processes share ` +
        "the cores, so 2-thread results (and to a lesser degree all results) are disturbed",
    );
  }
  const problems = allProblems().filter((problem) =>
    (!options.quick || quickProblems.has(problem.name)) && problem.name.includes(options.filter)
  );
  using lib = openKernels();
  const contexts = options.threads.map((threads) => new KernelContext(lib, { threads }));
  const runs: ShapeRun[] = [];
  const scalingRuns: Record<string, CaseTiming[]> = {};
  let overheadMs: number;
  try {
    overheadMs = await ortCallOverheadMs(options.rounds);
    for (const problem of problems) {
      for (const ctx of contexts) {
        const run = await runShape(problem, { lib, ctx, threads: ctx.threads }, options.rounds);
        runs.push(run);
        console.error(
          `${run.shape} threads ${run.threads}: binary ${run.cases.binary?.medianMs} ms, ` +
            `int8 ${run.cases.ort_int8?.medianMs} ms, fp32 ${run.cases.ort_fp32?.medianMs} ms`,
        );
      }
    }
    if (contexts.length === 2) {
      for (const problem of problems) {
        scalingRuns[problem.name] = await runScaling(problem, lib, contexts, options.rounds);
      }
    }
  } finally {
    for (const ctx of contexts) ctx.destroy();
  }

  const scaling: Record<string, number | null> = {};
  const scalingFromMin: Record<string, number | null> = {};
  const scalingBesideOrt: Record<string, number | null> = {};
  for (const problem of problems) {
    const single = runs.find((run) => run.shape === problem.name && run.threads === 1);
    const double = runs.find((run) => run.shape === problem.name && run.threads === 2);
    if (single && double) {
      scalingBesideOrt[problem.name] = ratio(
        single.cases.binary?.medianMs,
        double.cases.binary?.medianMs,
      );
    }
    const pass = scalingRuns[problem.name];
    if (pass) {
      scaling[problem.name] = ratio(pass[0].medianMs, pass[1].medianMs);
      scalingFromMin[problem.name] = ratio(pass[0].minMs, pass[1].minMs);
    }
  }
  const goals = evaluateGoals(runs, scaling);
  const rooflineByThreads: Record<string, number | null> = {};
  for (const threads of options.threads) {
    const rates = runs.filter((run) => run.threads === threads)
      .map((run) => run.cases.roofline?.gmacsPerSecondBest ?? 0);
    rooflineByThreads[threads] = rates.length ? round(Math.max(...rates)) : null;
  }

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
      ortCallOverheadMs: round(overheadMs),
      loadAverage1mBefore: loadBefore,
      loadAverage1mAfter: loadAverage(),
      seconds: round((performance.now() - started) / 1000, 3),
      method: "median and min of interleaved rounds (bench/lib/timing.ts); ratios from medians",
    },
    /** The machine's ceiling per thread count: the best roofline sample of the run. */
    rooflineBinaryGmacsPerSecondBest: rooflineByThreads,
    runs,
    scaling2over1: scaling,
    scaling2over1FromMin: scalingFromMin,
    /** The same ratio from the interleaved runs beside ORT (see runScaling). */
    scaling2over1BesideOrt: scalingBesideOrt,
    goals,
  };
  await writeJsonReport(options.out, report);

  printTable(runs);
  console.log(`ONNX Runtime call overhead: ${report.meta.ortCallOverheadMs} ms per run`);
  for (const [threads, rate] of Object.entries(rooflineByThreads)) {
    console.log(`roofline, ${threads} thread(s): best ${rate} binary GMAC/s`);
  }
  for (const goal of goals) {
    console.log(
      `${goal.met === null ? "n/a " : goal.met ? "MET " : "MISS"}  ${goal.goal}: ${goal.detail}`,
    );
  }
  console.log(`report: ${options.out}`);

  const ratios: Record<string, Record<string, number | null>> = {};
  for (const run of runs) {
    const entry = ratios[run.shape] ??= {};
    entry[`binary_over_int8_${run.threads}t`] = run.binaryOverInt8;
    entry[`binary_over_fp32_${run.threads}t`] = run.binaryOverFp32;
    entry[`roofline_fraction_${run.threads}t`] = run.rooflineFraction;
    entry[`binary_over_int8_${run.threads}t_min`] = run.fromMin.binaryOverInt8;
    entry[`roofline_fraction_${run.threads}t_min`] = run.fromMin.rooflineFraction;
  }
  for (const [shape, value] of Object.entries(scaling)) {
    ratios[shape].scaling_2t_over_1t = value;
    ratios[shape].scaling_2t_over_1t_min = scalingFromMin[shape];
    ratios[shape].scaling_2t_over_1t_beside_ort = scalingBesideOrt[shape] ?? null;
  }
  console.log(JSON.stringify({
    bench: "kernels",
    quick: options.quick,
    ratios,
    goals: Object.fromEntries(goals.map((goal) => [goal.goal, goal.met])),
  }));
}

if (import.meta.main) await main();
