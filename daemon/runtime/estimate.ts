/**
 * `onebit model estimate FILE --accelerator systolic:RxC`: the BiNeal paper's claim that a
 * BNN needs 2.8-7x fewer cycles than 8-bit on a systolic-array accelerator, made checkable.
 * An analytic cycle model of a weight-stationary R x C array, run twice over the same graph:
 * once as the onebit model is (binary layers on 1-bit PEs, 8-bit layers on 8-bit PEs) and
 * once as its 8-bit twin (every conv 8-bit, every activation a byte). Per layer and in total.
 *
 * ## Assumptions (every number below is an option with this default)
 *
 * - **Two arrays of the same R x C size.** An 8-bit PE does one 8x8-bit MAC per cycle. A
 *   1-bit PE does `binaryLanes` (P, default 64) xnor-popcount MACs per cycle: a P-bit xnor,
 *   a popcount tree and an accumulator add. Area argument for P = 64: an 8-bit MAC is an
 *   8x8 multiplier (~64 AND gates + ~56 full adders) plus a ~24-bit accumulator adder, about
 *   80 full adders and 64 gates; a 64-lane 1-bit PE is 64 XNOR gates, a 64-input popcount
 *   (~57 full adders) and a ~16-bit accumulator adder, about 73 full adders and 64 gates. So
 *   one 64-lane binary PE costs about one 8-bit PE, and the same R x C area gives 64x the
 *   MACs per cycle. (It holds 64 weight bits instead of 8; with that register cost counted,
 *   P = 32 is the conservative choice, which the option allows.)
 * - **Layers as GEMMs, weight-stationary.** A conv is `M x K` by `K x O` with `M = N*outH*outW`
 *   output pixels, `K = kh*kw*C` and `O` output channels (`bdense`: `M = N`, `K = C`). The
 *   weights of one tile (R rows of the K dimension, P bits each on the binary array, times C
 *   columns of O) sit in the PEs while the M input vectors stream through:
 *   `tiles = ceil(K / (R*P)) * ceil(O / C)` (P = 1 on the 8-bit array) and
 *   `compute = R + tiles * (max(M, R) + R + C - 2)` cycles: the first tile's weights load
 *   in R cycles (later loads are double-buffered behind the previous tile's stream, which
 *   takes at least R cycles), each tile streams M vectors, and fills and drains the
 *   pipeline (R - 1 + C - 1 cycles). Partial sums across K tiles stay in the accumulators at
 *   the array's edge.
 * - **Data movement.** On-chip SRAM moves `sramBytesPerCycle` (B, default 128) bytes per
 *   cycle, DRAM `dramBytesPerCycle` (D, default 16: ~16 GB/s at 1 GHz, an LPDDR4x edge SoC)
 *   and the SRAM holds `sramBytes` (default 2 MiB). Per layer, SRAM traffic is the input
 *   read once per column tile (`ceil(O/C)` times; the feeder's line buffers supply the
 *   overlapping windows), the residual, the output, the weights and 8 bytes per output
 *   channel of transform parameters (threshold or scale and bias). DRAM traffic is the
 *   weights and those parameters (read once per inference, never cached across layers)
 *   plus either all of the layer's activations, when inputs and output together do not fit
 *   in half of the SRAM (the other half holds weights and double buffers), or else only the
 *   graph inputs it reads and the graph output it writes. `movement = max(sram / B, dram / D)`.
 * - **Overlap.** Movement overlaps compute (double buffering), so a layer takes
 *   `max(compute, movement)` cycles and the total is the sum over layers (layers do not
 *   overlap each other).
 * - **Sizes.** On the onebit path a `bits` activation is 1 bit per value and binary weights
 *   1 bit each; a codebook conv reads its indices (tau bits each) and codebook from memory
 *   and expands them on chip. u8/i8 values (including the INT4 branches of a BiNeal join,
 *   kept in bytes) are 1 byte, i32/f32 4 bytes. The 8-bit twin stores every `bits`
 *   activation and every weight in 1 byte and keeps the rest.
 * - **Output stage.** A `binarize`, `quantize` or `sigmoid` whose input comes from an array
 *   layer (and nothing else reads that input) is applied by the array's output stage, as
 *   thresholds and requantization are: it costs no cycles of its own and the array layer
 *   writes its output instead (unit `fused`). Both models fuse alike.
 * - **Other ops** (pools, upsampling, concat, unfused element-wise ops, joins, softmax...)
 *   run on a vector unit beside the array at SRAM bandwidth: `max(sram / B, dram / D)` with
 *   SRAM traffic = inputs + output. The 8-bit twin has no `binarize` (its activations are
 *   already bytes): that op costs it nothing.
 * - **First and last layers.** `qconv2d` layers run on the 8-bit array in both models, as
 *   the paper keeps them 8-bit.
 *
 * @example
 * ```ts
 * import { estimateSystolic } from "./estimate.ts";
 * import { loadModel } from "./model_file.ts";
 * import { buildBinealResNet18 } from "./zoo.ts";
 * const model = loadModel(buildBinealResNet18({ inputSize: 64 }).bytes);
 * const estimate = estimateSystolic(model, { rows: 32, cols: 32 });
 * console.log(estimate.totals.ratio); // 8-bit cycles / onebit cycles
 * ```
 *
 * @module
 */

import type { Activation, Graph, OpNode, OpType } from "./graph.ts";
import { type Model, readModel } from "./model_file.ts";
import { formatCount } from "./inspect.ts";

/** Parameters of the systolic-array model (see the module doc). */
export interface SystolicOptions {
  /** PE rows R (the K dimension), 1..4096. */
  rows: number;
  /** PE columns C (output channels), 1..4096. */
  cols: number;
  /** xnor-popcount MACs per cycle of a 1-bit PE (P). Default 64. */
  binaryLanes?: number;
  /** On-chip SRAM bandwidth in bytes per cycle (B). Default 128. */
  sramBytesPerCycle?: number;
  /** DRAM bandwidth in bytes per cycle (D). Default 16. */
  dramBytesPerCycle?: number;
  /** On-chip SRAM capacity in bytes. Default 2 MiB. */
  sramBytes?: number;
}

/**
 * Where a layer runs: the 1-bit array, the 8-bit array, the vector unit, or nowhere of its own
 * (`fused`: folded into the output stage of the array layer before it, or a `binarize`,
 * which the 8-bit twin does not have).
 */
export type SystolicUnit = "binary" | "int8" | "vector" | "fused";

/** What bounds a layer's cycles. */
export type SystolicBound = "compute" | "sram" | "dram";

/** One layer on one unit. */
export interface UnitEstimate {
  /** The unit the layer runs on. */
  unit: SystolicUnit;
  /** Weight tiles (0 on the vector unit). */
  tiles: number;
  /** Array cycles of the tiles, fill and drain included (0 on the vector unit). */
  computeCycles: number;
  /** Bytes moved to and from on-chip SRAM. */
  sramBytes: number;
  /** Bytes moved to and from DRAM. */
  dramBytes: number;
  /** `max(ceil(sramBytes / B), ceil(dramBytes / D))`. */
  movementCycles: number;
  /** `max(computeCycles, movementCycles)`. */
  cycles: number;
  /** Which term is the max. */
  bound: SystolicBound;
  /** MACs / (computeCycles * MACs per cycle of the array), 0..1 (0 on the vector unit). */
  utilization: number;
}

/** One layer (op) of the model on both accelerators. */
export interface LayerEstimate {
  /** Op name. */
  name: string;
  /** Op type. */
  op: OpType;
  /** GEMM dimensions of array layers; absent for vector ops. */
  gemm?: { m: number; k: number; o: number };
  /** MACs of array layers (0 for vector ops). */
  macs: number;
  /** The onebit model's layer. */
  onebit: UnitEstimate;
  /** The 8-bit twin's layer. */
  int8: UnitEstimate;
  /** `int8.cycles / onebit.cycles`. */
  ratio: number;
}

/** The estimate of a whole model. */
export interface SystolicEstimate {
  /** The accelerator, every option resolved. */
  accelerator: Required<SystolicOptions>;
  /** Every op in graph order. */
  layers: LayerEstimate[];
  /** Sums over the layers. */
  totals: {
    /** Cycles of the onebit model. */
    onebitCycles: number;
    /** Cycles of the 8-bit twin. */
    int8Cycles: number;
    /** `int8Cycles / onebitCycles`: how many times fewer cycles the BNN needs. */
    ratio: number;
    /** Cycles of the onebit model in layers run on the binary array. */
    onebitBinaryCycles: number;
    /** Cycles of the onebit model in layers run on the 8-bit array (first and last). */
    onebitInt8Cycles: number;
    /** Cycles of the onebit model on the vector unit. */
    onebitVectorCycles: number;
    /** DRAM bytes of the onebit model. */
    onebitDramBytes: number;
    /** DRAM bytes of the 8-bit twin. */
    int8DramBytes: number;
  };
}

/** What the estimate needs of a model (a loaded {@linkcode Model} has it). */
export type EstimableModel = Pick<Model, "graph" | "activations">;

const DEFAULTS = {
  binaryLanes: 64,
  sramBytesPerCycle: 128,
  dramBytesPerCycle: 16,
  sramBytes: 2 * 2 ** 20,
};

function resolveOptions(options: SystolicOptions): Required<SystolicOptions> {
  const resolved = { ...DEFAULTS, ...options };
  const positiveInt = (key: keyof SystolicOptions, max: number) => {
    const value = resolved[key];
    if (!Number.isInteger(value) || value < 1 || value > max) {
      throw new RangeError(`systolic estimate: ${key} is ${value}, expected an integer 1..${max}`);
    }
  };
  positiveInt("rows", 4096);
  positiveInt("cols", 4096);
  positiveInt("binaryLanes", 4096);
  for (const key of ["sramBytesPerCycle", "dramBytesPerCycle", "sramBytes"] as const) {
    const value = resolved[key];
    if (!Number.isFinite(value) || value <= 0) {
      throw new RangeError(`systolic estimate: ${key} is ${value}, expected a number > 0`);
    }
  }
  return resolved;
}

/** Bytes of an activation on the onebit path (`twin` false) or the 8-bit twin. */
function bytesOf(activation: Activation, twin: boolean): number {
  const elements = activation.shape.reduce((a, b) => a * b, 1);
  switch (activation.dtype) {
    case "bits":
      return twin ? elements : Math.ceil(elements / 8);
    case "u8":
    case "i8":
      return elements;
    case "i32":
    case "f32":
      return elements * 4;
  }
}

/** The GEMM of an array op; undefined for vector ops. */
function gemmOf(
  op: OpNode,
  input: Activation,
  output: Activation,
): { m: number; k: number; o: number } | undefined {
  const [n, h, w, o] = output.shape;
  const c = input.shape[3];
  switch (op.op) {
    case "bconv2d":
    case "codebook_conv2d":
    case "qconv2d": {
      const [kh, kw] = op.attrs.kernel;
      return { m: n * h * w, k: kh * kw * c, o };
    }
    case "bdense":
      return { m: n, k: c, o };
    default:
      return undefined;
  }
}

/** Weight bytes of an array op on the onebit path (`twin` false) or the 8-bit twin. */
function weightBytes(op: OpNode, gemm: { k: number; o: number }, c: number, twin: boolean): number {
  if (twin || op.op === "qconv2d") return gemm.k * gemm.o;
  if (op.op === "codebook_conv2d") {
    const [kh, kw] = op.attrs.kernel;
    const tau = op.attrs.tau;
    return Math.ceil((gemm.o * c * tau + 2 ** tau * kh * kw) / 8);
  }
  return Math.ceil((gemm.k * gemm.o) / 8);
}

interface Traffic {
  /** Bytes of the primary input, re-read per column tile. */
  input: number;
  /** Bytes of the other inputs (residual, concat partners), read once. */
  others: number;
  /** Bytes of the output. */
  output: number;
  /** Bytes of graph inputs read and graph outputs written. */
  io: number;
}

function movement(
  accelerator: Required<SystolicOptions>,
  traffic: Traffic,
  parts: { columnTiles: number; weights: number },
): { sramBytes: number; dramBytes: number; movementCycles: number } {
  const activations = traffic.input + traffic.others + traffic.output;
  const spill = activations > accelerator.sramBytes / 2 ? activations : 0;
  const sramBytes = parts.columnTiles * traffic.input + traffic.others + traffic.output +
    parts.weights;
  const dramBytes = parts.weights + Math.max(spill, traffic.io);
  const movementCycles = Math.max(
    Math.ceil(sramBytes / accelerator.sramBytesPerCycle),
    Math.ceil(dramBytes / accelerator.dramBytesPerCycle),
  );
  return { sramBytes, dramBytes, movementCycles };
}

function finish(
  accelerator: Required<SystolicOptions>,
  unit: SystolicUnit,
  parts: {
    tiles: number;
    computeCycles: number;
    macs: number;
    lanes: number;
    sramBytes: number;
    dramBytes: number;
    movementCycles: number;
  },
): UnitEstimate {
  const { computeCycles, movementCycles, sramBytes, dramBytes } = parts;
  const cycles = Math.max(computeCycles, movementCycles);
  let bound: SystolicBound = "compute";
  if (movementCycles > computeCycles) {
    bound = Math.ceil(sramBytes / accelerator.sramBytesPerCycle) >=
        Math.ceil(dramBytes / accelerator.dramBytesPerCycle)
      ? "sram"
      : "dram";
  }
  const peak = accelerator.rows * accelerator.cols * parts.lanes;
  return {
    unit,
    tiles: parts.tiles,
    computeCycles,
    sramBytes,
    dramBytes,
    movementCycles,
    cycles,
    bound,
    utilization: computeCycles === 0 ? 0 : parts.macs / (computeCycles * peak),
  };
}

/** What every layer's estimate reads: the accelerator, the model and the fusions. */
interface EstimateContext {
  accelerator: Required<SystolicOptions>;
  activations: ReadonlyMap<string, Activation>;
  graph: Graph;
  graphInputs: ReadonlySet<string>;
  graphOutputs: ReadonlySet<string>;
  /** Element-wise ops folded into the array layer that produces their input. */
  fused: ReadonlySet<string>;
  /** Array layer name → the activation it writes when an element-wise op is fused into it. */
  writes: ReadonlyMap<string, string>;
}

const NOTHING = {
  tiles: 0,
  computeCycles: 0,
  macs: 0,
  lanes: 1,
  sramBytes: 0,
  dramBytes: 0,
  movementCycles: 0,
};

/** One op on one accelerator; `twin` selects the 8-bit twin. */
function unitEstimate(context: EstimateContext, op: OpNode, twin: boolean): UnitEstimate {
  const { accelerator, activations } = context;
  if (context.fused.has(op.name) || (twin && op.op === "binarize")) {
    return finish(accelerator, "fused", NOTHING);
  }
  const inputs = op.inputs.map((name) => activations.get(name)!);
  const written = context.writes.get(op.name) ?? op.outputs[0];
  const output = activations.get(written)!;
  let io = op.inputs.reduce(
    (sum, name, index) => sum + (context.graphInputs.has(name) ? bytesOf(inputs[index], twin) : 0),
    0,
  );
  if (context.graphOutputs.has(written)) io += bytesOf(output, twin);
  const traffic: Traffic = {
    input: bytesOf(inputs[0], twin),
    others: inputs.slice(1).reduce((sum, input) => sum + bytesOf(input, twin), 0),
    output: bytesOf(output, twin),
    io,
  };
  const gemm = gemmOf(op, inputs[0], activations.get(op.outputs[0])!);
  if (gemm === undefined) {
    const moved = movement(accelerator, traffic, { columnTiles: 1, weights: 0 });
    return finish(accelerator, "vector", {
      tiles: 0,
      computeCycles: 0,
      macs: 0,
      lanes: 1,
      ...moved,
    });
  }
  const { rows, cols } = accelerator;
  const unit: SystolicUnit = !twin && op.op !== "qconv2d" ? "binary" : "int8";
  const lanes = unit === "binary" ? accelerator.binaryLanes : 1;
  const rowTiles = Math.ceil(gemm.k / (rows * lanes));
  const columnTiles = Math.ceil(gemm.o / cols);
  const tiles = rowTiles * columnTiles;
  const computeCycles = rows + tiles * (Math.max(gemm.m, rows) + rows + cols - 2);
  const weights = weightBytes(op, gemm, inputs[0].shape[3], twin) + 8 * gemm.o;
  const moved = movement(accelerator, traffic, { columnTiles, weights });
  return finish(accelerator, unit, {
    tiles,
    computeCycles,
    macs: gemm.m * gemm.k * gemm.o,
    lanes,
    ...moved,
  });
}

const ARRAY_OPS: ReadonlySet<OpType> = new Set([
  "bconv2d",
  "codebook_conv2d",
  "bdense",
  "qconv2d",
]);
const OUTPUT_STAGE_OPS: ReadonlySet<OpType> = new Set(["binarize", "quantize", "sigmoid"]);

/**
 * The element-wise ops (`binarize`, `quantize`, `sigmoid`) that the output stage of the array
 * layer producing their input applies on the fly, as it applies thresholds and
 * requantization: those whose input comes from an array layer, is read by nothing else and
 * is not a graph output. The array layer then writes the element-wise op's output.
 */
function fusions(graph: Graph): { fused: Set<string>; writes: Map<string, string> } {
  const consumers = new Map<string, number>();
  for (const op of graph.ops) {
    for (const input of op.inputs) consumers.set(input, (consumers.get(input) ?? 0) + 1);
  }
  const producers = new Map(graph.ops.map((op) => [op.outputs[0], op]));
  const fused = new Set<string>();
  const writes = new Map<string, string>();
  for (const op of graph.ops) {
    const producer = producers.get(op.inputs[0]);
    if (
      OUTPUT_STAGE_OPS.has(op.op) && producer !== undefined && ARRAY_OPS.has(producer.op) &&
      consumers.get(op.inputs[0]) === 1 && !graph.outputs.includes(op.inputs[0])
    ) {
      fused.add(op.name);
      writes.set(producer.name, op.outputs[0]);
    }
  }
  return { fused, writes };
}

/**
 * Estimates the cycles of a model on a weight-stationary systolic array of `rows x cols`
 * PEs, as the model is (1-bit PEs for binary layers) and as its 8-bit twin (every conv
 * 8-bit), per layer and in total. Assumptions and defaults: see the module doc. Throws a
 * `RangeError` for options out of range.
 *
 * @example
 * ```ts
 * import { estimateSystolic } from "./estimate.ts";
 * import { loadModel } from "./model_file.ts";
 * import { buildBinealResNet18 } from "./zoo.ts";
 * const estimate = estimateSystolic(loadModel(buildBinealResNet18({ inputSize: 64 }).bytes), {
 *   rows: 16, cols: 16, binaryLanes: 32,
 * });
 * for (const layer of estimate.layers) console.log(layer.name, layer.ratio.toFixed(1));
 * ```
 */
export function estimateSystolic(
  model: EstimableModel,
  options: SystolicOptions,
): SystolicEstimate {
  const context: EstimateContext = {
    accelerator: resolveOptions(options),
    activations: model.activations,
    graph: model.graph,
    graphInputs: new Set(model.graph.inputs.map((input) => input.name)),
    graphOutputs: new Set(model.graph.outputs),
    ...fusions(model.graph),
  };
  const layers = model.graph.ops.map((op): LayerEstimate => {
    const input = model.activations.get(op.inputs[0])!;
    const output = model.activations.get(op.outputs[0])!;
    const gemm = gemmOf(op, input, output);
    const onebit = unitEstimate(context, op, false);
    const int8 = unitEstimate(context, op, true);
    const ratio = onebit.cycles === 0
      ? (int8.cycles === 0 ? 1 : Infinity)
      : int8.cycles / onebit.cycles;
    return {
      name: op.name,
      op: op.op,
      ...(gemm === undefined ? {} : { gemm }),
      macs: gemm === undefined ? 0 : gemm.m * gemm.k * gemm.o,
      onebit,
      int8,
      ratio,
    };
  });
  const accelerator = context.accelerator;
  const sum = (pick: (layer: LayerEstimate) => number) =>
    layers.reduce((total, layer) => total + pick(layer), 0);
  const onUnit = (unit: SystolicUnit) => (layer: LayerEstimate) =>
    layer.onebit.unit === unit ? layer.onebit.cycles : 0;
  const onebitCycles = sum((layer) => layer.onebit.cycles);
  const int8Cycles = sum((layer) => layer.int8.cycles);
  return {
    accelerator,
    layers,
    totals: {
      onebitCycles,
      int8Cycles,
      ratio: int8Cycles / onebitCycles,
      onebitBinaryCycles: sum(onUnit("binary")),
      onebitInt8Cycles: sum(onUnit("int8")),
      onebitVectorCycles: sum(onUnit("vector")),
      onebitDramBytes: sum((layer) => layer.onebit.dramBytes),
      int8DramBytes: sum((layer) => layer.int8.dramBytes),
    },
  };
}

/**
 * Parses an accelerator spec `systolic:RxC` (e.g. `systolic:32x32`) into options. Throws a
 * `RangeError` naming the spec when it is malformed.
 *
 * @example
 * ```ts
 * import { parseAccelerator } from "./estimate.ts";
 * console.log(parseAccelerator("systolic:16x32")); // { rows: 16, cols: 32 }
 * ```
 */
export function parseAccelerator(spec: string): { rows: number; cols: number } {
  const match = /^systolic:(\d{1,4})x(\d{1,4})$/.exec(spec);
  if (match === null) {
    throw new RangeError(`accelerator '${spec}' is not 'systolic:RxC', e.g. 'systolic:32x32'`);
  }
  const rows = Number(match[1]);
  const cols = Number(match[2]);
  if (rows < 1 || cols < 1) {
    throw new RangeError(`accelerator '${spec}' has a zero dimension`);
  }
  return { rows, cols };
}

/**
 * Reads a model file and estimates it on the accelerator `spec` (`systolic:RxC`); `options`
 * override the other defaults of {@linkcode SystolicOptions}.
 *
 * @example
 * ```ts ignore
 * import { estimateFile, formatEstimate } from "./estimate.ts";
 * console.log(formatEstimate(await estimateFile("resnet18.onebit", "systolic:32x32")));
 * ```
 */
export async function estimateFile(
  path: string | URL,
  spec: string,
  options: Omit<SystolicOptions, "rows" | "cols"> = {},
): Promise<SystolicEstimate> {
  const accelerator = parseAccelerator(spec);
  return estimateSystolic(await readModel(path), { ...options, ...accelerator });
}

function pad(rows: string[][], right: Set<number>): string {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row) =>
    row.map((cell, column) =>
      right.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column])
    ).join("  ").trimEnd()
  ).join("\n");
}

/**
 * The estimate as a text table: per layer the unit, cycles and bound of both models and the
 * ratio, then the totals and the accelerator's parameters.
 *
 * @example
 * ```ts ignore
 * import { estimateFile, formatEstimate } from "./estimate.ts";
 * console.log(formatEstimate(await estimateFile("resnet18.onebit", "systolic:32x32")));
 * ```
 */
export function formatEstimate(estimate: SystolicEstimate): string {
  const { accelerator: a, totals } = estimate;
  const header = [
    "layer",
    "type",
    "onebit unit",
    "cycles",
    "bound",
    "util",
    "8-bit cycles",
    "bound",
    "util",
    "ratio",
  ];
  const rows = estimate.layers.map((layer) => [
    layer.name,
    layer.op,
    layer.onebit.unit,
    formatCount(layer.onebit.cycles),
    layer.onebit.cycles === 0 ? "" : layer.onebit.bound,
    layer.onebit.computeCycles === 0 ? "" : `${(layer.onebit.utilization * 100).toFixed(0)}%`,
    formatCount(layer.int8.cycles),
    layer.int8.cycles === 0 ? "" : layer.int8.bound,
    layer.int8.computeCycles === 0 ? "" : `${(layer.int8.utilization * 100).toFixed(0)}%`,
    `${layer.ratio.toFixed(2)}x`,
  ]);
  return [
    `systolic ${a.rows}x${a.cols}: 1-bit PEs with ${a.binaryLanes} xnor-popcount lanes, ` +
    `8-bit PEs with 1 MAC; SRAM ${a.sramBytesPerCycle} B/cycle, ${a.sramBytes} B; ` +
    `DRAM ${a.dramBytesPerCycle} B/cycle`,
    "",
    pad([header, ...rows], new Set([3, 5, 6, 8, 9])),
    "",
    `onebit  ${formatCount(totals.onebitCycles)} cycles (binary array ${
      formatCount(totals.onebitBinaryCycles)
    }, 8-bit array ${formatCount(totals.onebitInt8Cycles)}, vector ${
      formatCount(totals.onebitVectorCycles)
    }), DRAM ${formatCount(totals.onebitDramBytes)} B`,
    `8-bit   ${formatCount(totals.int8Cycles)} cycles, DRAM ${formatCount(totals.int8DramBytes)} B`,
    `ratio   ${totals.ratio.toFixed(2)}x fewer cycles for the BNN (paper: 2.8-7x)`,
  ].join("\n");
}
