import assert from "node:assert/strict";
import { LastFrameKeeper, type LastFrameOptions } from "./last_frame.ts";
import type { EncodedFrameImage } from "./types.ts";

/** A keeper on a hand-driven clock. */
function keeper(options: LastFrameOptions = {}) {
  const clock = { ms: 1_000 };
  return { clock, keeper: new LastFrameKeeper({ ...options, now: () => clock.ms }) };
}

function raw(bytes: number, fill = 7): EncodedFrameImage {
  return {
    bytes: new Uint8Array(bytes).fill(fill),
    mediaType: "application/octet-stream",
    shape: [1, bytes, 1],
  };
}

Deno.test("LastFrameKeeper makes a frame current once its result is published", () => {
  const { keeper: frames } = keeper();
  assert.equal(frames.current(), null);
  assert.equal(frames.offer(1, [raw(6)]), true);
  assert.equal(frames.current(), null, "a pending frame is not current");
  assert.equal(frames.pendingCount, 1);
  assert.equal(frames.markProcessed(1), true);
  const frame = frames.current()!;
  assert.equal(frame.frameId, 1);
  assert.equal(frame.atMs, 1_000);
  assert.deepEqual([...frame.images[0].bytes], [7, 7, 7, 7, 7, 7]);
  assert.equal(frame.images[0].mediaType, "application/octet-stream");
  assert.deepEqual(frame.images[0].shape, [1, 6, 1]);
  assert.equal(frames.pendingCount, 0);
  assert.equal(frames.bytes, 6);
  assert.equal(frames.markProcessed(1), false, "processed twice");
  assert.equal(frames.markProcessed(99), false, "never offered");
});

Deno.test("LastFrameKeeper keeps at most one frame per intervalMs", () => {
  const { clock, keeper: frames } = keeper({ intervalMs: 250 });
  assert.equal(frames.offer(1, [raw(4)]), true);
  clock.ms += 100;
  assert.equal(frames.offer(2, [raw(4)]), false);
  clock.ms += 149;
  assert.equal(frames.offer(3, [raw(4)]), false);
  clock.ms += 1;
  assert.equal(frames.offer(4, [raw(4)]), true);
  assert.equal(frames.pendingCount, 2);
  // A frame that was not kept never becomes current.
  assert.equal(frames.markProcessed(2), false);
  assert.equal(frames.current(), null);
  // Over a second of frames every 10 ms, at most 4 copies.
  const { clock: clock2, keeper: steady } = keeper({ intervalMs: 250, pendingMax: 100 });
  let kept = 0;
  for (let frameId = 1; frameId <= 100; frameId++) {
    if (steady.offer(frameId, [raw(4)])) kept++;
    clock2.ms += 10;
  }
  assert.equal(kept, 4);
});

Deno.test("LastFrameKeeper drops failed frames and keeps the current one", () => {
  const { keeper: frames } = keeper({ intervalMs: 0 });
  frames.offer(1, [raw(3, 1)]);
  frames.markProcessed(1);
  frames.offer(2, [raw(3, 2)]);
  assert.equal(frames.drop(2), true);
  assert.equal(frames.drop(2), false);
  assert.equal(frames.markProcessed(2), false, "a dropped frame cannot become current");
  assert.equal(frames.current()!.frameId, 1);
  assert.equal(frames.pendingCount, 0);
  assert.equal(frames.bytes, 3);
});

Deno.test("LastFrameKeeper never goes back to an older frame finishing late", () => {
  const { keeper: frames } = keeper({ intervalMs: 0 });
  frames.offer(5, [raw(2)]);
  frames.offer(7, [raw(2)]);
  assert.equal(frames.markProcessed(7), true);
  assert.equal(frames.markProcessed(5), false);
  assert.equal(frames.current()!.frameId, 7);
  assert.equal(frames.pendingCount, 0, "the late one is forgotten");
  assert.equal(frames.bytes, 2);
});

Deno.test("LastFrameKeeper bounds pending copies, evicting the oldest", () => {
  const { keeper: frames } = keeper({ intervalMs: 0, pendingMax: 4 });
  for (let frameId = 1; frameId <= 6; frameId++) {
    assert.equal(frames.offer(frameId, [raw(1)]), true);
  }
  assert.equal(frames.pendingCount, 4);
  assert.equal(frames.markProcessed(1), false, "evicted");
  assert.equal(frames.markProcessed(2), false, "evicted");
  assert.equal(frames.markProcessed(3), true);
  assert.equal(frames.offer(6, [raw(1)]), false, "already pending");
});

Deno.test("LastFrameKeeper bounds bytes: larger frames are refused, room is made oldest first", () => {
  const { keeper: frames } = keeper({ intervalMs: 0, bytesMax: 100 });
  assert.equal(frames.offer(1, [raw(101)]), false, "larger than bytesMax");
  assert.equal(frames.offer(2, [raw(60), raw(41)]), false, "both images count");
  assert.equal(frames.bytes, 0);
  assert.equal(frames.offer(3, [raw(40)]), true);
  assert.equal(frames.markProcessed(3), true);
  assert.equal(frames.offer(4, [raw(30)]), true);
  assert.equal(frames.offer(5, [raw(30)]), true);
  assert.equal(frames.bytes, 100);
  // 40 current + 30 + 30 pending: the oldest pending goes first.
  assert.equal(frames.offer(6, [raw(30)]), true);
  assert.equal(frames.bytes, 100);
  assert.equal(frames.drop(4), false, "evicted");
  // A frame that fits only without the current one evicts it too.
  assert.equal(frames.offer(7, [raw(90)]), true);
  assert.equal(frames.current(), null);
  assert.equal(frames.bytes, 90);
  assert.equal(frames.markProcessed(7), true);
  assert.equal(frames.current()!.frameId, 7);
  assert.ok(frames.bytes <= frames.bytesMax);
});

Deno.test("LastFrameKeeper copies are independent of the offered, then transferred, buffers", () => {
  const { keeper: frames } = keeper({ intervalMs: 0 });
  const backing = new Uint8Array([9, 1, 2, 3, 9]);
  const image: EncodedFrameImage = { bytes: backing.subarray(1, 4), mediaType: "image/png" };
  assert.equal(frames.offer(1, [image]), true);
  // What the worker dispatch does: transfer the buffer, which detaches it here.
  structuredClone(backing, { transfer: [backing.buffer] });
  assert.equal(backing.byteLength, 0, "the offered buffer is detached");
  assert.equal(frames.markProcessed(1), true);
  const kept = frames.current()!.images[0];
  assert.deepEqual([...kept.bytes], [1, 2, 3], "only the view's bytes, intact");
  assert.equal(kept.bytes.buffer.byteLength, 3, "a buffer of its own");
  assert.equal(kept.mediaType, "image/png");
  assert.equal(kept.shape, undefined);
});

Deno.test("LastFrameKeeper refuses empty frames and bad options", () => {
  const { keeper: frames } = keeper({ intervalMs: 0 });
  assert.equal(frames.offer(1, []), false);
  assert.equal(frames.offer(2, [raw(0)]), false);
  assert.equal(frames.offer(3, [raw(1), raw(1), raw(1), raw(1), raw(1)]), false);
  assert.throws(() => frames.offer(-1, [raw(1)]), /frameId is -1/);
  assert.throws(
    () => new LastFrameKeeper({ bytesMax: 0 }),
    /bytesMax is 0, expected an integer ≥ 1/,
  );
  assert.throws(() => new LastFrameKeeper({ intervalMs: 1.5 }), /intervalMs is 1\.5/);
  assert.throws(() => new LastFrameKeeper({ pendingMax: 0 }), /pendingMax is 0/);
});
