import assert from "node:assert/strict";
import {
  monotonicMicroseconds,
  SystemdNotifier,
  unixAddress,
  UnixDatagramSocket,
  Watchdog,
  watchdogIntervalMs,
} from "./mod.ts";

/** A real datagram socket standing in for systemd's notify socket. */
class FakeSystemd {
  readonly socket: UnixDatagramSocket;
  constructor(readonly address: string) {
    this.socket = UnixDatagramSocket.bind(address);
  }

  /** Every datagram queued now, as text. */
  drain(): string[] {
    const messages: string[] = [];
    for (let i = 0; i < 10_000; i += 1) {
      const message = this.socket.receive();
      if (message === null) break;
      messages.push(new TextDecoder().decode(message));
    }
    return messages;
  }

  /** Waits (polling every 2 ms, up to 5 s) until `count` datagrams have arrived. */
  async receive(count: number): Promise<string[]> {
    const messages: string[] = [];
    const deadline = performance.now() + 5000;
    while (messages.length < count) {
      messages.push(...this.drain());
      if (performance.now() > deadline) {
        throw new Error(`got ${messages.length} of ${count} datagrams`);
      }
      if (messages.length < count) await new Promise((r) => setTimeout(r, 2));
    }
    return messages;
  }

  close(): void {
    this.socket.close();
  }
}

/** Polls `condition` every 2 ms; throws after 5 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = performance.now() + 5000;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error("condition not reached in 5 s");
    await new Promise((r) => setTimeout(r, 2));
  }
}

async function withSystemd(fn: (systemd: FakeSystemd, notifier: SystemdNotifier) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "onebit_notify_" });
  const systemd = new FakeSystemd(`${dir}/notify`);
  const notifier = SystemdNotifier.fromEnv({ env: new Map([["NOTIFY_SOCKET", systemd.address]]) });
  try {
    await fn(systemd, notifier);
  } finally {
    notifier.close();
    systemd.close();
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("SystemdNotifier sends READY, STATUS, RELOADING, WATCHDOG and STOPPING datagrams", async () => {
  await withSystemd(async (systemd, notifier) => {
    assert.ok(notifier.enabled);
    assert.ok(notifier.ready("serving 2 plugins"));
    assert.ok(notifier.status("3 sources\nrunning"));
    const before = monotonicMicroseconds();
    assert.ok(notifier.reloading());
    assert.ok(notifier.watchdog());
    assert.ok(notifier.stopping("draining"));
    const messages = await systemd.receive(5);
    assert.deepEqual(messages[0], "READY=1\nSTATUS=serving 2 plugins");
    assert.deepEqual(messages[1], "STATUS=3 sources running");
    const reload = /^RELOADING=1\nMONOTONIC_USEC=(\d+)$/.exec(messages[2]);
    assert.ok(reload, messages[2]);
    assert.ok(BigInt(reload[1]) >= before && BigInt(reload[1]) <= monotonicMicroseconds());
    assert.deepEqual(messages.slice(3), ["WATCHDOG=1", "STOPPING=1\nSTATUS=draining"]);
    assert.equal(notifier.sendFailures, 0);
  });
});

Deno.test("SystemdNotifier reaches abstract socket names", async () => {
  const name = `@onebit-test-${Deno.pid}-${crypto.randomUUID()}`;
  const systemd = new FakeSystemd(name);
  const notifier = new SystemdNotifier(name);
  try {
    assert.ok(notifier.ready());
    assert.deepEqual(await systemd.receive(1), ["READY=1"]);
  } finally {
    notifier.close();
    systemd.close();
  }
  assert.equal(unixAddress("@ab").length, 5); // family + NUL + "ab", no terminator
  assert.equal(unixAddress("/ab").length, 6); // family + "/ab" + NUL
  assert.throws(() => unixAddress("/" + "x".repeat(200)), /expected 1\.\.107/);
});

Deno.test("SystemdNotifier is a no-op without NOTIFY_SOCKET and counts failed sends", () => {
  const off = SystemdNotifier.fromEnv({ env: new Map() });
  assert.equal(off.enabled, false);
  assert.equal(off.ready(), false);
  assert.equal(off.sendFailures, 0);
  const gone = new SystemdNotifier("/nonexistent/onebit/notify");
  assert.equal(gone.ready(), false);
  assert.equal(gone.sendFailures, 1);
  assert.match(gone.lastError!, /sendto failed with errno 2/);
  gone.close();
});

Deno.test("watchdogIntervalMs reads WATCHDOG_USEC and honours WATCHDOG_PID", () => {
  const env = (entries: [string, string][]) => new Map(entries);
  assert.equal(watchdogIntervalMs({ env: env([["WATCHDOG_USEC", "30000000"]]) }), 30000);
  assert.equal(watchdogIntervalMs({ env: env([]) }), null);
  assert.equal(watchdogIntervalMs({ env: env([["WATCHDOG_USEC", "abc"]]) }), null);
  assert.equal(watchdogIntervalMs({ env: env([["WATCHDOG_USEC", "0"]]) }), null);
  const mine = env([["WATCHDOG_USEC", "1000"], ["WATCHDOG_PID", "42"]]);
  assert.equal(watchdogIntervalMs({ env: mine, pid: 42 }), 1);
  assert.equal(watchdogIntervalMs({ env: mine, pid: 43 }), null);
});

Deno.test("Watchdog pings only while healthy", async () => {
  await withSystemd(async (systemd, notifier) => {
    let healthy = true;
    const watchdog = new Watchdog(notifier, {
      healthy: () => healthy,
      env: new Map([["WATCHDOG_USEC", "20000"]]),
    });
    assert.equal(watchdog.periodMs, 10);
    watchdog.start();
    try {
      assert.deepEqual(
        await systemd.receive(3),
        ["WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"],
      );
      healthy = false;
      const skipped = watchdog.skipped;
      // Once a tick has seen the daemon unhealthy, nothing more arrives.
      await until(() => watchdog.skipped >= skipped + 1);
      systemd.drain();
      const pings = watchdog.pings;
      await until(() => watchdog.skipped >= skipped + 4);
      assert.deepEqual(systemd.drain(), []);
      assert.equal(watchdog.pings, pings);
      healthy = true;
      assert.deepEqual(await systemd.receive(1), ["WATCHDOG=1"]);
    } finally {
      watchdog.stop();
    }
    // A throwing health check counts as unhealthy.
    const failing = new Watchdog(notifier, {
      healthy: () => Promise.reject(new Error("wedged")),
      intervalMs: 20,
    });
    assert.equal(await failing.tick(), false);
    assert.equal(failing.skipped, 1);
    // Off without a watchdog timeout or a socket.
    const off = new Watchdog(new SystemdNotifier(null), { healthy: () => true, intervalMs: 20 });
    assert.equal(off.periodMs, null);
    off.start();
    off.stop();
  });
});
