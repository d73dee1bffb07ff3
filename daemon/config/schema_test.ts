import assert from "node:assert/strict";
import { ConfigError } from "./errors.ts";
import { DEFAULT_CONFIG, isLoopbackHost, parseConfig } from "./schema.ts";

const TOKEN = "0123456789abcdef0123";

function refusal(value: unknown, env: Record<string, string> = {}): ConfigError {
  try {
    parseConfig(value, { file: "configs/onebit.json", env: (name) => env[name] });
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${error}`);
    assert.equal(error.code, "bad_config");
    return error;
  }
  assert.fail(`expected ${JSON.stringify(value)} to be refused`);
}

Deno.test("parseConfig fills every default from an empty object", () => {
  const config = parseConfig({});
  assert.deepEqual(config, DEFAULT_CONFIG);
  assert.equal(config.listen.host, "127.0.0.1");
  assert.equal(config.listen.port, 8470);
  assert.equal(config.auth.token, null);
  assert.equal(config.limits.bodyBytesMax, 16 * 1024 * 1024);
  assert.equal(config.limits.imagePixelsMax, 4096 * 4096);
  assert.equal(config.threads, 0);
  assert.deepEqual(config.kernels, { level: null, libDir: null });
  assert.deepEqual(config.plugins.load, ["*"]);
  assert.equal(config.plugins.dir, "../plugins");
  assert.deepEqual(config.plugins.defaults, {
    concurrency: 1,
    queueMax: 8,
    deadlineMs: 10_000,
    threads: 0,
  });
  assert.deepEqual(config.sources, []);
  assert.equal(config.telemetry.intervalMs, 1000);
  assert.equal(config.telemetry.thermalRoot, "/sys/class/thermal");
  assert.equal(config.log.level, "info");
});

Deno.test("parseConfig fills source defaults and keeps given values", () => {
  const config = parseConfig({
    listen: { port: 0 },
    sources: [{ name: "cam", task: "detect", kind: "ffmpeg", input: "/dev/video0" }],
    plugins: { overrides: { detect: { queueMax: 2, options: { threshold: 0.5 } } } },
  });
  assert.equal(config.listen.port, 0);
  assert.equal(config.listen.host, "127.0.0.1");
  assert.deepEqual(config.sources[0], {
    name: "cam",
    task: "detect",
    kind: "ffmpeg",
    input: "/dev/video0",
    fps: 10,
    loop: false,
  });
  assert.deepEqual(config.plugins.overrides.detect, { queueMax: 2, options: { threshold: 0.5 } });
});

Deno.test("parseConfig names the file, the field and the value of a bad port", () => {
  const error = refusal({ listen: { port: 70000 } });
  assert.equal(error.message, "configs/onebit.json: listen.port is 70000, expected 0..65535");
  assert.deepEqual(error.issues.map((issue) => issue.path), ["listen.port"]);
});

Deno.test("parseConfig names each bad field", () => {
  const cases: [unknown, string, RegExp][] = [
    [{ listen: { host: "bad host" } }, "listen.host", /"bad host"/],
    [{ listen: { port: "80" } }, "listen.port", /"80", expected an integer/],
    [{ limits: { bodyBytesMax: 10 } }, "limits.bodyBytesMax", /is 10, expected 1024\.\./],
    [{ limits: { imagePixelsMax: 0 } }, "limits.imagePixelsMax", /is 0/],
    [{ threads: 1.5 }, "threads", /is 1\.5, expected an integer in 0\.\.256/],
    [{ kernels: { level: "pentium" } }, "kernels.level", /"pentium", expected one of x86_64/],
    [{ kernels: { libDir: "" } }, "kernels.libDir", /is "", expected a non-empty path/],
    [{ plugins: { load: ["*", 3] } }, "plugins.load[1]", /is 3/],
    [{ plugins: { watch: "yes" } }, "plugins.watch", /"yes", expected true or false/],
    [{ plugins: { watchDebounceMs: 1 } }, "plugins.watchDebounceMs", /is 1/],
    [{ plugins: { defaults: { concurrency: 0 } } }, "plugins.defaults.concurrency", /is 0/],
    [{ plugins: { defaults: { queueMax: -1 } } }, "plugins.defaults.queueMax", /is -1/],
    [{ plugins: { defaults: { deadlineMs: 0 } } }, "plugins.defaults.deadlineMs", /is 0/],
    [
      { plugins: { overrides: { detect: { threads: 999 } } } },
      "plugins.overrides.detect.threads",
      /is 999/,
    ],
    [
      { plugins: { overrides: { detect: { options: { a: [1] } } } } },
      "plugins.overrides.detect.options.a",
      /is \[1\], expected a number, a boolean or a string/,
    ],
    [{ plugins: { overrides: { Detect: {} } } }, "plugins.overrides.Detect", /"Detect"/],
    [
      { sources: [{ name: "cam", task: "detect", kind: "usb", input: "x" }] },
      "sources[0].kind",
      /"usb", expected one of files, ffmpeg/,
    ],
    [
      { sources: [{ name: "cam", task: "detect", kind: "files", input: "x", fps: 0 }] },
      "sources[0].fps",
      /is 0/,
    ],
    [{ sources: [{ task: "detect", kind: "files", input: "x" }] }, "sources[0].name", /missing/],
    [
      {
        sources: [
          { name: "cam", task: "detect", kind: "files", input: "x" },
          { name: "cam", task: "detect", kind: "files", input: "y" },
        ],
      },
      "sources[1].name",
      /"cam", expected a unique source name/,
    ],
    [{ telemetry: { intervalMs: 5 } }, "telemetry.intervalMs", /is 5/],
    [{ log: { level: "loud" } }, "log.level", /"loud", expected one of debug, info, warn, error/],
    [[1, 2], "", /the config is \[1,2\], expected a JSON object/],
  ];
  for (const [value, path, pattern] of cases) {
    const error = refusal(value);
    assert.equal(error.issues[0].path, path, `${JSON.stringify(value)}: ${error.message}`);
    assert.match(error.message, /^configs\/onebit\.json: /);
    assert.match(error.message, pattern);
  }
});

Deno.test("parseConfig refuses unknown keys, naming them", () => {
  const top = refusal({ listne: {} });
  assert.equal(top.message, "configs/onebit.json: listne is not a known field");
  const nested = refusal({ listen: { prot: 1 } });
  assert.equal(nested.issues[0].path, "listen.prot");
  const source = refusal({
    sources: [{ name: "a", task: "b", kind: "files", input: "x", speed: 2 }],
  });
  assert.equal(source.issues[0].path, "sources[0].speed");
});

Deno.test("parseConfig reports several bad fields at once", () => {
  const error = refusal({ listen: { port: -1 }, log: { level: "x" } });
  assert.deepEqual(error.issues.map((issue) => issue.path), ["listen.port", "log.level"]);
});

Deno.test("parseConfig refuses a non-loopback host without a token", () => {
  const error = refusal({ listen: { host: "0.0.0.0" } });
  assert.equal(error.issues[0].path, "auth.token");
  assert.match(
    error.message,
    /auth\.token is null, expected a token because listen\.host "0\.0\.0\.0"/,
  );
  const config = parseConfig({ listen: { host: "0.0.0.0" }, auth: { token: TOKEN } });
  assert.equal(config.auth.token, TOKEN);
  for (const host of ["127.0.0.1", "127.9.8.7", "localhost", "::1", "[::1]"]) {
    assert.equal(parseConfig({ listen: { host } }).auth.token, null, host);
  }
});

Deno.test("parseConfig reads an env: token from the environment", () => {
  const config = parseConfig(
    { listen: { host: "0.0.0.0" }, auth: { token: "env:ONEBIT_TOKEN" } },
    { env: (name) => (name === "ONEBIT_TOKEN" ? TOKEN : undefined) },
  );
  assert.equal(config.auth.token, TOKEN);
  const missing = refusal({ auth: { token: "env:ONEBIT_TOKEN" } });
  assert.match(
    missing.message,
    /auth\.token is "env:ONEBIT_TOKEN", names environment variable 'ONEBIT_TOKEN', which is not set/,
  );
  const short = refusal({ auth: { token: "env:T" } }, { T: "short" });
  assert.match(short.message, /got 5 characters from env:T/);
});

Deno.test("parseConfig never echoes a literal token", () => {
  const error = refusal({ auth: { token: "secret value!" } });
  assert.equal(error.issues[0].path, "auth.token");
  assert.doesNotMatch(error.message, /secret/);
  assert.match(error.message, /<redacted>/);
});

Deno.test("isLoopbackHost accepts only loopback", () => {
  for (const host of ["127.0.0.1", "127.255.0.1", "localhost", "LOCALHOST", "::1", "[::1]"]) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of ["0.0.0.0", "192.168.1.2", "::", "128.0.0.1", "127.0.0.256", "example.com"]) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});
