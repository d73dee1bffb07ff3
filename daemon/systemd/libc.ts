/**
 * The few libc calls the systemd integration needs, through Deno FFI: an AF_UNIX datagram
 * socket (bind, non-blocking send and receive, for paths and abstract names) and
 * CLOCK_MONOTONIC. Deno's own `Deno.listenDatagram({ transport: "unixpacket" })` needs
 * `--unstable-net`, must bind a path of its own to send, and cannot reach an abstract name;
 * FFI needs only `--allow-ffi`, which the daemon has for its kernels anyway.
 *
 * @module
 */

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const CLOCK_MONOTONIC = 1;
/** `struct sockaddr_un`: a 2-byte family and 108 bytes of path. */
const SOCKADDR_UN_BYTES = 110;
const SUN_PATH_BYTES = 108;
/** errno of a non-blocking call that would block. */
export const EAGAIN = 11;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"], result: "isize" },
  recv: { parameters: ["i32", "buffer", "usize", "i32"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: Libc | null = null;

/**
 * libc, opened once and never closed: calling a symbol after `close()` crashes Deno, and
 * the process needs these calls until it exits.
 */
function symbols(): Libc {
  if (libc === null) {
    const names = Deno.build.os === "linux" ? ["libc.so.6", "libc.so"] : ["libc.dylib"];
    let lastError: unknown = null;
    for (const name of names) {
      try {
        libc = Deno.dlopen(name, SYMBOLS).symbols;
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (libc === null) throw new Error(`Cannot open libc (${names.join(", ")}): ${lastError}`);
  }
  return libc;
}

/** The calling thread's errno. */
function errno(): number {
  const pointer = symbols().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/** A failed libc call, with its errno. */
export class LibcError extends Error {
  /** The errno value. */
  readonly errno: number;

  /** `call` failed with `errno`. */
  constructor(call: string, errnoValue: number, detail: string) {
    super(`${call} failed with errno ${errnoValue}${detail ? ` (${detail})` : ""}`);
    this.name = "LibcError";
    this.errno = errnoValue;
  }
}

/**
 * A `sockaddr_un` for `address`: a file system path, or an abstract name written `@name`
 * (systemd's notation; the leading `@` becomes a NUL byte). Returns the bytes and the
 * address length to pass.
 *
 * @example
 * ```ts
 * import { unixAddress } from "./libc.ts";
 * console.log(unixAddress("@onebit").length); // 10
 * ```
 */
export function unixAddress(address: string): { bytes: Uint8Array; length: number } {
  const name = new TextEncoder().encode(address);
  const abstract = address.startsWith("@");
  if (name.length === 0 || name.length > SUN_PATH_BYTES - (abstract ? 0 : 1)) {
    throw new RangeError(
      `unix socket address '${address}' is ${name.length} bytes, expected 1..${SUN_PATH_BYTES - 1}`,
    );
  }
  const bytes = new Uint8Array(SOCKADDR_UN_BYTES);
  new DataView(bytes.buffer).setUint16(0, AF_UNIX, true);
  bytes.set(name, 2);
  if (abstract) bytes[2] = 0;
  // Paths are NUL-terminated (the buffer is zeroed); abstract names are exactly as long.
  return { bytes, length: 2 + name.length + (abstract ? 0 : 1) };
}

/**
 * An AF_UNIX datagram socket.
 *
 * @example
 * ```ts ignore
 * const socket = UnixDatagramSocket.open();
 * socket.send("/run/systemd/notify", new TextEncoder().encode("READY=1"));
 * socket.close();
 * ```
 */
export class UnixDatagramSocket {
  #fd: number;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /** A new unbound socket (close-on-exec, so ffmpeg children do not inherit it). */
  static open(): UnixDatagramSocket {
    const fd = symbols().socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw new LibcError("socket(AF_UNIX, SOCK_DGRAM)", errno(), "");
    return new UnixDatagramSocket(fd);
  }

  /** A socket bound to `address` (a path or `@abstract`), to receive on. */
  static bind(address: string): UnixDatagramSocket {
    const socket = UnixDatagramSocket.open();
    const { bytes, length } = unixAddress(address);
    if (symbols().bind(socket.#fd, bytes, length) !== 0) {
      const code = errno();
      socket.close();
      throw new LibcError("bind", code, address);
    }
    return socket;
  }

  /**
   * Sends one datagram to `address` without blocking. Returns `false` when the receiver's
   * queue is full (EAGAIN); throws a {@linkcode LibcError} for anything else.
   */
  send(address: string, message: Uint8Array): boolean {
    this.#checkOpen();
    const { bytes, length } = unixAddress(address);
    const buffer = message.slice(); // an exact ArrayBuffer for FFI
    const sent = symbols().sendto(
      this.#fd,
      buffer,
      BigInt(buffer.length),
      MSG_DONTWAIT | MSG_NOSIGNAL,
      bytes,
      length,
    );
    if (Number(sent) >= 0) return true;
    const code = errno();
    if (code === EAGAIN) return false;
    throw new LibcError("sendto", code, address);
  }

  /** Receives one datagram if one is queued (non-blocking), else `null`. */
  receive(bytesMax = 4096): Uint8Array | null {
    this.#checkOpen();
    const buffer = new Uint8Array(bytesMax);
    const received = Number(symbols().recv(this.#fd, buffer, BigInt(bytesMax), MSG_DONTWAIT));
    if (received >= 0) return buffer.subarray(0, received);
    const code = errno();
    if (code === EAGAIN) return null;
    throw new LibcError("recv", code, "");
  }

  /** Closes the socket; idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    symbols().close(this.#fd);
    this.#fd = -1;
  }

  #checkOpen(): void {
    if (this.#fd < 0) throw new Error("unix datagram socket is closed");
  }
}

/**
 * CLOCK_MONOTONIC in microseconds (what systemd's `MONOTONIC_USEC` expects;
 * `performance.now()` counts from the process start instead).
 *
 * @example
 * ```ts ignore
 * console.log(monotonicMicroseconds() > 0n); // true
 * ```
 */
export function monotonicMicroseconds(): bigint {
  const timespec = new BigInt64Array(2);
  if (symbols().clock_gettime(CLOCK_MONOTONIC, timespec) !== 0) {
    throw new LibcError("clock_gettime(CLOCK_MONOTONIC)", errno(), "");
  }
  return timespec[0] * 1_000_000n + timespec[1] / 1000n;
}
