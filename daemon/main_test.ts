import assert from "node:assert/strict";
import {
  CPU_LEVELS,
  cpuLevelArch,
  hostArch,
  hostCpuLevel,
  hostCpuLevels,
} from "./kernels/cpu_level.ts";
import { main, selfCheck } from "./main.ts";

function run(args: string[]): { code: number; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  const code = main(args, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err };
}

Deno.test("main selfcheck prints the level, library, ABI version and threads", () => {
  const { code, out, err } = run(["--threads", "2"]);
  assert.equal(code, 0, err.join("\n"));
  assert.equal(out[0], "onebit kernel self-check: ok");
  assert.match(out[1], new RegExp(`cpu level +${hostCpuLevel()} \\((detected|env)\\)`));
  assert.match(out[2], new RegExp(`library +/.*/libonebit-${hostCpuLevel()}\\.so$`));
  assert.match(out[3], /abi version +1$/);
  assert.match(out[4], /threads +2 \(simd\)$/);
});

Deno.test("main selfcheck --json prints the report", () => {
  const { code, out } = run(["selfcheck", "--json", "--threads", "1"]);
  assert.equal(code, 0);
  const report = JSON.parse(out.join(""));
  assert.deepEqual(report, { ...selfCheck({ threads: 1 }), threads: 1 });
  assert.equal(report.level, hostCpuLevel());
});

Deno.test("main cpu-level prints the level to load and --all every level the CPU runs", () => {
  assert.deepEqual(run(["cpu-level"]).out, [hostCpuLevel()]);
  assert.deepEqual(run(["cpu-level", "--all"]).out, hostCpuLevels());
});

Deno.test("main exits 1 with the KernelError code when the self-check fails", () => {
  const other = CPU_LEVELS.find((level) => cpuLevelArch(level) !== hostArch())!;
  const { code, err } = run(["--level", other]);
  assert.equal(code, 1);
  assert.match(err[0], new RegExp(`^onebit: self-check failed: unsupported_cpu: .*${other}`));
});

Deno.test("main exits 2 with the usage on bad arguments", () => {
  for (
    const [args, message] of [
      [["--threads", "0"], /--threads is '0'/],
      [["--threads", "65"], /--threads is '65'/],
      [["--level", "i386"], /--level is 'i386'/],
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["--bogus"], /Unknown option '--bogus'/],
    ] as const
  ) {
    const { code, err } = run([...args]);
    assert.equal(code, 2, args.join(" "));
    assert.match(err[0], message);
    assert.match(err[0], /Usage: onebit/);
  }
  const help = run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.out[0], /^Usage: onebit \[command\] \[options\]/);
});
