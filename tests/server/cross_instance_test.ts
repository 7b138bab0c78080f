/**
 * Issue 3's cross-instance acceptance: two server instances in Web Workers of
 * one process (separate ports, one BroadcastChannel, one KV file), a real
 * WebSocket peer on each, presence both ways, chat both ways, and resume
 * across instances with missed frames delivered in order; then the same with
 * the KV bus (`BUS=kv`).
 */
import { assert, assertEquals } from "@std/assert";
import { admissionKey, helloProof } from "../../lib/protocol/admission.ts";
import { newRoomId } from "../../lib/protocol/ids.ts";
import { TEST_ROOM_KEY } from "../support/signal_test_client.ts";
import type { InstanceCommand, InstanceEvent } from "./_instance_worker.ts";
import { PROTOCOL_VERSION } from "../../lib/protocol/version.ts";

/** What each instance serves: the whole app (default), or `PARLEY_TEST_SERVE=signal` for `lib/server` alone. */
const SERVE = Deno.env.get("PARLEY_TEST_SERVE") === "signal" ? "signal" : "app";
/** A guard against hangs, not a performance assertion. */
const HANG_GUARD_MS = 15_000;

type Frame = Record<string, unknown> & { type: string };

/** A server instance in a Web Worker. */
class Instance {
  port = 0;
  #worker = new Worker(new URL("./_instance_worker.ts", import.meta.url), { type: "module" });
  #replies: ((event: InstanceEvent) => void)[] = [];

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<InstanceEvent>) => this.#replies.shift()?.(event.data);
  }

  #ask(command: InstanceCommand): Promise<InstanceEvent> {
    return new Promise((resolve) => {
      this.#replies.push(resolve);
      this.#worker.postMessage(command);
    });
  }

  async start(env: Record<string, string>): Promise<void> {
    const reply = await this.#ask({ cmd: "start", env, serve: SERVE });
    if (reply.event !== "listening") throw new Error(`instance did not start: ${JSON.stringify(reply)}`);
    this.port = reply.port;
  }

  async stop(): Promise<void> {
    const reply = await this.#ask({ cmd: "stop" });
    this.#worker.terminate();
    if (reply.event !== "stopped") throw new Error(`instance did not stop cleanly: ${JSON.stringify(reply)}`);
  }
}

/** A real WebSocket client speaking the signaling protocol, with everything it received. */
class Client {
  frames: Frame[] = [];
  #socket: WebSocket;
  #read = 0;
  #wake: (() => void) | null = null;
  #closed: Promise<void>;

  constructor(port: number, room: string) {
    this.#socket = new WebSocket(`ws://127.0.0.1:${port}/api/signal?v=${PROTOCOL_VERSION}&room=${room}`);
    this.#socket.onmessage = (event) => {
      this.frames.push(JSON.parse(event.data));
      this.#wake?.();
    };
    this.#closed = new Promise((resolve) => this.#socket.addEventListener("close", () => resolve()));
  }

  async open(): Promise<void> {
    if (this.#socket.readyState === WebSocket.OPEN) return;
    await new Promise<void>((resolve, reject) => {
      this.#socket.addEventListener("open", () => resolve(), { once: true });
      this.#socket.addEventListener("error", () => reject(new Error("socket failed to open")), { once: true });
    });
  }

  send(frame: Frame): void {
    this.#socket.send(JSON.stringify(frame));
  }

  /** The next unread frame matching `match`, skipping (and keeping) others; waits for it. */
  next(match: (frame: Frame) => boolean, what: string): Promise<Frame> {
    return this.#wait(match, what, true);
  }

  /** Waits until some frame received so far, read or not, matches; moves nothing. */
  seen(match: (frame: Frame) => boolean, what: string): Promise<Frame> {
    return this.#wait(match, what, false);
  }

  async #wait(match: (frame: Frame) => boolean, what: string, advance: boolean): Promise<Frame> {
    const deadline = Date.now() + HANG_GUARD_MS;
    for (;;) {
      for (let i = advance ? this.#read : 0; i < this.frames.length; i++) {
        if (match(this.frames[i])) {
          if (advance) this.#read = i + 1;
          return this.frames[i];
        }
      }
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(this.#read))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 100);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = null;
    }
  }

  /** Unread frames of a type, without waiting. */
  unread(type: string): Frame[] {
    return this.frames.slice(this.#read).filter((f) => f.type === type);
  }

  async close(): Promise<void> {
    if (this.#socket.readyState < WebSocket.CLOSING) this.#socket.close(1000);
    await this.#closed;
  }
}

/**
 * Connects to an instance and says hello, proving the test room key over the challenge
 * (and registering the room when asked); returns the client and its welcome.
 */
async function join(instance: Instance, room: string, hello: Frame): Promise<{ client: Client; welcome: Frame }> {
  const client = new Client(instance.port, room);
  await client.open();
  const { nonce } = await client.next((f) => f.type === "challenge", "challenge");
  const verifier = await admissionKey(TEST_ROOM_KEY, room);
  const proven = { ...hello, proof: await helloProof(verifier, room, nonce as string) };
  client.send(proven);
  let welcome = await client.next((f) => f.type === "welcome" || f.type === "error", "welcome");
  if (welcome.code === "verifier_required") {
    client.send({ ...proven, verifier });
    welcome = await client.next((f) => f.type === "welcome" || f.type === "error", "welcome");
  }
  assertEquals(welcome.type, "welcome", `joined: ${JSON.stringify(welcome)}`);
  if (hello.since !== undefined) await client.next((f) => f.type === "synced", "synced");
  return { client, welcome };
}

/** The `since` a client resumes with: the highest `seq` among chat frames it received (README: not its own acks). */
function sinceOf(client: Client): number {
  return Math.max(0, ...client.frames.filter((f) => f.type === "chat").map((f) => f.seq as number));
}

function isChat(id: string) {
  return (f: Frame) => f.type === "chat" && f.id === id;
}

function presence(peer: unknown, state: string) {
  return (f: Frame) => f.type === "presence" && f.peer === peer && f.state === state;
}

async function crossInstanceScenario(t: Deno.TestContext, bus: "broadcast" | "kv"): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "cross_instance_" });
  const env = { BUS: bus, KV_PATH: `${dir}/kv.sqlite`, ALLOWED_ORIGINS: "*" };
  const [one, two] = [new Instance(), new Instance()];
  const clients: Client[] = [];
  try {
    await one.start(env);
    await two.start(env);
    assert(one.port !== two.port);
    const room = newRoomId();

    const alice = await join(one, room, { type: "hello", v: PROTOCOL_VERSION, since: 0 });
    clients.push(alice.client);
    const aliceId = alice.welcome.peer;
    const bob = await join(two, room, { type: "hello", v: PROTOCOL_VERSION, since: 0 });
    clients.push(bob.client);
    const bobId = bob.welcome.peer;

    await t.step("peers on different instances see each other's presence", async () => {
      assertEquals(bob.welcome.peers, [{ id: aliceId, presence: "online" }]);
      await alice.client.next(presence(bobId, "joined"), "bob joined");
    });

    await t.step("chat flows both ways across instances, stamped and acknowledged", async () => {
      alice.client.send({ type: "chat", id: "a1", data: "aGVsbG8gYm9i" });
      const accepted = await alice.client.next((f) => f.type === "accepted" && f.id === "a1", "a1 accepted");
      const got = await bob.client.next(isChat("a1"), "a1 at bob");
      assertEquals([got.from, got.data, got.seq], [aliceId, "aGVsbG8gYm9i", accepted.seq]);
      bob.client.send({ type: "chat", id: "b1", to: aliceId, data: "aGkgYWxpY2U" });
      await bob.client.next((f) => f.type === "accepted" && f.id === "b1", "b1 accepted");
      const back = await alice.client.next(isChat("b1"), "b1 at alice");
      assertEquals([back.from, back.to, back.data], [bobId, aliceId, "aGkgYWxpY2U"]);
    });

    await t.step(
      "a peer that left instance one resumes on instance two with its id and the frames it missed",
      async () => {
        const seen = sinceOf(alice.client);
        await alice.client.close();
        await bob.client.next(presence(aliceId, "away"), "alice away");
        const missed = ["b2", "b3", "b4"];
        for (const id of missed) bob.client.send({ type: "chat", id, data: `bWlzc2VkLQ${id}` });
        for (const id of missed) await bob.client.next((f) => f.type === "accepted" && f.id === id, `${id} accepted`);

        const again = await join(two, room, {
          type: "hello",
          v: PROTOCOL_VERSION,
          token: alice.welcome.token,
          since: seen,
        });
        clients.push(again.client);
        assertEquals([again.welcome.peer, again.welcome.resumed], [aliceId, true]);
        const delivered = again.client.frames.filter((f) => f.type === "chat");
        assertEquals(delivered.map((f) => f.id), missed, "missed frames in order, none twice, nothing older");
        assert(delivered.every((f) => f.from === bobId));
        await bob.client.next(presence(aliceId, "online"), "alice back online");
        alice.client = again.client;
      },
    );

    await t.step("the other peer moves to instance one and chat still flows both ways", async () => {
      const seen = sinceOf(bob.client);
      await bob.client.close();
      await alice.client.next(presence(bobId, "away"), "bob away");
      alice.client.send({ type: "chat", id: "a2", data: "d2hpbGUgYXdheQ" });
      await alice.client.next((f) => f.type === "accepted" && f.id === "a2", "a2 accepted");
      const moved = await join(one, room, {
        type: "hello",
        v: PROTOCOL_VERSION,
        token: bob.welcome.token,
        since: seen,
      });
      clients.push(moved.client);
      assertEquals(moved.welcome.peer, bobId);
      const backlog = moved.client.frames.filter((f) => f.type === "chat");
      assertEquals(backlog.filter((f) => f.from !== bobId).map((f) => f.id), ["a2"], "the missed frame, once");
      assertEquals(new Set(backlog.map((f) => f.id)).size, backlog.length, "none twice");
      assert(backlog.every((f) => (f.seq as number) > seen), "nothing at or before `since`");
      await alice.client.next(presence(bobId, "online"), "bob back online");
      moved.client.send({ type: "chat", id: "b5", data: "YmFjayBvbiBvbmU" });
      assertEquals((await alice.client.next(isChat("b5"), "b5 at alice")).from, bobId);
      alice.client.send({ type: "chat", id: "a3", to: bobId, data: "c2VlIHlvdQ" });
      assertEquals((await moved.client.next(isChat("a3"), "a3 at bob")).from, aliceId);
      assertEquals(alice.client.unread("chat").length, 0, "nothing delivered twice");
      bob.client = moved.client;
    });

    await t.step("a burst both ways at once arrives complete and in order on the other instance", async () => {
      const burst = 150;
      for (let i = 0; i < burst; i++) {
        alice.client.send({ type: "chat", id: `ab${i}`, data: `YnVyc3Q${i}` });
        bob.client.send({ type: "chat", id: `bb${i}`, data: `YnVyc3Q${i}` });
      }
      const last = (client: Client, prefix: string) => client.seen(isChat(`${prefix}${burst - 1}`), `${prefix} burst`);
      await Promise.all([last(bob.client, "ab"), last(alice.client, "bb")]);
      const ids = (client: Client, prefix: string) =>
        client.frames.filter((f) => f.type === "chat" && String(f.id).startsWith(prefix)).map((f) => f.id);
      const expected = (prefix: string) => Array.from({ length: burst }, (_, i) => `${prefix}${i}`);
      assertEquals(ids(bob.client, "ab"), expected("ab"));
      assertEquals(ids(alice.client, "bb"), expected("bb"));
      for (const [client, prefix] of [[alice.client, "ab"], [bob.client, "bb"]] as const) {
        await client.seen((f) => f.type === "accepted" && f.id === `${prefix}${burst - 1}`, "last ack");
        const acks = client.frames.filter((f) => f.type === "accepted" && String(f.id).startsWith(prefix));
        assertEquals(acks.map((f) => f.id), expected(prefix), "every frame acknowledged once, in order");
      }
      assertEquals(alice.client.frames.filter((f) => f.type === "error"), []);
      assertEquals(bob.client.frames.filter((f) => f.type === "error"), []);
    });
  } finally {
    await Promise.all(clients.map((client) => client.close()));
    await one.stop();
    await two.stop();
    for (const name of Object.keys(env)) Deno.env.delete(name);
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("two instances on one BroadcastChannel relay presence, chat and resume between their peers", async (t) => {
  await crossInstanceScenario(t, "broadcast");
});

Deno.test("two instances on the KV bus relay presence, chat and resume between their peers", async (t) => {
  await crossInstanceScenario(t, "kv");
});
