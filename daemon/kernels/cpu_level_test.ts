import assert from "node:assert/strict";
import {
  CPU_LEVEL_ENV,
  CPU_LEVELS,
  cpuFeatures,
  cpuLevelArch,
  cpuLevelFromNumber,
  cpuLevelNumber,
  detectCpuLevel,
  forcedCpuLevel,
  hostCpuLevel,
  isCpuLevel,
  missingCpuFeatures,
  supportedCpuLevels,
} from "./cpu_level.ts";
import { KernelError } from "./errors.ts";

/** `/proc/cpuinfo` of one processor: enough lines around `flags`/`Features` to be realistic. */
function x86Cpuinfo(model: string, flags: string): string {
  return `processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: ${model}\n` +
    `flags\t\t: ${flags}\nbugs\t\t: spectre_v1\nbogomips\t: 4800.00\n\n`;
}

function armCpuinfo(part: string, features: string): string {
  return `processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: ${features}\n` +
    `CPU implementer\t: 0x41\nCPU architecture: 8\nCPU part\t: ${part}\n\n`;
}

const sandyBridgeFlags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat " +
  "pse36 clflush mmx fxsr sse sse2 ht syscall nx rdtscp lm constant_tsc nopl pni pclmulqdq " +
  "ssse3 cx16 sse4_1 sse4_2 x2apic popcnt aes xsave avx lahf_lm";
const haswellFlags = sandyBridgeFlags +
  " fma movbe f16c rdrand abm fsgsbase bmi1 avx2 smep bmi2 erms invpcid xsaveopt";
const skylakeXFlags = haswellFlags +
  " avx512f avx512dq rdseed adx smap clflushopt clwb avx512cd avx512bw avx512vl";
const genoaFlags = "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 " +
  "clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc " +
  "rep_good nopl xtopology nonstop_tsc cpuid extd_apicid tsc_known_freq pni pclmulqdq ssse3 " +
  "fma cx16 pcid sse4_1 sse4_2 x2apic movbe popcnt tsc_deadline_timer aes xsave avx f16c " +
  "rdrand hypervisor lahf_lm cmp_legacy cr8_legacy abm sse4a misalignsse 3dnowprefetch osvw " +
  "topoext vmmcall fsgsbase tsc_adjust bmi1 avx2 smep bmi2 erms invpcid avx512f avx512dq " +
  "rdseed adx smap avx512ifma clflushopt clwb avx512cd sha_ni avx512bw avx512vl xsaveopt " +
  "xsavec xgetbv1 xsaves avx512_bf16 clzero xsaveerptr arat avx512vbmi umip avx512_vbmi2 " +
  "gfni vaes vpclmulqdq avx512_vnni avx512_bitalg avx512_vpopcntdq rdpid fsrm";
const cortexA76Features = "fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp " +
  "cpuid asimdrdm lrcpc dcpop asimddp";
const cortexA72Features = "fp asimd evtstrm crc32 cpuid";

const fixtures = {
  genoa: x86Cpuinfo("AMD EPYC 9R14", genoaFlags),
  skylakeX: x86Cpuinfo("Intel(R) Xeon(R) Gold 6148", skylakeXFlags),
  haswell: x86Cpuinfo("Intel(R) Core(TM) i7-4770", haswellFlags),
  sandyBridge: x86Cpuinfo("Intel(R) Core(TM) i7-2600", sandyBridgeFlags),
  raspberryPi5: armCpuinfo("0xd0b", cortexA76Features),
  raspberryPi4: armCpuinfo("0xd08", cortexA72Features),
};

Deno.test("CpuLevel names and numbers equal Level in cpu.zig", async () => {
  const source = await Deno.readTextFile(
    new URL("../../kernels/src/cpu.zig", import.meta.url),
  );
  const body = source.match(/pub const Level = enum\(u32\) \{([^}]*)\}/);
  assert.ok(body, "cpu.zig declares `pub const Level = enum(u32) { ... }`");
  const zigLevels = [...body[1].matchAll(/^\s*(\w+)\s*=\s*(\d+),/gm)].map((match) => ({
    name: match[1],
    number: Number(match[2]),
  }));
  assert.deepEqual(
    CPU_LEVELS.map((name) => ({ name, number: cpuLevelNumber(name) })),
    zigLevels,
  );
});

Deno.test("cpuLevelFromNumber and isCpuLevel round-trip every level and refuse others", () => {
  for (const level of CPU_LEVELS) {
    assert.equal(cpuLevelFromNumber(cpuLevelNumber(level)), level);
    assert.ok(isCpuLevel(level));
  }
  assert.equal(cpuLevelFromNumber(5), undefined);
  assert.equal(cpuLevelFromNumber(-1), undefined);
  assert.ok(!isCpuLevel("x86_64_v2"));
  assert.ok(!isCpuLevel("length"));
  assert.equal(cpuLevelArch("x86_64_baseline"), "x86_64");
  assert.equal(cpuLevelArch("aarch64_generic"), "aarch64");
});

Deno.test("detectCpuLevel picks x86_64_v4 on a CPU with AVX-512 VPOPCNTDQ", () => {
  assert.equal(detectCpuLevel(fixtures.genoa, "x86_64"), "x86_64_v4");
  assert.deepEqual(supportedCpuLevels(fixtures.genoa, "x86_64"), [
    "x86_64_baseline",
    "x86_64_v3",
    "x86_64_v4",
  ]);
});

Deno.test("detectCpuLevel picks x86_64_v3 on AVX2 and on AVX-512 without VPOPCNTDQ", () => {
  assert.equal(detectCpuLevel(fixtures.haswell, "x86_64"), "x86_64_v3");
  assert.equal(detectCpuLevel(fixtures.skylakeX, "x86_64"), "x86_64_v3");
  assert.deepEqual(missingCpuFeatures("x86_64_v4", cpuFeatures(fixtures.skylakeX, "x86_64")!), [
    "avx512_vpopcntdq",
  ]);
});

Deno.test("detectCpuLevel picks x86_64_baseline without AVX2", () => {
  assert.equal(detectCpuLevel(fixtures.sandyBridge, "x86_64"), "x86_64_baseline");
  assert.deepEqual(
    missingCpuFeatures("x86_64_v3", cpuFeatures(fixtures.sandyBridge, "x86_64")!),
    ["avx2", "bmi1", "bmi2", "fma", "f16c", "movbe", "abm|lzcnt"],
  );
});

Deno.test("detectCpuLevel accepts lzcnt as the spelling of abm", () => {
  const flags = haswellFlags.replace(" abm", " lzcnt");
  assert.equal(detectCpuLevel(x86Cpuinfo("renamed", flags), "x86_64"), "x86_64_v3");
  const neither = haswellFlags.replace(" abm", "");
  assert.equal(detectCpuLevel(x86Cpuinfo("no lzcnt", neither), "x86_64"), "x86_64_baseline");
});

Deno.test("detectCpuLevel picks aarch64_cortex_a76 with dot product, atomics, fp16, rcpc", () => {
  assert.equal(detectCpuLevel(fixtures.raspberryPi5, "aarch64"), "aarch64_cortex_a76");
});

Deno.test("detectCpuLevel picks aarch64_generic on a Cortex-A72", () => {
  assert.equal(detectCpuLevel(fixtures.raspberryPi4, "aarch64"), "aarch64_generic");
  assert.deepEqual(
    missingCpuFeatures("aarch64_cortex_a76", cpuFeatures(fixtures.raspberryPi4, "aarch64")!),
    ["asimddp", "atomics", "asimdhp", "lrcpc"],
  );
  for (const missing of ["asimddp", "atomics", "asimdhp", "lrcpc"]) {
    const features = cortexA76Features.split(" ").filter((flag) => flag !== missing).join(" ");
    assert.equal(detectCpuLevel(armCpuinfo("0xd0b", features), "aarch64"), "aarch64_generic");
  }
});

Deno.test("detectCpuLevel falls back to the lowest level when cpuinfo has no flags for the arch", () => {
  // qemu-user shows the host's /proc/cpuinfo: x86 text while running aarch64 code.
  assert.equal(cpuFeatures(fixtures.genoa, "aarch64"), undefined);
  assert.equal(detectCpuLevel(fixtures.genoa, "aarch64"), "aarch64_generic");
  assert.equal(detectCpuLevel(fixtures.raspberryPi5, "x86_64"), "x86_64_baseline");
  assert.equal(detectCpuLevel("", "x86_64"), "x86_64_baseline");
});

Deno.test("cpuFeatures reads the first processor only", () => {
  const twoProcessors = fixtures.genoa + x86Cpuinfo("second", "fpu sse sse2");
  assert.ok(cpuFeatures(twoProcessors, "x86_64")!.has("avx512_vpopcntdq"));
  assert.equal(detectCpuLevel(twoProcessors, "x86_64"), "x86_64_v4");
});

Deno.test("forcedCpuLevel reads ONEBIT_CPU_LEVEL and refuses unknown names", () => {
  const saved = Deno.env.get(CPU_LEVEL_ENV);
  try {
    Deno.env.set(CPU_LEVEL_ENV, "x86_64_baseline");
    assert.equal(forcedCpuLevel(), "x86_64_baseline");
    assert.equal(hostCpuLevel(), "x86_64_baseline");
    Deno.env.set(CPU_LEVEL_ENV, "");
    assert.equal(forcedCpuLevel(), undefined);
    Deno.env.set(CPU_LEVEL_ENV, "avx9000");
    assert.throws(() => forcedCpuLevel(), (error: unknown) => {
      assert.ok(error instanceof KernelError);
      assert.equal(error.code, "invalid_argument");
      assert.match(error.message, /ONEBIT_CPU_LEVEL is 'avx9000', expected one of x86_64_baseline/);
      return true;
    });
    Deno.env.delete(CPU_LEVEL_ENV);
    assert.equal(forcedCpuLevel(), undefined);
    assert.ok(isCpuLevel(hostCpuLevel()));
  } finally {
    if (saved === undefined) Deno.env.delete(CPU_LEVEL_ENV);
    else Deno.env.set(CPU_LEVEL_ENV, saved);
  }
});
