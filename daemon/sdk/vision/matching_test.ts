import assert from "node:assert/strict";
import { KernelContext, openKernels } from "../../kernels/library.ts";
import { matchDescriptors } from "./matching.ts";

function descriptors(count: number, seed: number): BigUint64Array {
  const out = new BigUint64Array(count * 2);
  let state = seed;
  for (let i = 0; i < out.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    const hi = state;
    state = (state * 1103515245 + 12345) >>> 0;
    out[i] = (BigInt(hi) << 32n) | BigInt(state);
  }
  return out;
}

Deno.test("matchDescriptors finds a shuffled copy through the kernel matcher", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const train = descriptors(20, 3);
  const order = Array.from({ length: 20 }, (_, i) => (i * 7) % 20);
  const query = new BigUint64Array(40);
  order.forEach((from, to) => query.set(train.subarray(from * 2, from * 2 + 2), to * 2));
  query[0] ^= 1n; // one bit off
  const matches = matchDescriptors(ctx, { query, train }, { bits: 128, ratio: 0.8 });
  assert.equal(matches.length, 20);
  for (const match of matches) assert.equal(match.train, order[match.query]);
  assert.equal(matches.at(-1)!.distance, 1);
  assert.equal(
    matchDescriptors(ctx, { query, train }, { bits: 128, distanceMax: 0 }).length,
    19,
  );
});

Deno.test("matchDescriptors gives nothing for empty sets and refuses bad options", () => {
  using lib = openKernels();
  using ctx = new KernelContext(lib, { threads: 1 });
  const set = descriptors(2, 1);
  assert.deepEqual(
    matchDescriptors(ctx, { query: new BigUint64Array(0), train: set }, { bits: 128 }),
    [],
  );
  assert.throws(
    () => matchDescriptors(ctx, { query: set, train: set }, { bits: 100 }),
    /bits is 100/,
  );
  assert.throws(
    () => matchDescriptors(ctx, { query: set, train: set }, { bits: 128, ratio: 0 }),
    /ratio is 0/,
  );
});
