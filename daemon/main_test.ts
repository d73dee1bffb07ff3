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

/** Runs `deno run -A daemon/main.ts ...args` as the CLI does, with its output. */
async function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./main.ts", import.meta.url).pathname, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("main --help of serve, model, model inspect, bench and plugin exits 0 with their usage", async () => {
  const cases: [string[], RegExp, RegExp][] = [
    [["serve", "--help"], /^Usage: onebit serve \[options\]/, /--config <file>/],
    [["serve", "-h"], /^Usage: onebit serve \[options\]/, /SIGTERM drains and exits 0/],
    [["model", "--help"], /^Usage: onebit model <command>/, /inspect FILE/],
    [["model", "inspect", "--help"], /^Usage: onebit model <command>/, /inspect FILE/],
    [["bench", "--help"], /^Usage: onebit bench <name>/, /^ {2}kernels /m],
    [["plugin", "--help"], /^Usage: onebit plugin <command>/, /check DIR/],
    [["plugin", "new", "--help"], /^Usage: onebit plugin new NAME/, /--task KIND/],
  ];
  // Sequential on purpose: each child loads the whole daemon's module graph.
  for (const [args, usage, detail] of cases) {
    const { code, stdout, stderr } = await runCli(args);
    const what = `onebit ${args.join(" ")}`;
    assert.equal(code, 0, `${what} exited ${code}: ${stderr}`);
    assert.match(stdout, usage, what);
    assert.match(stdout, detail, what);
    assert.equal(stderr, "", what);
  }
});

Deno.test("main serve, bench and plugin exit 2 with their usage on bad arguments", async () => {
  const cases: [string[], RegExp][] = [
    [["serve", "--port", "70000"], /--port is '70000'[\s\S]*Usage: onebit serve/],
    [["bench", "frobnicate"], /unknown benchmark 'frobnicate'[\s\S]*Usage: onebit bench/],
    [["plugin", "frobnicate"], /unknown command 'frobnicate'[\s\S]*Usage: onebit plugin/],
  ];
  for (const [args, message] of cases) {
    const { code, stdout, stderr } = await runCli(args);
    assert.equal(code, 2, `onebit ${args.join(" ")}: ${stdout}${stderr}`);
    assert.match(stderr, message);
  }
});
