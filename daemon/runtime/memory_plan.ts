/**
 * The static memory plan of a model instance: every activation gets a byte range in ONE
 * arena, chosen at load time so that buffers whose lifetimes never overlap share memory
 * (DESIGN.md section 2: nothing allocates while a model runs).
 *
 * ## Lifetimes
 *
 * Time is counted in steps: step 0 is "the inputs are written", op `k` (in graph order) runs
 * at step `k + 1`, and the last step, `ops.length + 1`, is "the caller reads the outputs".
 * An activation is live over the closed interval `[first, last]`:
 * - `first` is 0 for a graph input and `k + 1` for the output of op `k`;
 * - `last` is the last step that reads it (the largest `k + 1` of an op listing it as an
 *   input), or `ops.length + 1` for a graph output.
 *
 * Because the intervals are closed, an op's output is live at the step where its inputs are
 * read for the last time, so an op never writes over its own inputs: no kernel has to
 * support aliasing, and ops whose output is written while an input is still being read (every
 * conv, concat, depth-to-space...) are safe. Load-time scratch (codebook expansion, packed
 * weights) lives outside the arena.
 *
 * ## Placement
 *
 * Greedy by size, best fit (the scheme of TensorFlow Lite's arena planner): buffers are
 * placed from the largest down (ties: the earlier `first`, then the name), each at the
 * smallest gap between the already placed buffers whose lifetimes overlap its own that can
 * hold it, or above all of them when no gap can. Offsets and sizes are rounded up to
 * {@linkcode ARENA_ALIGNMENT_BYTES} so every buffer starts on a cache line. The plan is
 * deterministic: the same graph always gives the same offsets.
 *
 * @example
 * ```ts
 * import { planMemory } from "./memory_plan.ts";
 * import { validateGraph } from "./graph.ts";
 * const validated = validateGraph({
 *   inputs: [{ name: "x", dtype: "f32", shape: [1, 8, 8, 16] }],
 *   outputs: ["z"],
 *   ops: [
 *     { op: "sigmoid", name: "a", inputs: ["x"], outputs: ["y"], attrs: {}, params: {} },
 *     { op: "softmax", name: "b", inputs: ["y"], outputs: ["z"], attrs: {}, params: {} },
 *   ],
 * }, new Map());
 * const plan = planMemory(validated);
 * console.log(plan.peakBytes, plan.naiveBytes); // 8192 12288: z reuses x's bytes
 * ```
 *
 * @module
 */

import { type Activation, activationBytes, type Graph } from "./graph.ts";

/** Alignment of every offset in the arena: one cache line, one AVX-512 register. */
export const ARENA_ALIGNMENT_BYTES = 64;

/** What the plan needs of a model: its graph and the inferred activations. */
export interface PlannableModel {
  /** The validated graph. */
  readonly graph: Graph;
  /** Dtype and shape of every activation. */
  readonly activations: ReadonlyMap<string, Activation>;
}

/** A buffer to place: its size and the closed step interval during which it is live. */
export interface BufferRequest {
  /** Unique name (an activation name for model plans). */
  readonly name: string;
  /** Bytes needed, at least 0. */
  readonly bytes: number;
  /** First step at which the buffer is live. */
  readonly first: number;
  /** Last step at which the buffer is live, `>= first`. */
  readonly last: number;
}

/** A placed buffer: its request and its byte offset in the arena. */
export interface PlacedBuffer extends BufferRequest {
  /** Byte offset in the arena, a multiple of {@linkcode ARENA_ALIGNMENT_BYTES}. */
  readonly offset: number;
}

/** Where every buffer lives in the one arena. */
export interface MemoryPlan {
  /** Every buffer by name, in the order of the requests. */
  readonly buffers: ReadonlyMap<string, PlacedBuffer>;
  /** Bytes of the arena: the end of the highest buffer, rounded up to the alignment. */
  readonly peakBytes: number;
  /**
   * Bytes without reuse: every buffer in its own aligned range (the sum of the sizes, each
   * rounded up to the alignment).
   */
  readonly naiveBytes: number;
}

/** Rounds `bytes` up to {@linkcode ARENA_ALIGNMENT_BYTES}. */
export function alignUp(bytes: number): number {
  return Math.ceil(bytes / ARENA_ALIGNMENT_BYTES) * ARENA_ALIGNMENT_BYTES;
}

/** True when two closed step intervals share a step. */
export function lifetimesOverlap(a: BufferRequest, b: BufferRequest): boolean {
  return a.first <= b.last && b.first <= a.last;
}

/**
 * The live interval of every activation of a model, graph inputs first, then in op order
 * (see the module doc for the step numbering).
 *
 * @example
 * ```ts ignore
 * for (const { name, first, last } of activationLifetimes(model)) console.log(name, first, last);
 * ```
 */
export function activationLifetimes(model: PlannableModel): BufferRequest[] {
  const { graph, activations } = model;
  const end = graph.ops.length + 1;
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  for (const input of graph.inputs) {
    first.set(input.name, 0);
    last.set(input.name, 0);
  }
  graph.ops.forEach((op, index) => {
    const step = index + 1;
    for (const input of op.inputs) last.set(input, step);
    first.set(op.outputs[0], step);
    last.set(op.outputs[0], step);
  });
  for (const output of graph.outputs) last.set(output, end);
  const requests: BufferRequest[] = [];
  for (const [name, activation] of activations) {
    const from = first.get(name);
    const to = last.get(name);
    if (from === undefined || to === undefined) {
      throw new Error(`memory plan: activation '${name}' is neither a graph input nor an output`);
    }
    requests.push({ name, bytes: activationBytes(activation), first: from, last: to });
  }
  return requests;
}

function checkRequest(request: BufferRequest, names: Set<string>): void {
  const { name, bytes, first, last } = request;
  if (names.has(name)) throw new Error(`memory plan: buffer '${name}' is requested twice`);
  names.add(name);
  if (!Number.isSafeInteger(bytes) || bytes < 0) {
    throw new Error(`memory plan: buffer '${name}' has ${bytes} bytes, expected an integer >= 0`);
  }
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first > last) {
    throw new Error(
      `memory plan: buffer '${name}' lives from step ${first} to ${last}, expected integers ` +
        `with first <= last`,
    );
  }
}

/**
 * Places buffers in one arena by greedy best fit over their lifetimes (see the module doc).
 * Throws an `Error` for a repeated name, a negative or fractional size, or an interval with
 * `first > last`.
 *
 * @example
 * ```ts
 * import { planBuffers } from "./memory_plan.ts";
 * const plan = planBuffers([
 *   { name: "a", bytes: 100, first: 0, last: 1 },
 *   { name: "b", bytes: 100, first: 1, last: 2 },
 *   { name: "c", bytes: 100, first: 2, last: 3 },
 * ]);
 * console.log(plan.buffers.get("c")?.offset, plan.peakBytes); // 0 256: c reuses a's bytes
 * ```
 */
export function planBuffers(requests: readonly BufferRequest[]): MemoryPlan {
  const names = new Set<string>();
  for (const request of requests) checkRequest(request, names);
  const order = requests.map((_, index) => index).sort((a, b) => {
    const x = requests[a];
    const y = requests[b];
    if (x.bytes !== y.bytes) return y.bytes - x.bytes;
    if (x.first !== y.first) return x.first - y.first;
    return x.name < y.name ? -1 : x.name > y.name ? 1 : 0;
  });
  const offsets = new Array<number>(requests.length);
  const placed: number[] = [];
  let peakBytes = 0;
  let naiveBytes = 0;
  for (const index of order) {
    const request = requests[index];
    const size = alignUp(request.bytes);
    naiveBytes += size;
    // The already placed buffers live at the same time, by offset: the gaps between them
    // are the candidate places.
    const conflicts = placed
      .filter((other) => lifetimesOverlap(requests[other], request))
      .sort((a, b) => offsets[a] - offsets[b]);
    let best = -1;
    let bestGap = Infinity;
    let cursor = 0;
    for (const other of conflicts) {
      const gap = offsets[other] - cursor;
      if (gap >= size && gap < bestGap) {
        best = cursor;
        bestGap = gap;
      }
      cursor = Math.max(cursor, offsets[other] + alignUp(requests[other].bytes));
    }
    const offset = best >= 0 ? best : cursor;
    offsets[index] = offset;
    placed.push(index);
    peakBytes = Math.max(peakBytes, offset + size);
  }
  const buffers = new Map<string, PlacedBuffer>();
  requests.forEach((request, index) => {
    buffers.set(request.name, Object.freeze({ ...request, offset: offsets[index] }));
  });
  return Object.freeze({ buffers, peakBytes, naiveBytes });
}

/**
 * The memory plan of a model's activations: {@linkcode activationLifetimes} placed by
 * {@linkcode planBuffers}.
 *
 * @example
 * ```ts ignore
 * const plan = planMemory(model);
 * console.log(`${plan.peakBytes} bytes instead of ${plan.naiveBytes}`);
 * ```
 */
export function planMemory(model: PlannableModel): MemoryPlan {
  return planBuffers(activationLifetimes(model));
}

/**
 * Peak activation memory of a model in bytes: the arena size of its memory plan (what
 * `onebit model inspect` reports).
 *
 * @example
 * ```ts ignore
 * import { readModel } from "./model_file.ts";
 * console.log(peakActivationBytes(await readModel("detect.onebit")));
 * ```
 */
export function peakActivationBytes(model: PlannableModel): number {
  return planMemory(model).peakBytes;
}

/**
 * Checks that a plan is valid: offsets aligned, every buffer inside the arena, and no two
 * buffers that are live at the same step share a byte. Returns the problems found (empty for
 * a valid plan). Quadratic in the buffer count: for tests and debugging.
 *
 * @example
 * ```ts
 * import { planBuffers, planProblems } from "./memory_plan.ts";
 * console.log(planProblems(planBuffers([{ name: "a", bytes: 8, first: 0, last: 0 }]))); // []
 * ```
 */
export function planProblems(plan: MemoryPlan): string[] {
  const problems: string[] = [];
  const list = [...plan.buffers.values()];
  for (const buffer of list) {
    if (buffer.offset % ARENA_ALIGNMENT_BYTES !== 0) {
      problems.push(`'${buffer.name}' starts at ${buffer.offset}, not aligned`);
    }
    if (buffer.offset < 0 || buffer.offset + buffer.bytes > plan.peakBytes) {
      problems.push(
        `'${buffer.name}' spans ${buffer.offset}..${buffer.offset + buffer.bytes}, ` +
          `outside the arena of ${plan.peakBytes} bytes`,
      );
    }
  }
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i];
      const b = list[j];
      if (a.bytes === 0 || b.bytes === 0 || !lifetimesOverlap(a, b)) continue;
      if (a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes) {
        problems.push(
          `'${a.name}' (${a.offset}+${a.bytes}, steps ${a.first}..${a.last}) overlaps ` +
            `'${b.name}' (${b.offset}+${b.bytes}, steps ${b.first}..${b.last})`,
        );
      }
    }
  }
  return problems;
}
