/**
 * A bounded on-disk FIFO of JSON records: the store half of MQTT store-and-forward.
 *
 * Layout: a folder of append-only segment files `<first seq, 20 digits>.seg` and a `cursor`
 * file. A record is `u32 LE byte length | u32 LE CRC-32 of the bytes | UTF-8 JSON`. Each
 * append is written in one `write` and (by default) `fdatasync`'d, so a record that
 * `append` returned survives a kill of the process and a power loss. A crash in the middle of
 * a write leaves a torn tail; `Spool.open` detects it by length or CRC and truncates it, so
 * every complete record comes back, in order.
 *
 * Records are numbered by a sequence number (`seq`) that only grows. A record leaves the
 * spool when it is acknowledged (`ack`, after the broker's PUBACK) or dropped by the full
 * policy. The first live seq is written to `cursor` (atomically, by rename) whenever it moves;
 * if the process dies before that write, the records between are sent again: delivery is at
 * least once, never less. Segments whose records are all gone are deleted.
 *
 * Capacity counts live records (header included): `bytesMax` and `recordsMax`. On disk the
 * spool may also hold the acknowledged head of the oldest segment, at most `segmentBytes`
 * more.
 *
 * @module
 */

import { crc32 } from "./crc32.ts";
import { FleetError } from "./errors.ts";
import type { JsonValue } from "../sdk/plugin.ts";

/** What to do when an append would exceed the capacity. */
export type SpoolFullPolicy = "drop_oldest" | "reject_new";

/** Options of {@linkcode Spool.open}. */
export interface SpoolOptions {
  /** Capacity in bytes of live records (8-byte headers included). Default 64 MiB. */
  bytesMax?: number;
  /** Capacity in live records. Default 100 000. */
  recordsMax?: number;
  /** Full policy. Default `drop_oldest`. */
  policy?: SpoolFullPolicy;
  /** A segment file is closed and a new one started beyond this size. Default 4 MiB. */
  segmentBytes?: number;
  /** Largest record (JSON bytes). Default 1 MiB. */
  recordBytesMax?: number;
  /** `fdatasync` every append (power-loss safe). Default `true`. */
  fsync?: boolean;
}

/** A record read back from the spool. */
export interface SpoolRecord {
  /** Its sequence number. */
  readonly seq: number;
  /** The JSON value appended. */
  readonly value: JsonValue;
}

/** Counters since the spool was opened. */
export interface SpoolCounters {
  /** Records appended. */
  spooled: number;
  /** Records removed by `ack`. */
  acked: number;
  /** Oldest records dropped by the `drop_oldest` policy. */
  droppedOldest: number;
  /** New records refused by the `reject_new` policy. */
  rejectedNew: number;
  /** Live records found on disk at open. */
  recovered: number;
  /** Bytes of torn or corrupt records cut off at open. */
  truncatedBytes: number;
}

const HEADER_BYTES = 8;
const SEGMENT_RE = /^(\d{20})\.seg$/;
/** Compaction threshold of the in-memory index (entries already consumed at its front). */
const INDEX_COMPACT_MIN = 1024;

interface Segment {
  readonly firstSeq: number;
  readonly path: string;
  /** Bytes in the file. */
  bytes: number;
  /** Seq after its last record (exclusive end). */
  endSeq: number;
  reader: Deno.FsFile | null;
}

interface Entry {
  readonly seq: number;
  readonly segment: Segment;
  readonly offset: number;
  /** JSON bytes (header excluded). */
  readonly length: number;
  acked: boolean;
}

function segmentName(firstSeq: number): string {
  return `${String(firstSeq).padStart(20, "0")}.seg`;
}

function writeAll(file: Deno.FsFile, bytes: Uint8Array): void {
  let written = 0;
  // Bounded: each write makes progress or throws.
  while (written < bytes.length) written += file.writeSync(bytes.subarray(written));
}

function readExactly(file: Deno.FsFile, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  file.seekSync(offset, Deno.SeekMode.Start);
  let read = 0;
  while (read < length) {
    const n = file.readSync(out.subarray(read));
    if (n === null || n === 0) break;
    read += n;
  }
  if (read !== length) {
    throw new Error(`short read: ${read} of ${length} bytes at offset ${offset}`);
  }
  return out;
}

/**
 * A bounded, crash-safe FIFO of JSON records in a folder. Synchronous: an append has reached
 * the disk when it returns.
 *
 * @example
 * ```ts
 * const spool = Spool.open(await Deno.makeTempDir(), { recordsMax: 1000 });
 * const seq = spool.append({ topic: "a", payload: 1 });
 * for (const record of spool.peek(-1, 10)) console.log(record.seq, record.value);
 * if (seq !== null) spool.ack(seq);
 * spool.close();
 * ```
 */
export class Spool {
  /** The folder. */
  readonly dir: string;
  /** The capacity and policy in force. */
  readonly options: Readonly<Required<SpoolOptions>>;
  /** Counters since open (a live object; read it, do not write it). */
  readonly counters: SpoolCounters = {
    spooled: 0,
    acked: 0,
    droppedOldest: 0,
    rejectedNew: 0,
    recovered: 0,
    truncatedBytes: 0,
  };

  readonly #segments: Segment[] = [];
  /** Live entries from `#indexHead` on, in seq order. */
  #index: Entry[] = [];
  #indexHead = 0;
  #liveBytes = 0;
  #nextSeq = 0;
  #cursorSeq = 0;
  #writer: Deno.FsFile | null = null;
  #closed = false;

  private constructor(dir: string, options: Required<SpoolOptions>) {
    this.dir = dir;
    this.options = Object.freeze(options);
  }

  /**
   * Opens (creating if needed) the spool in `dir`, recovering every complete record and
   * truncating a torn tail. Throws `FleetError` `spool_io` when the folder is unusable and
   * `config_invalid` for bad options.
   */
  static open(dir: string, options: SpoolOptions = {}): Spool {
    const resolved: Required<SpoolOptions> = {
      bytesMax: options.bytesMax ?? 64 * 1024 * 1024,
      recordsMax: options.recordsMax ?? 100_000,
      policy: options.policy ?? "drop_oldest",
      segmentBytes: options.segmentBytes ?? 4 * 1024 * 1024,
      recordBytesMax: options.recordBytesMax ?? 1024 * 1024,
      fsync: options.fsync ?? true,
    };
    for (const key of ["bytesMax", "recordsMax", "segmentBytes", "recordBytesMax"] as const) {
      const value = resolved[key];
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new FleetError(
          "config_invalid",
          `Cannot open spool '${dir}': ${key} must be a positive integer, got ${value}`,
        );
      }
    }
    if (resolved.policy !== "drop_oldest" && resolved.policy !== "reject_new") {
      throw new FleetError(
        "config_invalid",
        `Cannot open spool '${dir}': policy must be drop_oldest or reject_new, got '${resolved.policy}'`,
      );
    }
    const spool = new Spool(dir, resolved);
    try {
      spool.#recover();
    } catch (error) {
      spool.close();
      if (error instanceof FleetError) throw error;
      throw new FleetError("spool_io", `Cannot open spool '${dir}': ${String(error)}`, {
        cause: error,
      });
    }
    return spool;
  }

  /** Live records (appended, neither acknowledged nor dropped). */
  get size(): number {
    return this.#index.length - this.#indexHead;
  }

  /** Bytes of live records, headers included. */
  get bytes(): number {
    return this.#liveBytes;
  }

  /** The seq the next append gets. */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** The seq of the oldest live record, or `null` when empty. */
  get headSeq(): number | null {
    return this.size === 0 ? null : this.#index[this.#indexHead].seq;
  }

  /**
   * Appends `value` and returns its seq, or `null` when the spool is full under
   * `reject_new` (counted in `rejectedNew`). Under `drop_oldest` the oldest records make room
   * (counted in `droppedOldest`). Throws `record_too_large` for a record that could never fit.
   */
  append(value: JsonValue): number | null {
    this.#assertOpen("append to");
    const json = new TextEncoder().encode(JSON.stringify(value));
    const recordBytes = HEADER_BYTES + json.length;
    if (json.length > this.options.recordBytesMax || recordBytes > this.options.bytesMax) {
      throw new FleetError(
        "record_too_large",
        `Cannot append to spool '${this.dir}': record is ${json.length} bytes, limit ${
          Math.min(this.options.recordBytesMax, this.options.bytesMax - HEADER_BYTES)
        }`,
      );
    }
    const full = () =>
      this.size + 1 > this.options.recordsMax ||
      this.#liveBytes + recordBytes > this.options.bytesMax;
    if (full()) {
      if (this.options.policy === "reject_new") {
        this.counters.rejectedNew += 1;
        return null;
      }
      // Bounded by the live record count: each pass removes one.
      while (full() && this.size > 0) {
        this.#dropHead();
        this.counters.droppedOldest += 1;
      }
      this.#advanceHead(true);
    }
    const header = new Uint8Array(HEADER_BYTES + json.length);
    const view = new DataView(header.buffer);
    view.setUint32(0, json.length, true);
    view.setUint32(4, crc32(json), true);
    header.set(json, HEADER_BYTES);
    let segment = this.#segments.at(-1);
    if (
      segment === undefined || this.#writer === null ||
      (segment.bytes > 0 && segment.bytes + recordBytes > this.options.segmentBytes)
    ) {
      segment = this.#startSegment(this.#nextSeq);
    }
    const writer = this.#writer!;
    try {
      writeAll(writer, header);
      if (this.options.fsync) writer.syncDataSync();
    } catch (error) {
      // The file may now hold a partial record: cut it off so the next append starts clean.
      try {
        writer.truncateSync(segment.bytes);
      } catch { /* reported below */ }
      throw new FleetError(
        "spool_io",
        `Cannot append to spool '${segment.path}': ${String(error)}`,
        { cause: error },
      );
    }
    const seq = this.#nextSeq;
    this.#index.push({ seq, segment, offset: segment.bytes, length: json.length, acked: false });
    segment.bytes += recordBytes;
    segment.endSeq = seq + 1;
    this.#nextSeq = seq + 1;
    this.#liveBytes += recordBytes;
    this.counters.spooled += 1;
    return seq;
  }

  /**
   * Up to `limit` live records with seq greater than `afterSeq`, oldest first (records acked
   * out of order are skipped). Pass `-1` to start at the head.
   */
  peek(afterSeq: number, limit: number): SpoolRecord[] {
    this.#assertOpen("read");
    const out: SpoolRecord[] = [];
    let i = this.#firstIndexAfter(afterSeq);
    for (; i < this.#index.length && out.length < limit; i += 1) {
      const entry = this.#index[i];
      if (entry.acked) continue;
      out.push({ seq: entry.seq, value: this.#read(entry) });
    }
    return out;
  }

  /**
   * Removes the record `seq` (the broker has it). Returns `false` when it is not live (already
   * acked, dropped, or never appended).
   */
  ack(seq: number): boolean {
    this.#assertOpen("ack in");
    const i = this.#firstIndexAfter(seq - 1);
    const entry = this.#index[i];
    if (entry === undefined || entry.seq !== seq || entry.acked) return false;
    entry.acked = true;
    this.#liveBytes -= HEADER_BYTES + entry.length;
    this.counters.acked += 1;
    this.#advanceHead();
    return true;
  }

  /** Writes the cursor and closes the files. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#writeCursor();
    } catch { /* closing keeps going; at worst records are sent again */ }
    this.#writer?.close();
    this.#writer = null;
    for (const segment of this.#segments) {
      segment.reader?.close();
      segment.reader = null;
    }
  }

  #assertOpen(action: string): void {
    if (this.#closed) {
      throw new FleetError("spool_closed", `Cannot ${action} spool '${this.dir}': it is closed`);
    }
  }

  /** Index position of the first entry with seq > `seq` (binary search over live entries). */
  #firstIndexAfter(seq: number): number {
    let lo = this.#indexHead;
    let hi = this.#index.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#index[mid].seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  #read(entry: Entry): JsonValue {
    const segment = entry.segment;
    segment.reader ??= Deno.openSync(segment.path, { read: true });
    const bytes = readExactly(segment.reader, entry.offset + HEADER_BYTES, entry.length);
    return JSON.parse(new TextDecoder().decode(bytes));
  }

  /** Drops the oldest live entry (full policy); the caller then calls `#advanceHead(true)`. */
  #dropHead(): void {
    const entry = this.#index[this.#indexHead];
    // The head entry is never acked: #advanceHead pops acked entries off the front.
    this.#liveBytes -= HEADER_BYTES + entry.length;
    entry.acked = true;
    this.#indexHead += 1;
    while (this.#indexHead < this.#index.length && this.#index[this.#indexHead].acked) {
      this.#indexHead += 1;
    }
  }

  /** Pops acked entries off the front, deletes spent segments, persists the cursor. */
  #advanceHead(moved = false): void {
    const before = this.#indexHead;
    while (this.#indexHead < this.#index.length && this.#index[this.#indexHead].acked) {
      this.#indexHead += 1;
    }
    if (this.#indexHead === before && !moved) return;
    const headSeq = this.headSeq ?? this.#nextSeq;
    if (this.#indexHead >= INDEX_COMPACT_MIN && this.#indexHead * 2 >= this.#index.length) {
      this.#index = this.#index.slice(this.#indexHead);
      this.#indexHead = 0;
    }
    this.#cursorSeq = headSeq;
    this.#writeCursor();
    // Delete whole segments below the head; the last (written) one stays.
    while (this.#segments.length > 1 && this.#segments[0].endSeq <= headSeq) {
      const spent = this.#segments.shift()!;
      spent.reader?.close();
      spent.reader = null;
      Deno.removeSync(spent.path);
    }
  }

  #writeCursor(): void {
    const tmp = `${this.dir}/cursor.tmp`;
    Deno.writeTextFileSync(tmp, JSON.stringify({ headSeq: this.#cursorSeq }));
    Deno.renameSync(tmp, `${this.dir}/cursor`);
  }

  #startSegment(firstSeq: number): Segment {
    this.#writer?.close();
    this.#writer = null;
    const path = `${this.dir}/${segmentName(firstSeq)}`;
    const writer = Deno.openSync(path, { write: true, create: true, truncate: true });
    const segment: Segment = { firstSeq, path, bytes: 0, endSeq: firstSeq, reader: null };
    this.#writer = writer;
    this.#segments.push(segment);
    this.#syncDir();
    return segment;
  }

  /** Makes a created or removed file name durable (best effort: not every FS allows it). */
  #syncDir(): void {
    if (!this.options.fsync) return;
    try {
      const dir = Deno.openSync(this.dir, { read: true });
      try {
        dir.syncSync();
      } finally {
        dir.close();
      }
    } catch { /* some file systems refuse fsync on a folder */ }
  }

  #recover(): void {
    Deno.mkdirSync(this.dir, { recursive: true });
    try {
      const cursor = JSON.parse(Deno.readTextFileSync(`${this.dir}/cursor`));
      if (Number.isSafeInteger(cursor?.headSeq) && cursor.headSeq >= 0) {
        this.#cursorSeq = cursor.headSeq;
      }
    } catch (error) {
      // No cursor yet (new spool) or a torn one: start from the first record on disk.
      if (!(error instanceof Deno.errors.NotFound) && !(error instanceof SyntaxError)) throw error;
    }
    const names: string[] = [];
    for (const item of Deno.readDirSync(this.dir)) {
      if (item.isFile && SEGMENT_RE.test(item.name)) names.push(item.name);
    }
    names.sort();
    this.#nextSeq = this.#cursorSeq;
    for (const name of names) {
      const firstSeq = Number(SEGMENT_RE.exec(name)![1]);
      const path = `${this.dir}/${name}`;
      const segment: Segment = { firstSeq, path, bytes: 0, endSeq: firstSeq, reader: null };
      this.#scanSegment(segment);
      this.#nextSeq = Math.max(this.#nextSeq, segment.endSeq);
      if (segment.endSeq <= this.#cursorSeq) {
        Deno.removeSync(path);
        continue;
      }
      this.#segments.push(segment);
    }
    this.counters.recovered = this.size;
    const last = this.#segments.at(-1);
    if (last !== undefined && last.bytes < this.options.segmentBytes) {
      this.#writer = Deno.openSync(last.path, { write: true });
      this.#writer.seekSync(last.bytes, Deno.SeekMode.Start);
    }
  }

  /** Reads the records of one segment into the index, truncating at the first bad one. */
  #scanSegment(segment: Segment): void {
    const data = Deno.readFileSync(segment.path);
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    let offset = 0;
    let seq = segment.firstSeq;
    // Bounded by the file size: each pass consumes at least a header.
    while (offset + HEADER_BYTES <= data.length) {
      const length = view.getUint32(offset, true);
      const crc = view.getUint32(offset + 4, true);
      const end = offset + HEADER_BYTES + length;
      if (length === 0 || length > this.options.recordBytesMax || end > data.length) break;
      const json = data.subarray(offset + HEADER_BYTES, end);
      if (crc32(json) !== crc) break;
      try {
        JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(json));
      } catch {
        break;
      }
      if (seq >= this.#cursorSeq) {
        this.#index.push({ seq, segment, offset, length, acked: false });
        this.#liveBytes += HEADER_BYTES + length;
      }
      seq += 1;
      offset = end;
    }
    if (offset < data.length) {
      this.counters.truncatedBytes += data.length - offset;
      Deno.truncateSync(segment.path, offset);
    }
    segment.bytes = offset;
    segment.endSeq = seq;
  }
}
