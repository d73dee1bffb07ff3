import assert from "node:assert/strict";
import {
  packedIndexBytes,
  packedIndicesProblem,
  packIndices,
  unpackIndices,
} from "./codebook_indices.ts";
import { seededRandom } from "./test_fixtures.ts";

/** Index k read bit by bit from the documented stream (bit j = bit j%8 of byte j/8). */
function readBitwise(packed: Uint8Array, k: number, tau: number): number {
  let value = 0;
  for (let bit = 0; bit < tau; bit++) {
    const at = k * tau + bit;
    value |= ((packed[at >> 3] >> (at & 7)) & 1) << bit;
  }
  return value;
}

Deno.test("packIndices and unpackIndices round trip every tau and count", () => {
  const seed = 41;
  const random = seededRandom(seed);
  for (let tau = 1; tau <= 8; tau++) {
    for (const count of [0, 1, 2, 3, 7, 8, 9, 63, 64, 65, 200, 1000]) {
      const indices = Uint8Array.from({ length: count }, () => Math.floor(random() * 2 ** tau));
      const packed = packIndices(indices, tau);
      const what = `tau ${tau} count ${count} seed ${seed}`;
      assert.equal(packed.length, Math.ceil((count * tau) / 8), what);
      assert.equal(packed.length, packedIndexBytes(count, tau), what);
      assert.equal(packedIndicesProblem(packed, count, tau), undefined, what);
      for (let k = 0; k < count; k++) assert.equal(readBitwise(packed, k, tau), indices[k], what);
      assert.deepEqual(unpackIndices(packed, count, tau), indices, what);
    }
  }
});

Deno.test("packIndices writes the documented little-endian bit order", () => {
  // tau 3: 1 = 001, 2 = 010, 3 = 011 -> stream bits 100 010 110 (LSB first).
  assert.deepEqual(packIndices([1, 2, 3], 3), Uint8Array.of(0b11010001, 0));
  // tau 5: 31, 1 -> bits 0..4 set, bit 5 set: 0b00111111, nothing else.
  assert.deepEqual(packIndices([31, 1], 5), Uint8Array.of(0x3f, 0));
  // tau 4: two indices per byte, the first in the low nibble.
  assert.deepEqual(packIndices([0xa, 0x5, 0xf], 4), Uint8Array.of(0x5a, 0x0f));
  // tau 8: one byte per index.
  assert.deepEqual(packIndices([200, 7], 8), Uint8Array.of(200, 7));
});

Deno.test("packIndices refuses an index of 2^tau or more and a bad tau", () => {
  assert.throws(() => packIndices([0, 16], 4), /index 16 at 1 is not below 2\^4/);
  assert.throws(() => packIndices([-1], 4), /index -1 at 0/);
  assert.throws(() => packIndices([1.5], 4), /index 1.5 at 0/);
  assert.throws(() => packIndices([256], 8), /index 256 at 0 is not below 2\^8/);
  for (const tau of [0, 9, 2.5, NaN]) {
    assert.throws(() => packIndices([0], tau), RangeError, `tau ${tau}`);
    assert.throws(() => packedIndexBytes(1, tau), RangeError, `tau ${tau}`);
  }
  assert.throws(() => packedIndexBytes(-1, 4), RangeError);
});

Deno.test("packedIndicesProblem and unpackIndices refuse bad lengths and trailing bits", () => {
  // 5 indices of 3 bits: 15 bits in 2 bytes, 1 trailing bit.
  const packed = packIndices([1, 2, 3, 4, 5], 3);
  assert.equal(packed.length, 2);
  assert.match(
    packedIndicesProblem(packed.subarray(0, 1), 5, 3)!,
    /holds 1 bytes, 5 indices of 3 bits need 2/,
  );
  assert.match(packedIndicesProblem(Uint8Array.of(...packed, 0), 5, 3)!, /holds 3 bytes/);
  const tail = packed.slice();
  tail[1] |= 0x80;
  assert.match(
    packedIndicesProblem(tail, 5, 3)!,
    /bits set past index 5 in its last byte \(0x..\); the 1 trailing bits must be 0/,
  );
  assert.throws(() => unpackIndices(tail, 5, 3), /unpackIndices: packed indices has bits set/);
  assert.throws(() => unpackIndices(packed.subarray(0, 1), 5, 3), /holds 1 bytes/);
  // Every trailing bit position is checked.
  const one = packIndices([1], 2); // 2 bits used, 6 trailing
  for (let bit = 2; bit < 8; bit++) {
    assert.notEqual(packedIndicesProblem(Uint8Array.of(one[0] | (1 << bit)), 1, 2), undefined);
  }
  // A whole last byte has no trailing bits.
  assert.equal(packedIndicesProblem(Uint8Array.of(0xff), 2, 4), undefined);
});
