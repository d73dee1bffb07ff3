import assert from "node:assert/strict";
import {
  CPU_LEVEL_ENV,
  CPU_LEVELS,
  type CpuLevel,
  cpuLevelArch,
  cpuLevelNumber,
  hostArch,
  hostCpuFeatures,
  hostCpuLevel,
  missingCpuFeatures,
} from "./cpu_level.ts";
import { KernelError, type KernelErrorCode } from "./errors.ts";
import {
  ABI_VERSION,
  checkLibraryIdentity,
  defaultLibDir,
  KernelContext,
  LIB_DIR_ENV,
  libraryFileName,
  MESSAGE_BYTES_MAX,
  openKernels,
  THREADS_MAX,
} from "./library.ts";

/**
 * Levels the harness knows this (emulated) CPU lacks although `/proc/cpuinfo` cannot tell:
 * scripts/aarch64.sh sets it when it runs these tests under `qemu-aarch64 -cpu cortex-a53`.
 */
const UNSUPPORTED_ENV = "ONEBIT_TEST_UNSUPPORTED_LEVELS";

function rejects(code: KernelErrorCode, pattern?: RegExp): (error: unknown) => boolean {
  return (error: unknown) => {
    assert.ok(error instanceof KernelError, `expected a KernelError, got ${error}`);
    assert.equal(error.code, code, error.message);
    if (pattern !== undefined) assert.match(error.message, pattern);
    return true;
  };
}

function withEnv(name: string, value: string | undefined, body: () => void): void {
  const saved = Deno.env.get(name);
  try {
    if (value === undefined) Deno.env.delete(name);
    else Deno.env.set(name, value);
    body();
  } finally {
    if (saved === undefined) Deno.env.delete(name);
    else Deno.env.set(name, saved);
  }
}

async function zigConstant(file: string, name: string): Promise<number> {
  const source = await Deno.readTextFile(new URL(`../../kernels/src/${file}`, import.meta.url));
  const match = source.match(new RegExp(`pub const ${name}: \\w+ = (\\d+);`));
  assert.ok(match, `${file} declares ${name}`);
  return Number(match[1]);
}

const arch = hostArch();
const lackingLevels: CpuLevel[] = (() => {
  const features = hostCpuFeatures(arch);
  if (features === undefined) return [];
  return CPU_LEVELS.filter((level) =>
    cpuLevelArch(level) === arch && missingCpuFeatures(level, features).length > 0
  );
})();
const emulatedLackingLevels = (Deno.env.get(UNSUPPORTED_ENV) ?? "").split(",")
  .filter((level): level is CpuLevel => (CPU_LEVELS as readonly string[]).includes(level));

Deno.test("ABI_VERSION, THREADS_MAX and MESSAGE_BYTES_MAX equal the Zig constants", async () => {
  assert.equal(ABI_VERSION, await zigConstant("root.zig", "abi_version"));
  assert.equal(THREADS_MAX, await zigConstant("limits.zig", "threads_max"));
  assert.equal(MESSAGE_BYTES_MAX, await zigConstant("limits.zig", "message_bytes_max"));
});

Deno.test("openKernels loads the library of the host level and checks ABI, level and CPU", () => {
  const lib = openKernels();
  try {
    assert.equal(lib.level, hostCpuLevel());
    assert.equal(lib.path, `${defaultLibDir()}/${libraryFileName(lib.level)}`);
    assert.equal(lib.abiVersion, ABI_VERSION);
    const { ob_abi_version, ob_cpu_level, ob_cpu_check } = lib.symbols;
    assert.equal(ob_abi_version(), ABI_VERSION);
    assert.equal(ob_cpu_level(), cpuLevelNumber(lib.level));
    assert.equal(ob_cpu_check(), 0);
    assert.equal(lib.closed, false);
    assert.equal(lib.users, 0);
  } finally {
    lib.close();
  }
  assert.equal(lib.closed, true);
});

Deno.test("KernelContext creates and destroys contexts of 1 and 2 threads", () => {
  const lib = openKernels();
  try {
    for (const threads of [1, 2]) {
      const ctx = new KernelContext(lib, { threads });
      assert.equal(ctx.threads, threads);
      assert.equal(ctx.variant, "simd");
      assert.equal(ctx.lastError(), "");
      assert.equal(lib.users, 1);
      ctx.destroy();
      assert.equal(ctx.destroyed, true);
      assert.equal(lib.users, 0);
    }
    const ctx = new KernelContext(lib);
    assert.equal(ctx.threads, Math.min(navigator.hardwareConcurrency, THREADS_MAX));
    ctx.destroy();
  } finally {
    lib.close();
  }
});

Deno.test("KernelContext forceScalar gives the scalar variant", () => {
  const lib = openKernels();
  try {
    const ctx = new KernelContext(lib, { threads: 2, forceScalar: true });
    assert.equal(ctx.variant, "scalar");
    assert.equal(ctx.threads, 2);
    ctx.destroy();
  } finally {
    lib.close();
  }
});

Deno.test("KernelContext refuses 0, 65 and non-integer thread counts with invalid_argument", () => {
  const lib = openKernels();
  try {
    for (const threads of [0, THREADS_MAX + 1]) {
      assert.throws(
        () => new KernelContext(lib, { threads }),
        rejects(
          "invalid_argument",
          new RegExp(`with ${threads} thread\\(s\\): invalid_argument \\(-1\\); threads must be 1`),
        ),
      );
    }
    for (const threads of [1.5, -1, Number.NaN]) {
      assert.throws(
        () => new KernelContext(lib, { threads }),
        rejects("invalid_argument", new RegExp(`threads is ${threads}, must be an integer`)),
      );
    }
    assert.equal(lib.users, 0, "a failed creation leaves no user behind");
  } finally {
    lib.close();
  }
});

Deno.test("KernelContext.check passes ok and throws the status with its name and message", () => {
  const lib = openKernels();
  const ctx = new KernelContext(lib, { threads: 1 });
  try {
    ctx.check(0, "nothing");
    assert.throws(
      () => ctx.check(-2, "bconv2d b3"),
      (error: unknown) => {
        assert.ok(error instanceof KernelError);
        assert.equal(error.code, "buffer_too_small");
        assert.equal(error.status, -2);
        assert.equal(error.message, "bconv2d b3 failed: buffer_too_small (-2)");
        return true;
      },
    );
    assert.throws(
      () => ctx.check(-99, "future op"),
      (error: unknown) =>
        error instanceof KernelError && error.code === "unknown_status" && error.status === -99,
    );
  } finally {
    ctx.destroy();
    lib.close();
  }
});

Deno.test("KernelContext.check carries the library's last error message", () => {
  // ob_bitpack is the first family symbol (bitpack.zig); any call that fails with a
  // message would do. Every call clears the message first.
  const lib = openKernels();
  const ctx = new KernelContext(lib, { threads: 1 });
  try {
    const { ob_bitpack } = lib.symbols;
    const unknownDtype = ob_bitpack(ctx.handle, 9, 1, 1, null, 0, null, 0, null, 0);
    assert.throws(
      () => ctx.check(unknownDtype, "bitpack of layer 3"),
      (error: unknown) => {
        assert.ok(error instanceof KernelError);
        assert.equal(error.code, "invalid_argument");
        assert.equal(error.status, -1);
        assert.match(
          error.message,
          /^bitpack of layer 3 failed: invalid_argument \(-1\): dtype 9 is unknown/,
        );
        return true;
      },
    );
    const empty = ob_bitpack(ctx.handle, 0, 0, 1, null, 0, null, 0, null, 0);
    assert.equal(empty, -1);
    assert.match(ctx.lastError(), /^pixels 0 x channels 1 is empty$/);
  } finally {
    ctx.destroy();
    lib.close();
  }
});

Deno.test("a destroyed context throws destroyed instead of calling native code", () => {
  const lib = openKernels();
  try {
    const ctx = new KernelContext(lib, { threads: 2 });
    ctx.destroy();
    ctx.destroy();
    assert.equal(lib.users, 0);
    assert.throws(() => ctx.handle, rejects("destroyed", /it was destroyed/));
    assert.throws(() => ctx.lastError(), rejects("destroyed"));
    assert.throws(() => ctx.check(-1, "bconv2d"), rejects("destroyed"));
  } finally {
    lib.close();
  }
});

Deno.test("KernelLibrary close is refused while a context is alive and is idempotent", () => {
  const lib = openKernels();
  const ctx = new KernelContext(lib, { threads: 1 });
  assert.throws(() => lib.close(), rejects("busy", /1 user\(s\) still alive/));
  assert.equal(lib.closed, false);
  assert.equal(lib.symbols.ob_ctx_threads(ctx.handle), 1, "the refused close left it usable");
  ctx.destroy();
  lib.close();
  lib.close();
  assert.equal(lib.closed, true);
});

Deno.test("a closed library throws closed instead of calling native code", () => {
  const lib = openKernels();
  lib.close();
  assert.throws(() => lib.symbols, rejects("closed", /the library is closed/));
  assert.throws(() => new KernelContext(lib, { threads: 1 }), rejects("closed"));
  assert.throws(() => lib.retain(), rejects("closed"));
  assert.equal(lib.users, 0);
});

Deno.test("using destroys the context and closes the library at the end of the block", () => {
  let escaped: KernelContext | undefined;
  {
    using lib = openKernels();
    using ctx = new KernelContext(lib, { threads: 1 });
    escaped = ctx;
  }
  assert.equal(escaped.destroyed, true);
  assert.equal(escaped.lib.closed, true);
});

Deno.test("openKernels refuses a level of another architecture with unsupported_cpu", () => {
  for (const level of CPU_LEVELS.filter((level) => cpuLevelArch(level) !== arch)) {
    assert.throws(
      () => openKernels({ level }),
      rejects("unsupported_cpu", new RegExp(`CPU level ${level} on this ${arch} machine`)),
    );
  }
});

Deno.test("openKernels refuses a level cpuinfo shows missing, naming the missing flags", () => {
  const [level, cpuinfo, missing] = arch === "x86_64"
    ? ["x86_64_v4", "flags\t: fpu sse2 avx avx2 bmi1 bmi2 fma f16c movbe abm popcnt\n", "avx512f"]
    : ["aarch64_cortex_a76", "Features\t: fp asimd evtstrm crc32 cpuid\n", "asimddp"];
  assert.throws(
    () => openKernels({ level: level as CpuLevel, cpuinfo }),
    rejects("unsupported_cpu", new RegExp(`CPU level ${level}: this CPU lacks ${missing}`)),
  );
});

Deno.test({
  name: "openKernels refuses a level the CPU lacks before mapping its library",
  ignore: lackingLevels.length === 0,
  fn() {
    for (const level of lackingLevels) {
      assert.throws(
        () => openKernels({ level }),
        rejects("unsupported_cpu", new RegExp(`CPU level ${level}: this CPU lacks \\w`)),
      );
    }
  },
});

Deno.test({
  name: "the library's own CPU check refuses a level the emulated CPU lacks",
  ignore: emulatedLackingLevels.length === 0,
  fn() {
    for (const level of emulatedLackingLevels) {
      assert.throws(
        () => openKernels({ level, cpuinfo: "" }),
        (error: unknown) => {
          assert.ok(error instanceof KernelError);
          assert.equal(error.code, "unsupported_cpu");
          assert.equal(error.status, -3);
          assert.match(error.message, /ob_cpu_check returned unsupported_cpu -3/);
          return true;
        },
      );
    }
  },
});

Deno.test("forcing a level through ONEBIT_CPU_LEVEL loads that level", () => {
  withEnv(CPU_LEVEL_ENV, hostCpuLevel(), () => {
    const lib = openKernels();
    assert.equal(lib.level, hostCpuLevel());
    lib.close();
  });
  const other = CPU_LEVELS.find((level) => cpuLevelArch(level) !== arch)!;
  withEnv(CPU_LEVEL_ENV, other, () => {
    assert.throws(() => openKernels(), rejects("unsupported_cpu"));
  });
  withEnv(CPU_LEVEL_ENV, "x86_64_v9", () => {
    assert.throws(() => openKernels(), rejects("invalid_argument", /x86_64_v9/));
  });
});

Deno.test("openKernels refuses an unknown level name with invalid_argument", () => {
  assert.throws(
    () => openKernels({ level: "pentium" as CpuLevel }),
    rejects("invalid_argument", /level is 'pentium'/),
  );
});

Deno.test("openKernels names the missing library file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const level = hostCpuLevel();
    assert.throws(
      () => openKernels({ libDir: dir }),
      rejects("library_not_found", new RegExp(`${dir}/libonebit-${level}\\.so does not exist`)),
    );
    withEnv(LIB_DIR_ENV, dir, () => {
      assert.equal(defaultLibDir(), dir);
      assert.throws(() => openKernels(), rejects("library_not_found", new RegExp(dir)));
    });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openKernels reports a file that is not a library as library_open_failed", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const level = hostCpuLevel();
    Deno.writeTextFileSync(`${dir}/${libraryFileName(level)}`, "not an ELF file");
    assert.throws(
      () => openKernels({ libDir: dir }),
      rejects("library_open_failed", new RegExp(`Cannot load kernels from ${dir}`)),
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("openKernels refuses a library built for another level than requested", () => {
  const path = `${defaultLibDir()}/${libraryFileName(hostCpuLevel())}`;
  const other = CPU_LEVELS.find((level) =>
    cpuLevelArch(level) === arch && level !== hostCpuLevel()
  )!;
  // cpuinfo "" skips the feature pre-check, so the request reaches the library.
  assert.throws(
    () => openKernels({ path, level: other, cpuinfo: "" }),
    rejects(
      "level_mismatch",
      new RegExp(`built for CPU level ${hostCpuLevel()}, expected ${other}`),
    ),
  );
});

Deno.test("openKernels with a path and no level accepts the library's own level", () => {
  const path = `${defaultLibDir()}/${libraryFileName(hostCpuLevel())}`;
  const level = hostCpuLevel();
  withEnv(CPU_LEVEL_ENV, undefined, () => {
    const lib = openKernels({ path });
    assert.equal(lib.level, level);
    assert.equal(lib.path, path);
    lib.close();
    // The pre-check still applies once the library's level is known.
    const poorCpu = arch === "x86_64" ? "flags\t: fpu\n" : "Features\t: fp\n";
    if (level !== "x86_64_baseline") {
      assert.throws(
        () => openKernels({ path, cpuinfo: poorCpu }),
        rejects("unsupported_cpu", new RegExp(`CPU level ${level}: this CPU lacks`)),
      );
    }
  });
});

Deno.test("checkLibraryIdentity names both values of a mismatch and checks the CPU last", () => {
  let cpuChecks = 0;
  const passing = () => (cpuChecks++, 0);
  assert.equal(
    checkLibraryIdentity(
      { abiVersion: ABI_VERSION, levelNumber: 1, cpuCheck: passing },
      "x86_64_v3",
      "/l.so",
    ),
    "x86_64_v3",
  );
  assert.equal(cpuChecks, 1);
  assert.throws(
    () =>
      checkLibraryIdentity(
        { abiVersion: ABI_VERSION + 1, levelNumber: 1, cpuCheck: passing },
        "x86_64_v3",
        "/l.so",
      ),
    rejects(
      "abi_mismatch",
      new RegExp(
        `/l.so: its ABI version is ${ABI_VERSION + 1}, this daemon expects ${ABI_VERSION}`,
      ),
    ),
  );
  assert.throws(
    () =>
      checkLibraryIdentity(
        { abiVersion: ABI_VERSION, levelNumber: 0, cpuCheck: passing },
        "x86_64_v3",
        "/l.so",
      ),
    rejects("level_mismatch", /built for CPU level x86_64_baseline, expected x86_64_v3/),
  );
  assert.throws(
    () =>
      checkLibraryIdentity(
        { abiVersion: ABI_VERSION, levelNumber: 17, cpuCheck: passing },
        undefined,
        "/l.so",
      ),
    rejects("level_mismatch", /built for CPU level 17, expected a known level/),
  );
  assert.equal(cpuChecks, 1, "no CPU check runs in a library of the wrong ABI or level");
  assert.throws(
    () =>
      checkLibraryIdentity(
        { abiVersion: ABI_VERSION, levelNumber: 2, cpuCheck: () => -3 },
        undefined,
        "/l.so",
      ),
    rejects("unsupported_cpu", /lacks features of CPU level x86_64_v4/),
  );
});
