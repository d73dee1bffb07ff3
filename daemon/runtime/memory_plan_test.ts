import assert from "node:assert/strict";
import { activationBytes, validateGraph } from "./graph.ts";
import {
  activationLifetimes,
  alignUp,
  ARENA_ALIGNMENT_BYTES,
  type BufferRequest,
  type MemoryPlan,
  peakActivationBytes,
  planBuffers,
  planMemory,
  planProblems,
} from "./memory_plan.ts";
import { OP_MODEL_TYPES, opModel, randomChainModel } from "./op_fixtures.ts";
import { everyOpModel, randomInt, seededRandom } from "./test_fixtures.ts";

/** The most bytes live at one step: no valid plan can be smaller. */
function liveLowerBound(requests: readonly BufferRequest[]): number {
  let best = 0;
  const steps = new Set(requests.flatMap((r) => [r.first, r.last]));
  for (const step of steps) {
    let live = 0;
    for (const r of requests) if (r.first <= step && step <= r.last) live += alignUp(r.bytes);
    best = Math.max(best, live);
  }
  return best;
}

function assertValid(plan: MemoryPlan, requests: readonly BufferRequest[], what: string): void {
  assert.deepEqual(planProblems(plan), [], what);
  assert.equal(plan.buffers.size, requests.length, what);
  assert.ok(plan.peakBytes <= plan.naiveBytes, `${what}: peak above naive`);
  assert.ok(plan.peakBytes >= liveLowerBound(requests), `${what}: peak below the live bound`);
  assert.equal(plan.peakBytes % ARENA_ALIGNMENT_BYTES, 0, what);
}

Deno.test("planBuffers reuses the bytes of a buffer once it is dead", () => {
  const requests = [
    { name: "a", bytes: 100, first: 0, last: 1 },
    { name: "b", bytes: 100, first: 1, last: 2 },
    { name: "c", bytes: 100, first: 2, last: 3 },
  ];
  const plan = planBuffers(requests);
  assertValid(plan, requests, "chain");
  assert.equal(plan.buffers.get("a")?.offset, plan.buffers.get("c")?.offset);
  assert.notEqual(plan.buffers.get("a")?.offset, plan.buffers.get("b")?.offset);
  assert.equal(plan.peakBytes, 256);
  assert.equal(plan.naiveBytes, 384);
});

Deno.test("planBuffers fits a buffer into the smallest gap that holds it", () => {
  // Long-lived x (0..10) at the bottom, y (0..10) above a short-lived gap, small z later.
  const requests = [
    { name: "big", bytes: 1000, first: 0, last: 10 },
    { name: "hole", bytes: 640, first: 0, last: 2 },
    { name: "top", bytes: 300, first: 0, last: 10 },
    { name: "small", bytes: 200, first: 5, last: 6 },
  ];
  const plan = planBuffers(requests);
  assertValid(plan, requests, "gap");
  // 'small' lands in the dead 'hole' range instead of above everything.
  assert.equal(plan.buffers.get("small")?.offset, plan.buffers.get("hole")?.offset);
  assert.equal(plan.peakBytes, alignUp(1000) + alignUp(640) + alignUp(300));
});

Deno.test("planBuffers never overlaps two live buffers on random intervals", () => {
  for (let seed = 1; seed <= 400; seed++) {
    const random = seededRandom(seed);
    const count = randomInt(random, 1, 40);
    const requests = Array.from({ length: count }, (_, index): BufferRequest => {
      const first = randomInt(random, 0, 30);
      return {
        name: `b${index}`,
        bytes: random() < 0.05 ? 0 : randomInt(random, 1, 5000),
        first,
        last: first + randomInt(random, 0, 10),
      };
    });
    assertValid(planBuffers(requests), requests, `seed ${seed}`);
  }
});

Deno.test("planBuffers refuses repeated names, bad sizes and reversed intervals", () => {
  assert.throws(
    () =>
      planBuffers([
        { name: "a", bytes: 1, first: 0, last: 0 },
        { name: "a", bytes: 1, first: 0, last: 0 },
      ]),
    /'a' is requested twice/,
  );
  assert.throws(
    () => planBuffers([{ name: "a", bytes: -1, first: 0, last: 0 }]),
    /'a' has -1 bytes/,
  );
  assert.throws(
    () => planBuffers([{ name: "a", bytes: 1.5, first: 0, last: 0 }]),
    /'a' has 1.5 bytes/,
  );
  assert.throws(
    () => planBuffers([{ name: "a", bytes: 1, first: 3, last: 2 }]),
    /from step 3 to 2/,
  );
});

Deno.test("planProblems reports overlapping live buffers", () => {
  const plan: MemoryPlan = {
    buffers: new Map([
      ["a", { name: "a", bytes: 128, first: 0, last: 2, offset: 0 }],
      ["b", { name: "b", bytes: 64, first: 2, last: 3, offset: 64 }],
    ]),
    peakBytes: 128,
    naiveBytes: 192,
  };
  const problems = planProblems(plan);
  assert.equal(problems.length, 1);
  assert.match(problems[0], /'a' .* overlaps 'b'/);
});

Deno.test("activationLifetimes starts inputs at 0, keeps outputs to the end and op inputs alive", () => {
  const { graph, tensors } = everyOpModel(3);
  const model = validateGraph(graph, tensors);
  const lifetimes = new Map(activationLifetimes(model).map((r) => [r.name, r]));
  const end = graph.ops.length + 1;
  assert.equal(lifetimes.get("image")?.first, 0);
  for (const output of graph.outputs) assert.equal(lifetimes.get(output)?.last, end);
  graph.ops.forEach((op, index) => {
    const output = lifetimes.get(op.outputs[0]);
    assert.equal(output?.first, index + 1);
    for (const input of op.inputs) {
      // An op's inputs are live at its step, so its output never aliases them.
      assert.ok((lifetimes.get(input)?.last ?? -1) >= index + 1, `${op.name} reads ${input}`);
    }
  });
  for (const [name, activation] of model.activations) {
    assert.equal(lifetimes.get(name)?.bytes, activationBytes(activation));
  }
});

Deno.test("planMemory is valid on random graphs and on every op graph", () => {
  for (let seed = 1; seed <= 150; seed++) {
    const { graph, tensors } = randomChainModel(seed, 2 + (seed % 30));
    const model = validateGraph(graph, tensors);
    assertValid(planMemory(model), activationLifetimes(model), `chain seed ${seed}`);
  }
  for (const type of OP_MODEL_TYPES) {
    for (let seed = 1; seed <= 5; seed++) {
      const { graph, tensors } = opModel(type, seed);
      const model = validateGraph(graph, tensors);
      assertValid(planMemory(model), activationLifetimes(model), `${type} seed ${seed}`);
    }
  }
});

Deno.test("planMemory of everyOpModel reuses memory and is deterministic", () => {
  const { graph, tensors } = everyOpModel(1);
  const model = validateGraph(graph, tensors);
  const plan = planMemory(model);
  assertValid(plan, activationLifetimes(model), "everyOpModel");
  assert.ok(plan.peakBytes < plan.naiveBytes);
  assert.equal(peakActivationBytes(model), plan.peakBytes);
  const again = planMemory(validateGraph(graph, tensors));
  for (const [name, buffer] of plan.buffers) {
    assert.equal(again.buffers.get(name)?.offset, buffer.offset, name);
  }
  console.log(
    `everyOpModel: peak ${plan.peakBytes} bytes, naive ${plan.naiveBytes} bytes ` +
      `(${(100 * (1 - plan.peakBytes / plan.naiveBytes)).toFixed(1)}% saved)`,
  );
});
