import { assert, assertEquals } from "@std/assert";
import type { BusEnvelope } from "../../lib/server/bus.ts";
import { BroadcastBus } from "../../lib/server/bus_broadcast.ts";
import { KvBus, openKvBus } from "../../lib/server/bus_kv.ts";
import { LocalBusNetwork } from "../../lib/server/bus_local.ts";
import type { PeerCommand, PeerEvent } from "./_bus_peer.ts";
import { until } from "../support/until.ts";

const PEER_MODULE = new URL("./_bus_peer.ts", import.meta.url);
/** A guard against hangs, not a performance assertion. */
const HANG_GUARD_MS = 20_000;

/** Resolves once `check()` holds, re-checking whenever `wake` fires. */
function waiter() {
  const waiting = new Set<() => void>();
  return {
    wake: () => waiting.forEach((fn) => fn()),
    until(check: () => boolean, what: string): Promise<void> {
      if (check()) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiting.delete(test);
          reject(new Error(`timed out waiting for ${what}`));
        }, HANG_GUARD_MS);
        const test = () => {
          if (!check()) return;
          clearTimeout(timer);
          waiting.delete(test);
          resolve();
        };
        waiting.add(test);
      });
    },
  };
}

/** A bus instance in a Web Worker or a separate process, and what it has seen. */
abstract class Peer {
  events: PeerEvent[] = [];
  instanceId = "";
  #waiter = waiter();

  protected received(event: PeerEvent): void {
    if (event.event === "error") console.error("peer error:", event.message);
    this.events.push(event);
    this.#waiter.wake();
  }

  abstract send(command: PeerCommand): void;
  protected abstract stop(): Promise<void>;

  messages(): BusEnvelope[] {
    return this.events.flatMap((e) => e.event === "message" ? [e.envelope] : []);
  }

  until(check: () => boolean, what: string): Promise<void> {
    return this.#waiter.until(check, what);
  }

  async open(command: Extract<PeerCommand, { cmd: "open" }>): Promise<void> {
    this.send(command);
    await this.until(() => this.events.some((e) => e.event === "opened"), "the bus to open");
    const opened = this.events.find((e) => e.event === "opened") as { instanceId: string };
    this.instanceId = opened.instanceId;
  }

  async close(): Promise<void> {
    this.send({ cmd: "close" });
    await this.until(() => this.events.some((e) => e.event === "closed"), "the bus to close");
    await this.stop();
    assertEquals(this.events.filter((e) => e.event === "error"), [], "no background errors");
  }
}

class WorkerPeer extends Peer {
  #worker = new Worker(PEER_MODULE, { type: "module" });
  constructor() {
    super();
    this.#worker.onmessage = (event: MessageEvent<PeerEvent>) => this.received(event.data);
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.received({ event: "error", message: event.message });
    };
  }
  send(command: PeerCommand): void {
    this.#worker.postMessage(command);
  }
  protected stop(): Promise<void> {
    this.#worker.terminate();
    return Promise.resolve();
  }
}

class ProcessPeer extends Peer {
  #child: Deno.ChildProcess;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;
  constructor() {
    super();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--unstable-kv", PEER_MODULE.pathname],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let newline;
        while ((newline = buffer.indexOf("\n")) >= 0) {
          this.received(JSON.parse(buffer.slice(0, newline)));
          buffer = buffer.slice(newline + 1);
        }
      }
    })();
  }
  send(command: PeerCommand): void {
    void this.#writer.write(new TextEncoder().encode(JSON.stringify(command) + "\n"));
  }
  protected async stop(): Promise<void> {
    await this.#writer.close();
    await this.#reading;
    const status = await this.#child.status;
    assertEquals(status.code, 0, "the peer process exits cleanly");
  }
}

async function tempKvPath(): Promise<{ path: string; remove(): Promise<void> }> {
  const dir = await Deno.makeTempDir({ prefix: "bus_" });
  return { path: `${dir}/kv.sqlite`, remove: () => Deno.remove(dir, { recursive: true }) };
}

/** Two peers publish to each other; each gets the other's messages in order and never its own. */
async function exchange(a: Peer, b: Peer, count: number, big?: string): Promise<void> {
  const bodies = (who: string) =>
    Array.from({ length: count }, (_, i) => ({ from: who, i, text: i === 3 && big ? big : `hello ${i}` }));
  a.send({ cmd: "publish", room: "room-1", bodies: bodies("a") });
  b.send({ cmd: "publish", room: "room-2", bodies: bodies("b") });
  await a.until(() => a.messages().length >= count, "a to get b's messages");
  await b.until(() => b.messages().length >= count, "b to get a's messages");
  assertEquals(a.messages(), bodies("b").map((body) => ({ room: "room-2", origin: b.instanceId, body })));
  assertEquals(b.messages(), bodies("a").map((body) => ({ room: "room-1", origin: a.instanceId, body })));
}

Deno.test("broadcast bus carries messages between two Web Workers and never back to the sender", async () => {
  const channel = `test-${crypto.randomUUID()}`;
  const [a, b] = [new WorkerPeer(), new WorkerPeer()];
  const here = new BroadcastBus({ channel });
  const seenHere: BusEnvelope[] = [];
  here.subscribe((envelope) => seenHere.push(envelope));
  try {
    await a.open({ cmd: "open", kind: "broadcast", channel });
    await b.open({ cmd: "open", kind: "broadcast", channel });
    assert(a.instanceId !== b.instanceId);
    await exchange(a, b, 50);
    here.publish("room-3", { from: "main" });
    await a.until(() => a.messages().length === 51, "a to get main's message");
    await b.until(() => b.messages().length === 51, "b to get main's message");
    assertEquals(a.messages()[50], { room: "room-3", origin: here.instanceId, body: { from: "main" } });
    // The workers' messages reach the main thread on its own schedule (once 65 of 100 had come when the workers had
    // main's message): wait for all, then check that none came twice and none was its own.
    await until(() => seenHere.length >= 100, { what: "the main thread to hear both workers" });
    assertEquals(seenHere.length, 100, "the main thread's instance sees both workers, each message once");
    assert(seenHere.every((envelope) => envelope.origin !== here.instanceId), "never its own");
  } finally {
    await here.close();
    await a.close();
    await b.close();
  }
});

Deno.test("broadcast buses on different channels do not hear each other", async () => {
  const one = new BroadcastBus({ channel: `test-${crypto.randomUUID()}` });
  const [a, b] = [new WorkerPeer(), new WorkerPeer()];
  try {
    await a.open({ cmd: "open", kind: "broadcast", channel: "other-a" });
    await b.open({ cmd: "open", kind: "broadcast", channel: "other-b" });
    a.send({ cmd: "publish", room: "r", bodies: ["x"] });
    one.publish("r", "y");
    // A round trip on b's own channel proves b is live and has not heard a.
    const probe = new BroadcastBus({ channel: "other-b" });
    probe.publish("r", "probe");
    await b.until(() => b.messages().length > 0, "b to hear the probe");
    assertEquals(b.messages().map((m) => m.body), ["probe"]);
    await probe.close();
  } finally {
    await one.close();
    await a.close();
    await b.close();
  }
});

Deno.test("kv bus carries messages between two Web Workers sharing a KV file, large ones too", async () => {
  const kv = await tempKvPath();
  const channel = "parley-bus";
  const [a, b] = [new WorkerPeer(), new WorkerPeer()];
  try {
    await a.open({ cmd: "open", kind: "kv", channel, path: kv.path, pollIntervalMs: 20 });
    await b.open({ cmd: "open", kind: "kv", channel, path: kv.path, pollIntervalMs: 20 });
    await exchange(a, b, 200, "€".repeat(100_000));
  } finally {
    await a.close();
    await b.close();
    await kv.remove();
  }
});

Deno.test("kv bus carries messages between two separate processes sharing a KV file", async () => {
  const kv = await tempKvPath();
  const [a, b] = [new ProcessPeer(), new ProcessPeer()];
  try {
    await a.open({ cmd: "open", kind: "kv", channel: "parley-bus", path: kv.path, pollIntervalMs: 20 });
    await b.open({ cmd: "open", kind: "kv", channel: "parley-bus", path: kv.path, pollIntervalMs: 20 });
    await exchange(a, b, 300);
  } finally {
    await a.close();
    await b.close();
    await kv.remove();
  }
});

Deno.test("kv bus delivers in one process through watch and polling, and starts after the current head", async (t) => {
  const kv = await Deno.openKv(":memory:");
  const early = await KvBus.open(kv, { channel: "c" });
  early.publish("r", "before anyone listened");
  await early.close();
  const a = await KvBus.open(kv, { channel: "c" });
  const b = await KvBus.open(kv, { channel: "c", watch: false, pollIntervalMs: 10 });
  const other = await KvBus.open(kv, { channel: "elsewhere" });
  const seen = { a: [] as unknown[], b: [] as unknown[], other: [] as unknown[] };
  const w = waiter();
  a.subscribe((e) => (seen.a.push(e.body), w.wake()));
  b.subscribe((e) => (seen.b.push(e.body), w.wake()));
  other.subscribe((e) => (seen.other.push(e.body), w.wake()));
  try {
    await t.step("watch wakes a, polling finds it for b", async () => {
      b.publish("r", { n: 1 });
      a.publish("r", { n: 2 });
      a.publish("r", [1, "two", null]);
      await w.until(() => seen.a.length === 1 && seen.b.length === 2, "both to hear the other");
      assertEquals(seen.a, [{ n: 1 }]);
      assertEquals(seen.b, [{ n: 2 }, [1, "two", null]]);
      assertEquals(seen.other, []);
    });
    await t.step("an unsubscribed handler hears nothing more", async () => {
      const late: unknown[] = [];
      const off = a.subscribe((e) => late.push(e.body));
      off();
      b.publish("r", "after");
      await w.until(() => seen.a.length === 2, "a to hear it");
      assertEquals(late, []);
    });
  } finally {
    await a.close();
    await b.close();
    await other.close();
    kv.close();
  }
});

Deno.test("kv bus commits what was published just before it closed", async () => {
  const kv = await tempKvPath();
  try {
    const reader = await openKvBus(kv.path, { channel: "c", pollIntervalMs: 10 });
    const seen: unknown[] = [];
    const w = waiter();
    reader.subscribe((e) => (seen.push(e.body), w.wake()));
    const writer = await openKvBus(kv.path, { channel: "c" });
    for (let i = 0; i < 1500; i++) writer.publish("r", i);
    await writer.close();
    await w.until(() => seen.length === 1500, "every message");
    assertEquals(seen, Array.from({ length: 1500 }, (_, i) => i));
    await reader.close();
  } finally {
    await kv.remove();
  }
});

Deno.test("local bus delivers to the other members of its network only", async () => {
  const network = new LocalBusNetwork();
  const [a, b, c] = [network.join("a"), network.join("b"), network.join("c")];
  const seen: string[] = [];
  a.subscribe((e) => seen.push(`a<-${e.origin}:${e.body}`));
  b.subscribe((e) => seen.push(`b<-${e.origin}:${e.body}`));
  await c.close();
  a.publish("r", "1");
  b.publish("r", "2");
  await Promise.resolve();
  await new Promise((resolve) => setTimeout(resolve, 0));
  assertEquals(seen.sort(), ["a<-b:2", "b<-a:1"]);
  await a.close();
  await b.close();
});
