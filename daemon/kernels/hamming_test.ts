/**
 * The hamming kernels (scalar reference and SIMD) against a straightforward TypeScript
 * matcher: popcount every pair, scan in index order, ratio test in f32.
 */

import assert from "node:assert/strict";
import { KernelError } from "./errors.ts";
import {
  type DescriptorSets,
  HAMMING_NONE,
  hammingDistances,
  hammingMatch,
  type HammingMatches,
} from "./hamming.ts";
import { KernelContext, openKernels } from "./library.ts";
import { rng } from "./test_support.ts";

function randomWords(random: () => number, count: number): BigUint64Array {
  const words = new BigUint64Array(count);
  const halves = new Uint32Array(words.buffer);
  for (let i = 0; i < halves.length; i++) halves[i] = Math.floor(random() * 2 ** 32);
  return words;
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Distance of descriptor a of `setA` and b of `setB` (`words` u64 each). */
function distance(setA: BigUint64Array, a: number, setB: BigUint64Array, b: number, words: number) {
  const x = new Uint32Array(setA.buffer, setA.byteOffset + a * words * 8, words * 2);
  const y = new Uint32Array(setB.buffer, setB.byteOffset + b * words * 8, words * 2);
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += popcount32(x[i] ^ y[i]);
  return sum;
}

/** Nearest and second-nearest of `probe` in `set`, ties to the lowest index. */
function nearest(probeSet: BigUint64Array, probe: number, set: BigUint64Array, words: number) {
  let index = -1;
  let best = HAMMING_NONE;
  let second = HAMMING_NONE;
  for (let i = 0; i < set.length / words; i++) {
    const d = distance(probeSet, probe, set, i, words);
    if (index < 0 || d < best) {
      second = best;
      best = d;
      index = i;
    } else if (d < second) {
      second = d;
    }
  }
  return { index, best, second };
}

function tsMatch(sets: DescriptorSets, ratio: number, crossCheck: boolean): HammingMatches {
  const words = sets.bits / 64;
  const queries = sets.query.length / words;
  const out = {
    index: new Int32Array(queries),
    best: new Uint32Array(queries),
    second: new Uint32Array(queries),
  };
  const f = Math.fround;
  for (let q = 0; q < queries; q++) {
    const found = nearest(sets.query, q, sets.train, words);
    out.best[q] = found.best;
    out.second[q] = found.second;
    let accepted = found.index >= 0 &&
      (ratio >= 1 || f(found.best) < f(f(ratio) * f(found.second)));
    if (accepted && crossCheck) {
      accepted = nearest(sets.train, found.index, sets.query, words).index === q;
    }
    out.index[q] = accepted ? found.index : -1;
  }
  return out;
}

/**
 * Random sets where about two thirds of the queries are noisy copies of train descriptors
 * (each of a different one when `queries <= trains`, so cross check keeps them all).
 */
function plantedSets(seed: number, bits: number, queries: number, trains: number) {
  const random = rng(seed);
  const words = bits / 64;
  const query = randomWords(random, queries * words);
  const train = randomWords(random, trains * words);
  const order = Array.from({ length: trains }, (_, i) => i);
  for (let i = trains - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const targets: number[] = [];
  for (let q = 0; q < queries; q++) {
    if (random() < 0.33) {
      targets.push(-1);
      continue;
    }
    const t = order[q % trains];
    targets.push(t);
    query.set(train.subarray(t * words, (t + 1) * words), q * words);
    const flips = Math.floor(random() * bits / 16);
    for (let i = 0; i < flips; i++) {
      const bit = Math.floor(random() * bits);
      query[q * words + (bit >> 6)] ^= 1n << BigInt(bit & 63);
    }
  }
  return { sets: { query, train, bits }, targets };
}

const lib = openKernels();

function withContexts(body: (ctx: KernelContext) => void): void {
  const contexts = [
    new KernelContext(lib, { threads: 1, forceScalar: true }),
    new KernelContext(lib, { threads: 2 }),
  ];
  try {
    for (const ctx of contexts) body(ctx);
  } finally {
    for (const ctx of contexts) ctx.destroy();
  }
}

Deno.test("hammingDistances matches a TypeScript popcount on small sets", () => {
  withContexts((ctx) => {
    let seed = 10;
    for (const bits of [64, 256, 512, 1024]) {
      for (const [queries, trains] of [[1, 1], [7, 13], [20, 70]]) {
        seed++;
        const { sets } = plantedSets(seed, bits, queries, trains);
        const got = hammingDistances(ctx, sets);
        const words = bits / 64;
        for (let q = 0; q < queries; q++) {
          for (let t = 0; t < trains; t++) {
            assert.equal(
              got[q * trains + t],
              distance(sets.query, q, sets.train, t, words),
              `${ctx.variant} bits ${bits} query ${q} train ${t} seed ${seed}`,
            );
          }
        }
      }
    }
  });
});

Deno.test("hammingMatch matches a TypeScript matcher for ratios and cross check", () => {
  withContexts((ctx) => {
    let seed = 100;
    for (const bits of [256, 512]) {
      for (const [queries, trains] of [[1, 1], [1, 7], [7, 1], [30, 64], [64, 30]]) {
        seed++;
        const { sets } = plantedSets(seed, bits, queries, trains);
        for (const ratio of [1, 0.9, 0.8, 0.5]) {
          for (const crossCheck of [false, true]) {
            const want = tsMatch(sets, ratio, crossCheck);
            const got = hammingMatch(ctx, sets, { ratio, crossCheck });
            const what = `${ctx.variant} bits ${bits} ${queries}x${trains} ratio ${ratio} ` +
              `cross ${crossCheck} seed ${seed}`;
            assert.deepEqual(got.index, want.index, what);
            assert.deepEqual(got.best, want.best, what);
            assert.deepEqual(got.second, want.second, what);
          }
        }
      }
    }
  });
});

Deno.test("hammingMatch finds planted noisy copies and rejects random queries", () => {
  withContexts((ctx) => {
    const { sets, targets } = plantedSets(7, 256, 100, 300);
    const matches = hammingMatch(ctx, sets, { ratio: 0.8, crossCheck: true });
    targets.forEach((target, q) => {
      if (target >= 0) assert.equal(matches.index[q], target, `${ctx.variant} query ${q}`);
      else assert.equal(matches.index[q], -1, `${ctx.variant} random query ${q}`);
    });
  });
});

Deno.test("hammingMatch breaks ties toward the lowest index and reports missing neighbours", () => {
  withContexts((ctx) => {
    // 64-bit descriptors: train 1 and 3 are both one bit away from the query.
    const query = new BigUint64Array([0n]);
    const train = new BigUint64Array([0b111n, 0b1n, 0xffn, 0b10n]);
    const tie = hammingMatch(ctx, { query, train, bits: 64 });
    assert.deepEqual([tie.index[0], tie.best[0], tie.second[0]], [1, 1, 1]);
    // A tie fails any ratio below 1.
    assert.equal(hammingMatch(ctx, { query, train, bits: 64 }, { ratio: 0.99 }).index[0], -1);
    const single = hammingMatch(ctx, { query, train: train.subarray(0, 1), bits: 64 }, {
      ratio: 0.1,
    });
    assert.deepEqual([single.index[0], single.best[0], single.second[0]], [0, 3, HAMMING_NONE]);
    const empty = hammingMatch(ctx, { query, train: new BigUint64Array(0), bits: 64 });
    assert.deepEqual([empty.index[0], empty.best[0], empty.second[0]], [
      -1,
      HAMMING_NONE,
      HAMMING_NONE,
    ]);
  });
});

Deno.test("hamming rejects bad arguments with a KernelError", () => {
  using ctx = new KernelContext(lib, { threads: 1 });
  const set = new BigUint64Array(8);
  const expectCode = (code: string, body: () => unknown, message?: RegExp) =>
    assert.throws(body, (error: unknown) => {
      assert.ok(error instanceof KernelError, `not a KernelError: ${error}`);
      assert.equal(error.code, code);
      if (message) assert.match(error.message, message);
      return true;
    });
  expectCode(
    "invalid_argument",
    () => hammingDistances(ctx, { query: set, train: set, bits: 100 }),
  );
  expectCode("invalid_argument", () => hammingMatch(ctx, { query: set, train: set, bits: 2048 }));
  expectCode(
    "invalid_argument",
    () => hammingDistances(ctx, { query: set.subarray(0, 3), train: set, bits: 256 }),
    /query holds 3 words, not a multiple of 4/,
  );
  expectCode(
    "invalid_argument",
    () => hammingMatch(ctx, { query: set, train: set, bits: 256 }, { ratio: 0 }),
    /ratio is 0, must be > 0/,
  );
  expectCode(
    "invalid_argument",
    () => hammingMatch(ctx, { query: set, train: set, bits: 256 }, { ratio: NaN }),
  );
  expectCode(
    "buffer_too_small",
    () => hammingDistances(ctx, { query: set, train: set, bits: 256 }, { out: new Uint16Array(3) }),
    /distance matrix holds 3 elements, needs 4/,
  );
  const short = { index: new Int32Array(1), best: new Uint32Array(2), second: new Uint32Array(2) };
  expectCode(
    "buffer_too_small",
    () => hammingMatch(ctx, { query: set, train: set, bits: 256 }, { out: short }),
    /out_index holds 1 elements, needs 2/,
  );
});
