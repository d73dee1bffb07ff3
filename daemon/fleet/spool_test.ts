import assert from "node:assert/strict";
import { crc32 } from "./crc32.ts";
import { FleetError } from "./errors.ts";
import { Spool } from "./spool.ts";

function values(spool: Spool): unknown[] {
  return spool.peek(-1, 1_000_000).map((record) => record.value);
}

/** Deterministic PRNG (mulberry32) so a failure can be replayed from its seed. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

Deno.test("crc32 matches the standard check value", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("spool replays records in order after close and reopen", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = Spool.open(dir, { segmentBytes: 64 });
    for (let i = 0; i < 20; i += 1) assert.equal(spool.append({ i }), i);
    assert.equal(spool.size, 20);
    assert.ok([...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".seg")).length > 1);
    spool.close();
    const again = Spool.open(dir, { segmentBytes: 64 });
    assert.equal(again.counters.recovered, 20);
    assert.deepEqual(values(again), Array.from({ length: 20 }, (_, i) => ({ i })));
    assert.equal(again.append({ i: 20 }), 20);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool ack removes records, keeps the rest across reopen, deletes spent segments", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = Spool.open(dir, { segmentBytes: 64 });
    for (let i = 0; i < 12; i += 1) spool.append({ i });
    // Out of order: 1 first, then 0; 5 is acked but 2..4 are not.
    assert.equal(spool.ack(1), true);
    assert.equal(spool.headSeq, 0);
    assert.equal(spool.ack(0), true);
    assert.equal(spool.headSeq, 2);
    assert.equal(spool.ack(5), true);
    assert.equal(spool.ack(5), false, "double ack");
    assert.equal(spool.ack(99), false, "unknown seq");
    assert.deepEqual(spool.peek(2, 3).map((r) => r.seq), [3, 4, 6]);
    for (const seq of [2, 3, 4, 6, 7]) spool.ack(seq);
    assert.equal(spool.headSeq, 8);
    assert.equal(spool.counters.acked, 8);
    spool.close();
    const again = Spool.open(dir, { segmentBytes: 64 });
    assert.deepEqual(again.peek(-1, 100).map((r) => r.seq), [8, 9, 10, 11]);
    for (const seq of [8, 9, 10, 11]) again.ack(seq);
    assert.equal(again.size, 0);
    assert.equal(again.bytes, 0);
    assert.equal(again.append("next"), 12);
    again.close();
    const segments = [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".seg"));
    assert.ok(segments.length <= 2, `spent segments deleted, left ${segments.length}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool keeps every complete record in order when the file is cut at any point", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const source = `${dir}/source`;
    const spool = Spool.open(source, { fsync: false });
    const written: unknown[] = [];
    const ends: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 40; i += 1) {
      const value = { task: `t${i % 3}`, i, pad: "x".repeat(i * 7 % 50) };
      spool.append(value);
      written.push(value);
      bytes += 8 + new TextEncoder().encode(JSON.stringify(value)).length;
      ends.push(bytes);
    }
    spool.close();
    const segment = `${source}/${"0".repeat(20)}.seg`;
    const full = Deno.readFileSync(segment);
    assert.equal(full.length, bytes);
    const next = random(0x5eed);
    const cuts = [0, 1, 7, 8, 9, full.length - 1, full.length];
    for (let k = 0; k < 40; k += 1) cuts.push(Math.floor(next() * (full.length + 1)));
    for (const cut of cuts) {
      const copy = `${dir}/cut_${cut}`;
      Deno.mkdirSync(copy);
      Deno.writeFileSync(`${copy}/${"0".repeat(20)}.seg`, full.subarray(0, cut));
      const reopened = Spool.open(copy);
      const complete = ends.filter((end) => end <= cut).length;
      assert.deepEqual(values(reopened), written.slice(0, complete), `cut at ${cut}`);
      const kept = complete === 0 ? 0 : ends[complete - 1];
      assert.equal(reopened.counters.truncatedBytes, cut - kept, `cut at ${cut}`);
      // Appending after a torn tail continues the sequence and is readable after reopen.
      assert.equal(reopened.append({ after: cut }), complete);
      reopened.close();
      const third = Spool.open(copy);
      assert.deepEqual(values(third), [...written.slice(0, complete), { after: cut }]);
      third.close();
      Deno.removeSync(copy, { recursive: true });
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool detects a corrupted byte by CRC and truncates from that record", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = Spool.open(dir);
    for (let i = 0; i < 5; i += 1) spool.append({ i });
    spool.close();
    const path = `${dir}/${"0".repeat(20)}.seg`;
    const data = Deno.readFileSync(path);
    const recordBytes = 8 + JSON.stringify({ i: 0 }).length;
    data[recordBytes * 3 + 10] ^= 0x01; // inside record 3's JSON
    Deno.writeFileSync(path, data);
    const again = Spool.open(dir);
    assert.deepEqual(values(again), [{ i: 0 }, { i: 1 }, { i: 2 }]);
    assert.equal(again.counters.truncatedBytes, recordBytes * 2);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool full with drop_oldest drops the oldest and counts them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const spool = Spool.open(dir, { recordsMax: 3, policy: "drop_oldest", segmentBytes: 40 });
    for (let i = 0; i < 7; i += 1) assert.equal(spool.append({ i }), i);
    assert.deepEqual(values(spool), [{ i: 4 }, { i: 5 }, { i: 6 }]);
    assert.equal(spool.counters.droppedOldest, 4);
    assert.equal(spool.ack(1), false, "dropped record cannot be acked");
    spool.close();
    const again = Spool.open(dir, { recordsMax: 3 });
    assert.deepEqual(values(again), [{ i: 4 }, { i: 5 }, { i: 6 }]);
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool full with reject_new refuses new records by bytes and counts them", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const record = 8 + JSON.stringify({ i: 0 }).length;
    const spool = Spool.open(dir, { bytesMax: record * 2, policy: "reject_new" });
    assert.equal(spool.append({ i: 0 }), 0);
    assert.equal(spool.append({ i: 1 }), 1);
    assert.equal(spool.append({ i: 2 }), null);
    assert.equal(spool.counters.rejectedNew, 1);
    spool.ack(0);
    assert.equal(spool.append({ i: 3 }), 2);
    assert.deepEqual(values(spool), [{ i: 1 }, { i: 3 }]);
    spool.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("spool refuses bad options, oversized records and use after close", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.throws(
      () => Spool.open(dir, { recordsMax: 0 }),
      (e: unknown) =>
        e instanceof FleetError && e.code === "config_invalid" && /recordsMax.*0/.test(e.message),
    );
    assert.throws(
      // deno-lint-ignore no-explicit-any
      () => Spool.open(dir, { policy: "drop_newest" as any }),
      (e: unknown) => e instanceof FleetError && /drop_newest/.test(e.message),
    );
    const spool = Spool.open(dir, { recordBytesMax: 16 });
    assert.throws(
      () => spool.append("y".repeat(40)),
      (e: unknown) =>
        e instanceof FleetError && e.code === "record_too_large" && /42 bytes/.test(e.message),
    );
    assert.equal(spool.size, 0);
    spool.close();
    assert.throws(
      () => spool.append(1),
      (e: unknown) => e instanceof FleetError && e.code === "spool_closed",
    );
    Deno.writeTextFileSync(`${dir}/file`, "");
    assert.throws(
      () => Spool.open(`${dir}/file`),
      (e: unknown) => e instanceof FleetError && e.code === "spool_io",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
