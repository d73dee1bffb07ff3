/**
 * `onebit model inspect`: what a model is made of and what it costs, per op and in total —
 * op counts by type, parameters, file size, BOPs, FLOPs, OPs and peak activation memory.
 *
 * How things are counted (the BiNeal paper's and Bi-Real Net's convention):
 * - **BOPs**: 1-bit multiply-accumulates (one xnor + popcount lane) of `bconv2d`, `bdense`
 *   and `codebook_conv2d`: `N * outH * outW * O * kh * kw * C` (C the real input channels,
 *   padding taps included, as the kernels compute them). A codebook conv is counted as its
 *   expanded dense conv; its codeword path (each of the 2^tau codewords applied once per
 *   input channel, `N * outH * outW * C * 2^tau * kh * kw` BOPs, then `N * outH * outW * O *
 *   C` integer adds to gather) is reported beside it as `codebookBops` / `codebookAdds`.
 * - **FLOPs**: 8-bit and float multiply-accumulates, i.e. of `qconv2d`:
 *   `N * outH * outW * O * kh * kw * C`. Output transforms, pools, upsampling, softmax and
 *   the other element-wise ops are not counted (they are O(activations), not O(MACs)).
 * - **OPs** = BOPs / 64 + FLOPs.
 * - **Parameters**: `params` counts weights as the model means them — one per binary weight
 *   (real channels only, not the padded words), one per index and codeword of a codebook, one
 *   per element of every other tensor; `paramBytes` is what the file stores; `paramBits` is
 *   the information content (1 bit per binary weight, tau bits per index, kh*kw bits per
 *   codeword, the dtype's width otherwise), i.e. the size a bit-exact packing would have.
 * - **Peak activation memory**: the arena of the runtime's static memory plan
 *   (`peakActivationBytes` of `memory_plan.ts`).
 *
 * @example
 * ```ts ignore
 * import { formatInspect, inspectFile } from "./inspect.ts";
 * console.log(formatInspect(await inspectFile("resnet18.onebit")));
 * ```
 *
 * @module
 */

import type { Activation, OpNode, OpType } from "./graph.ts";
import { peakActivationBytes } from "./memory_plan.ts";
import { type Model, readModel } from "./model_file.ts";
import { DTYPE_BYTES, type Tensor } from "./safetensors.ts";

/** What one op costs. */
export interface OpInspect {
  /** Op name. */
  name: string;
  /** Op type. */
  op: OpType;
  /** The op's output activation. */
  output: Activation;
  /** Parameters as the model means them (see the module doc). */
  params: number;
  /** Bytes of the op's tensors as stored. */
  paramBytes: number;
  /** Information bits of the op's tensors (see the module doc). */
  paramBits: number;
  /** 1-bit MACs (a codebook conv counted as its dense expansion). */
  bops: number;
  /** 8-bit and float MACs. */
  flops: number;
  /** For a codebook conv: BOPs of the codeword path. Absent otherwise. */
  codebookBops?: number;
  /** For a codebook conv: integer adds of the codeword path's gather. Absent otherwise. */
  codebookAdds?: number;
}

/** Totals over a model. */
export interface InspectTotals {
  /** Number of ops. */
  ops: number;
  /** Parameters as the model means them. */
  params: number;
  /** Bytes of all tensors as stored. */
  paramBytes: number;
  /** Information bits of all tensors. */
  paramBits: number;
  /** 1-bit MACs, codebook convs counted dense. */
  bops: number;
  /** 8-bit and float MACs. */
  flops: number;
  /** BOPs / 64 + FLOPs. */
  opsEquivalent: number;
  /** BOPs with codebook convs counted by their codeword path (equal to `bops` without them). */
  sparseBops: number;
  /** Integer adds of the codeword paths (0 without codebook convs). */
  sparseAdds: number;
}

/** The full inspection of a model. */
export interface InspectReport {
  /** File name the model was loaded as. */
  file: string;
  /** Model name from the metadata. */
  name: string;
  /** Task from the metadata. */
  task: string;
  /** Bytes of the file. */
  fileBytes: number;
  /** Graph inputs with dtype and shape. */
  inputs: { name: string; dtype: Activation["dtype"]; shape: readonly number[] }[];
  /** Graph outputs with dtype and shape. */
  outputs: { name: string; dtype: Activation["dtype"]; shape: readonly number[] }[];
  /** Ops of each type, in first-seen order. */
  opCounts: Record<string, number>;
  /** Every op in graph order. */
  ops: OpInspect[];
  /** Totals. */
  totals: InspectTotals;
  /** Bytes of the activation arena of the runtime's memory plan. */
  peakActivationBytes: number;
}

/** What {@linkcode inspectModel} needs of a model (a loaded {@linkcode Model} has it all). */
export type InspectableModel = Pick<
  Model,
  "file" | "name" | "task" | "fileBytes" | "graph" | "tensors" | "activations"
>;

/** Information bits per element of the tensors that are not as wide as their dtype. */
function roleBits(op: OpNode, role: string): number | undefined {
  if (op.op !== "codebook_conv2d") return undefined;
  // Codewords carry kh*kw bits (indices are counted in tensorCounts).
  if (role === "codebook") return op.attrs.kernel[0] * op.attrs.kernel[1];
  return undefined;
}

/** `params` and `paramBits` of one tensor of `op`, whose first input has `inC` channels. */
function tensorCounts(
  op: OpNode,
  role: string,
  tensor: Tensor,
  inC: number,
): { params: number; bits: number } {
  const elements = tensor.shape.reduce((a, b) => a * b, 1);
  if (op.op === "codebook_conv2d" && role === "indices") {
    // Packed tau-bit indices: one per (out, in) kernel.
    const kernels = op.attrs.out_channels * inC;
    return { params: kernels, bits: kernels * op.attrs.tau };
  }
  if (tensor.dtype === "U64" && role === "weights") {
    // Packed ±1 weights: the last dim counts words, one weight per real input channel.
    const rows = elements / tensor.shape[tensor.shape.length - 1];
    return { params: rows * inC, bits: rows * inC };
  }
  const bitsEach = roleBits(op, role) ?? DTYPE_BYTES[tensor.dtype] * 8;
  return { params: elements, bits: elements * bitsEach };
}

function macs(output: Activation, taps: number): number {
  const [n, h, w, c] = output.shape;
  return n * h * w * c * taps;
}

/** Cost of one op; `input` is its first input activation. */
function inspectOp(model: InspectableModel, op: OpNode): OpInspect {
  const output = model.activations.get(op.outputs[0])!;
  const input = model.activations.get(op.inputs[0])!;
  const inC = input.shape[3];
  let params = 0;
  let paramBytes = 0;
  let paramBits = 0;
  for (const [role, tensorName] of Object.entries(op.params)) {
    const tensor = model.tensors.get(tensorName)!;
    const counts = tensorCounts(op, role, tensor, inC);
    params += counts.params;
    paramBits += counts.bits;
    paramBytes += tensor.data.byteLength;
  }
  const result: OpInspect = {
    name: op.name,
    op: op.op,
    output,
    params,
    paramBytes,
    paramBits,
    bops: 0,
    flops: 0,
  };
  switch (op.op) {
    case "bconv2d":
    case "codebook_conv2d": {
      const [kh, kw] = op.attrs.kernel;
      result.bops = macs(output, kh * kw * inC);
      if (op.op === "codebook_conv2d") {
        const [n, h, w, o] = output.shape;
        result.codebookBops = n * h * w * inC * 2 ** op.attrs.tau * kh * kw;
        result.codebookAdds = n * h * w * o * inC;
      }
      break;
    }
    case "bdense":
      result.bops = macs(output, inC);
      break;
    case "qconv2d": {
      const [kh, kw] = op.attrs.kernel;
      result.flops = macs(output, kh * kw * inC);
      break;
    }
  }
  return result;
}

/**
 * Inspects a loaded model: per-op and total parameters, BOPs, FLOPs, OPs, op counts, file
 * size and peak activation memory (see the module doc for the definitions).
 *
 * @example
 * ```ts
 * import { inspectModel } from "./inspect.ts";
 * import { loadModel } from "./model_file.ts";
 * import { buildBinealResNet18 } from "./zoo.ts";
 * const report = inspectModel(loadModel(buildBinealResNet18({ inputSize: 32 }).bytes));
 * console.log(report.totals.bops, report.totals.flops, report.peakActivationBytes);
 * ```
 */
export function inspectModel(model: InspectableModel): InspectReport {
  const ops = model.graph.ops.map((op) => inspectOp(model, op));
  const opCounts: Record<string, number> = {};
  for (const op of ops) opCounts[op.op] = (opCounts[op.op] ?? 0) + 1;
  const sum = (pick: (op: OpInspect) => number) => ops.reduce((total, op) => total + pick(op), 0);
  const bops = sum((op) => op.bops);
  const flops = sum((op) => op.flops);
  const describe = (name: string) => {
    const { dtype, shape } = model.activations.get(name)!;
    return { name, dtype, shape: [...shape] };
  };
  return {
    file: model.file,
    name: model.name,
    task: model.task,
    fileBytes: model.fileBytes,
    inputs: model.graph.inputs.map((input) => describe(input.name)),
    outputs: model.graph.outputs.map(describe),
    opCounts,
    ops,
    totals: {
      ops: ops.length,
      params: sum((op) => op.params),
      paramBytes: sum((op) => op.paramBytes),
      paramBits: sum((op) => op.paramBits),
      bops,
      flops,
      opsEquivalent: bops / 64 + flops,
      sparseBops: sum((op) => op.codebookBops ?? op.bops),
      sparseAdds: sum((op) => op.codebookAdds ?? 0),
    },
    peakActivationBytes: peakActivationBytes(model),
  };
}

/**
 * Reads a model file (needs read permission) and inspects it. Throws the loader's
 * `ModelError` for a file it refuses.
 *
 * @example
 * ```ts ignore
 * import { inspectFile } from "./inspect.ts";
 * const report = await inspectFile("plugins/detect/detect.onebit");
 * console.log(report.totals.opsEquivalent);
 * ```
 */
export async function inspectFile(path: string | URL): Promise<InspectReport> {
  return inspectModel(await readModel(path));
}

/** `1234567` → `"1.23M"`: three significant digits with an SI suffix. */
export function formatCount(value: number): string {
  const units: [number, string][] = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
  for (const [scale, suffix] of units) {
    if (Math.abs(value) >= scale) return `${(value / scale).toPrecision(3)}${suffix}`;
  }
  return String(Math.round(value * 1000) / 1000);
}

/** `1536` → `"1.50 KiB"`. */
export function formatBytes(bytes: number): string {
  const units: [number, string][] = [[2 ** 30, "GiB"], [2 ** 20, "MiB"], [2 ** 10, "KiB"]];
  for (const [scale, suffix] of units) {
    if (bytes >= scale) return `${(bytes / scale).toFixed(2)} ${suffix}`;
  }
  return `${bytes} B`;
}

function table(header: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = header.map((cell, column) =>
    Math.max(cell.length, ...rows.map((row) => row[column].length))
  );
  const line = (row: string[]) =>
    row.map((cell, column) =>
      rightAligned.has(column) ? cell.padStart(widths[column]) : cell.padEnd(widths[column])
    ).join("  ").trimEnd();
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join(
    "\n",
  );
}

function showActivation(activation: { dtype: string; shape: readonly number[] }): string {
  return `${activation.dtype}[${activation.shape.join("x")}]`;
}

/**
 * The report as a text table: one row per op, then totals, op counts, file size and peak
 * activation memory.
 *
 * @example
 * ```ts ignore
 * import { formatInspect, inspectFile } from "./inspect.ts";
 * console.log(formatInspect(await inspectFile("resnet18.onebit")));
 * ```
 */
export function formatInspect(report: InspectReport): string {
  const rows = report.ops.map((op) => [
    op.name,
    op.op,
    showActivation(op.output),
    op.params === 0 ? "" : formatCount(op.params),
    op.paramBytes === 0 ? "" : formatBytes(op.paramBytes),
    op.bops === 0 ? "" : formatCount(op.bops),
    op.flops === 0 ? "" : formatCount(op.flops),
  ]);
  const { totals } = report;
  const lines = [
    `model ${report.name || "(unnamed)"} (${report.file}), task ${report.task || "(none)"}`,
    `inputs  ${report.inputs.map((io) => `${io.name} ${showActivation(io)}`).join(", ")}`,
    `outputs ${report.outputs.map((io) => `${io.name} ${showActivation(io)}`).join(", ")}`,
    "",
    table(
      ["op", "type", "output", "params", "param bytes", "BOPs", "FLOPs"],
      rows,
      new Set([3, 4, 5, 6]),
    ),
    "",
    `ops          ${totals.ops} (${
      Object.entries(report.opCounts).map(([op, count]) => `${op} ${count}`).join(", ")
    })`,
    `params       ${formatCount(totals.params)} (${formatBytes(totals.paramBytes)} stored, ` +
    `${formatBytes(Math.ceil(totals.paramBits / 8))} bit-packed)`,
    `file         ${formatBytes(report.fileBytes)} (${report.fileBytes} bytes)`,
    `BOPs         ${formatCount(totals.bops)}`,
    `FLOPs        ${formatCount(totals.flops)}`,
    `OPs          ${formatCount(totals.opsEquivalent)} (BOPs/64 + FLOPs)`,
  ];
  if (totals.sparseAdds > 0) {
    lines.push(
      `codebook     ${formatCount(totals.sparseBops)} BOPs + ${
        formatCount(totals.sparseAdds)
      } adds with codeword responses shared`,
    );
  }
  lines.push(`peak memory  ${formatBytes(report.peakActivationBytes)} of activations`);
  return lines.join("\n");
}
