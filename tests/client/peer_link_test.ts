import { assert, assertEquals } from "@std/assert";
import { PeerLink, type PeerLinkSignal, plausibleCandidate, type RetryDelays } from "../../lib/client/peer_link.ts";
import { FakeClock } from "../support/fake_clock.ts";
import { FakeNetwork } from "./_fake_rtc.ts";

const TIMING = { setupTimeoutMs: 10_000, disconnectedGraceMs: 2_000, candidatePoolSize: 10 };

/** Doubling delays from 1 s, recorded so tests can check what was scheduled. */
class RecordingRetry implements RetryDelays {
  delays: number[] = [];
  #attempt = 0;
  next(): number {
    const delay = Math.min(30_000, 1_000 * 2 ** this.#attempt++);
    this.delays.push(delay);
    return delay;
  }
  reset(): void {
    this.#attempt = 0;
  }
}

interface Pair {
  clock: FakeClock;
  network: FakeNetwork;
  a: PeerLink;
  b: PeerLink;
  received: { a: string[]; b: string[] };
  events: { a: string[]; b: string[] };
  retry: { a: RecordingRetry; b: RecordingRetry };
  /** Whether the server relays signals (false: the signaling path is down). */
  signaling: { up: boolean };
}

/** The same delay every time. */
class FixedRetry extends RecordingRetry {
  constructor(readonly ms: number) {
    super();
  }
  override next(): number {
    this.delays.push(this.ms);
    return this.ms;
  }
}

interface PairOptions {
  /** ICE servers arrive this long after they are asked for. */
  iceDelayMs?: number;
  /** Replaces the ICE server source of side a (e.g. one that never answers). */
  iceServersA?: () => Promise<RTCIceServer[]>;
  /** Retry delays per side. */
  retry?: { a: RecordingRetry; b: RecordingRetry };
  /** Timing overrides (both sides). */
  timing?: Partial<typeof TIMING & { idleCloseMs: number }>;
}

function makePair(options: PairOptions = {}): Pair {
  const clock = new FakeClock();
  const network = new FakeNetwork(clock);
  const received = { a: [] as string[], b: [] as string[] };
  const events = { a: [] as string[], b: [] as string[] };
  const retry = options.retry ?? { a: new RecordingRetry(), b: new RecordingRetry() };
  const signaling = { up: true };
  const links: Record<string, PeerLink> = {};
  let credential = 0;
  const make = (self: "a" | "b", remote: "a" | "b") =>
    new PeerLink({
      self,
      remote,
      createPeerConnection: network.factory(self),
      iceServers: () => {
        if (self === "a" && options.iceServersA) return options.iceServersA();
        const servers = [{ urls: "turn:10.0.0.1:3478", username: `u${++credential}`, credential: "c" }];
        if (!options.iceDelayMs) return servers;
        return new Promise((resolve) => clock.setTimeout(() => resolve(servers), options.iceDelayMs!));
      },
      sendSignal: (data: PeerLinkSignal) => {
        const copy = structuredClone(data);
        if (signaling.up) clock.setTimeout(() => void links[remote].handleSignal(copy), 5);
      },
      onMessage: (data) => received[self].push(data),
      timing: { ...TIMING, ...options.timing },
      retry: retry[self],
      timers: clock,
      log: (name) => events[self].push(name),
    });
  links.a = make("a", "b");
  links.b = make("b", "a");
  return { clock, network, a: links.a, b: links.b, received, events, retry, signaling };
}

Deno.test("simultaneous offers resolve by perfect negotiation: both sides open, only the polite one yields", async () => {
  const { clock, network, a, b, events } = makePair();
  assertEquals([a.polite, b.polite], [false, true], "the larger id is polite");
  await Promise.all([a.start(), b.start()]);
  await clock.advance(500);
  assertEquals([a.state.value, b.state.value], ["open", "open"]);
  assertEquals([a.path.value, b.path.value], ["p2p", "p2p"]);
  const pcA = network.live("a")!;
  const pcB = network.live("b")!;
  assertEquals([pcA.offers, pcB.offers], [1, 1], "both made an offer: a real glare");
  assertEquals([pcA.rollbacks, pcB.rollbacks], [0, 1], "only the polite side rolled back");
  assertEquals([pcA.signalingState, pcB.signalingState], ["stable", "stable"]);
  assert(events.a.includes("ICE connection state: connected"), "logs the seed's ICE event name");
  assert(!events.a.concat(events.b).some((e) => e.includes("failed") || e.includes("rejected")));
});

Deno.test("chat payloads cross the DataChannel once it is open, and not before", async () => {
  const { clock, a, b, received } = makePair();
  void a.start();
  assertEquals(a.send("too early"), false, "the caller must use the relay");
  void b.start();
  await clock.advance(500);
  assertEquals(a.send("hello"), true);
  assertEquals(b.send("hi back"), true);
  await clock.advance(10);
  assertEquals(received, { a: ["hi back"], b: ["hello"] });
});

Deno.test("a channel still holding unsent bytes hands chat to the relay; an unordered channel delays only a lost message", async () => {
  const { clock, network, a, b, received } = makePair();
  void a.start();
  void b.start();
  await clock.advance(500);
  const channel = network.live("a")!.channels[0];
  assertEquals(channel.ordered, false, "unordered (and reliable): no head-of-line blocking after a loss");
  channel.bufferedAmount = 1_200;
  assertEquals(a.send("while congested"), false, "the caller uses the relay");
  channel.bufferedAmount = 0;
  assertEquals(a.send("once drained"), true);
  await clock.advance(10);
  assertEquals(received.b, ["once drained"]);
});

Deno.test("a setup timeout marks P2P not now, keeps the relay, and a later retry reaches P2P", async (t) => {
  const { clock, network, a, b, retry } = makePair();
  network.reachable = false;
  await Promise.all([a.start(), b.start()]);

  await t.step("before the timeout the path is the relay and the link is connecting", async () => {
    await clock.advance(9_000);
    assertEquals([a.state.value, a.path.value], ["connecting", "relay"]);
  });
  await t.step("at the timeout P2P is not now and a retry is scheduled", async () => {
    await clock.advance(1_001);
    assertEquals([a.state.value, a.path.value], ["not-now", "relay"]);
    assertEquals(retry.a.delays, [1_000]);
  });
  await t.step("retries back off while the network stays closed", async () => {
    await clock.advance(1_000 + 10_000 + 1);
    assertEquals(a.state.value, "not-now");
    assertEquals(retry.a.delays, [1_000, 2_000]);
  });
  await t.step("once the network allows it, the next retry opens P2P", async () => {
    network.reachable = true;
    await clock.advance(2_000 + 500);
    assertEquals([a.state.value, b.state.value], ["open", "open"]);
    assertEquals([a.path.value, b.path.value], ["p2p", "p2p"]);
    assert(a.generation >= 3, `a new connection generation was used (${a.generation})`);
  });
});

Deno.test("a selected pair through TURN shows the path as p2p-turn", async () => {
  const { clock, network, a, b } = makePair();
  network.candidateType = "relay";
  await Promise.all([a.start(), b.start()]);
  await clock.advance(500);
  assertEquals([a.path.value, b.path.value], ["p2p-turn", "p2p-turn"]);
});

Deno.test("ICE disconnected moves chat to the relay at once, then an ICE restart brings P2P back", async (t) => {
  const { clock, network, a, b, events } = makePair();
  await Promise.all([a.start(), b.start()]);
  await clock.advance(500);
  const pcBefore = network.live("a");

  await t.step("disconnected: relay immediately, no restart inside the grace", async () => {
    network.cut();
    await clock.advance(10);
    assertEquals([a.path.value, b.path.value], ["relay", "relay"]);
    assertEquals(a.send("x"), false);
    await clock.advance(1_500);
    assertEquals(events.a.filter((e) => e === "ICE restart").length, 0);
  });
  await t.step("after the grace: ICE restart on the same connection, and P2P returns", async () => {
    network.reachable = true;
    await clock.advance(1_000);
    assert(events.a.includes("ICE restart"));
    await clock.advance(500);
    assertEquals(network.live("a"), pcBefore, "restarted, not torn down");
    assertEquals([a.path.value, b.path.value], ["p2p", "p2p"]);
    assertEquals(a.send("back"), true);
  });
});

Deno.test("a network change restarts ICE without tearing the link down", async () => {
  const { clock, network, a, b } = makePair();
  await Promise.all([a.start(), b.start()]);
  await clock.advance(500);
  const pc = network.live("a")!;
  const offersBefore = pc.offers;
  const usernameBefore = pc.config.iceServers![0].username;
  a.networkChanged();
  await clock.advance(500);
  assertEquals(network.live("a"), pc);
  assert(pc.config.iceServers![0].username !== usernameBefore, "fresh TURN credentials for the restart");
  assertEquals(pc.offers, offersBefore + 1, "an ICE-restart offer");
  assertEquals([a.state.value, a.path.value], ["open", "p2p"]);
});

Deno.test("when the far side closes, the link falls back to the relay and reconnects later", async () => {
  const { clock, network, a, b } = makePair();
  await Promise.all([a.start(), b.start()]);
  await clock.advance(500);
  b.close();
  await clock.advance(10);
  assertEquals([a.state.value, a.path.value], ["not-now", "relay"]);
  assertEquals(b.state.value, "closed");
  assertEquals(network.live("b"), undefined);
});

Deno.test("signals from an older generation are ignored", async () => {
  const { clock, network, a, b, signaling } = makePair();
  await Promise.all([a.start(), b.start()]);
  await clock.advance(500);
  const pc = network.live("a")!;
  signaling.up = false;
  await a.handleSignal({ kind: "rtc", gen: 0, description: { type: "offer", sdp: "fake pc999 ufrag1" } });
  assertEquals(network.live("a"), pc);
  assertEquals(pc.signalingState, "stable");
  assertEquals(a.state.value, "open");
});

Deno.test("reconnect starts a fresh generation at once when signals may have been lost", async () => {
  const { clock, network, a, b, signaling } = makePair();
  signaling.up = false;
  await Promise.all([a.start(), b.start()]);
  await clock.advance(TIMING.setupTimeoutMs + 1);
  assertEquals(a.state.value, "not-now", "negotiation never got through");
  signaling.up = true;
  const generation = a.generation;
  a.reconnect();
  await clock.advance(500);
  assert(a.generation > generation);
  assertEquals([a.state.value, b.state.value], ["open", "open"]);
  assertEquals(network.live("a")?.iceConnectionState, "connected");
  a.reconnect();
  assertEquals(a.state.value, "open", "an open direct link is left alone");
});

Deno.test("an offer arriving while the link still fetches its ICE servers does not start a second connection", async () => {
  const { clock, network, a, b } = makePair({ iceDelayMs: 200 });
  void a.start();
  await clock.advance(100);
  void b.start(); // b's ICE servers arrive at 300; a's offer reaches b at about 205
  await clock.advance(1_000);
  assertEquals([a.state.value, b.state.value], ["open", "open"]);
  assertEquals(network.connections.filter((pc) => pc.owner === "b").length, 1, "one connection on the late side");
  assertEquals(network.connections.filter((pc) => pc.owner === "a").length, 1);
});

Deno.test("a retry armed for an old generation never tears down the newer link that works", async (t) => {
  const retry = { a: new FixedRetry(5_000), b: new FixedRetry(1_000) };
  const { clock, network, a, b, events } = makePair({ retry });
  network.reachable = false;
  await Promise.all([a.start(), b.start()]);

  await t.step("both time out on generation 1; a will retry in 5 s, b in 1 s", async () => {
    await clock.advance(TIMING.setupTimeoutMs + 1);
    assertEquals([a.state.value, b.state.value], ["not-now", "not-now"]);
    assertEquals([retry.a.delays, retry.b.delays], [[5_000], [1_000]]);
  });
  let pc: ReturnType<typeof network.live>;
  await t.step("b's retry starts generation 2, a follows it, and the link opens", async () => {
    network.reachable = true;
    await clock.advance(1_000 + 500);
    assertEquals([a.state.value, b.state.value], ["open", "open"]);
    assertEquals([a.generation, b.generation], [2, 2]);
    pc = network.live("a");
  });
  await t.step("a's old retry comes due and leaves the open link alone", async () => {
    await clock.advance(5_000);
    assertEquals([a.state.value, a.path.value], ["open", "p2p"]);
    assertEquals(a.generation, 2);
    assertEquals(network.live("a"), pc, "the same connection");
    assertEquals(pc!.closed, false);
    assertEquals(events.a.filter((e) => e === "P2P connecting").length, 2, "no third attempt");
    assertEquals(a.send("still here"), true);
  });
});

Deno.test("a retry due after a reconnect started a newer attempt does nothing", async () => {
  const retry = { a: new FixedRetry(5_000), b: new FixedRetry(60_000) };
  const { clock, network, a, b, signaling } = makePair({ retry });
  signaling.up = false;
  await Promise.all([a.start(), b.start()]);
  await clock.advance(TIMING.setupTimeoutMs + 1);
  signaling.up = true;
  a.reconnect();
  await clock.advance(500);
  assertEquals([a.state.value, b.state.value], ["open", "open"]);
  const pc = network.live("a");
  await clock.advance(10_000);
  assertEquals(network.live("a"), pc);
  assertEquals(a.state.value, "open");
});

Deno.test("ICE servers that never arrive cannot hold the link: the setup timeout fails the attempt", async (t) => {
  let calls = 0;
  const { clock, network, a, b } = makePair({
    iceServersA: () => ++calls === 1 ? new Promise<RTCIceServer[]>(() => {}) : Promise.resolve([]),
  });
  const started = a.start();
  void b.start();
  await t.step("no connection is made while the fetch hangs, and the timeout marks P2P not now", async () => {
    await clock.advance(TIMING.setupTimeoutMs - 1);
    assertEquals(network.connections.filter((pc) => pc.owner === "a").length, 0);
    await clock.advance(2);
    assertEquals(a.state.value, "not-now");
    await started;
  });
  await t.step("signals queued behind the hung fetch are not stuck, and the next attempt opens", async () => {
    await clock.advance(30_000);
    assertEquals([a.state.value, b.state.value], ["open", "open"]);
    assertEquals(network.connections.filter((pc) => pc.owner === "a").length, 1);
  });
});

/** A pair whose links close after 60 s without chat, both started, with the clock then advanced by `afterMs`. */
async function startedIdlePair(afterMs: number): Promise<Pair> {
  const pair = makePair({ timing: { idleCloseMs: 60_000 } });
  await Promise.all([pair.a.start(), pair.b.start()]);
  await pair.clock.advance(afterMs);
  return pair;
}

Deno.test("a channel that carried no chat for the idle time closes on both sides, with no retry, until chat wakes it", async (t) => {
  const { clock, network, a, b, received, events } = await startedIdlePair(500);
  const first = network.live("a")!;

  await t.step("chat keeps it open: the countdown starts again with each payload, either way", async () => {
    await clock.advance(50_000);
    assert(a.send("one"));
    await clock.advance(50_000);
    assert(b.send("two"));
    await clock.advance(50_000);
    assertEquals([a.state.value, b.state.value], ["open", "open"], "never 60 s without chat");
    assertEquals(received, { a: ["two"], b: ["one"] });
  });

  await t.step("60 s without chat: both close, chat takes the relay, and nobody retries", async () => {
    await clock.advance(10_100);
    assertEquals([a.state.value, b.state.value], ["idle", "idle"]);
    assertEquals([a.path.value, b.path.value], ["relay", "relay"]);
    assertEquals([network.live("a"), network.live("b")], [undefined, undefined], "both connections closed");
    assertEquals(a.send("by relay"), false);
    const built = network.connections.length;
    await clock.advance(10 * 60_000);
    assertEquals(network.connections.length, built, "no attempt in ten minutes: an idle link waits for chat");
    assertEquals([a.state.value, b.state.value], ["idle", "idle"]);
    assert(!events.a.concat(events.b).includes("Retry scheduled"), events.b.join(", "));
  });

  await t.step("the next message wakes it: a new generation, and both sides open again", async () => {
    const gen = a.generation;
    b.wake();
    await clock.advance(500);
    assertEquals([a.state.value, b.state.value], ["open", "open"]);
    assertEquals([a.generation, b.generation], [gen + 1, gen + 1]);
    assert(network.live("a") !== first, "a new connection");
    assert(b.send("p2p again"));
    await clock.advance(10);
    assertEquals(received.a.at(-1), "p2p again");
  });
});

Deno.test("a side told its remote went idle while it was retrying stops retrying", async () => {
  const { clock, network, a, b } = await startedIdlePair(500);
  // The remote's connection goes first (its SCTP abort outruns the signal): this side fails and would retry.
  network.live("b")!.close();
  await clock.advance(1);
  assertEquals(a.state.value, "not-now");
  await a.handleSignal({ kind: "rtc", gen: a.generation, idle: true });
  assertEquals(a.state.value, "idle");
  const built = network.connections.length;
  await clock.advance(120_000);
  assertEquals(network.connections.length, built, "the retry was called off");
  assertEquals(a.state.value, "idle");
  void b;
});

Deno.test("an idle link ignores reconnects and network changes, and an old idle signal never closes a newer link", async () => {
  const { clock, network, a, b } = await startedIdlePair(61_000);
  assertEquals([a.state.value, b.state.value], ["idle", "idle"]);
  const built = network.connections.length;
  a.reconnect();
  a.networkChanged();
  await clock.advance(1_000);
  assertEquals(network.connections.length, built, "signaling back or a new network is no reason to open");
  const idleGen = a.generation;
  a.wake();
  await clock.advance(500);
  assertEquals([a.state.value, b.state.value], ["open", "open"]);
  await b.handleSignal({ kind: "rtc", gen: idleGen, idle: true });
  assertEquals(b.state.value, "open", "a stale idle signal (an older generation) is ignored");
});

Deno.test("a late signal of the generation a link closed for idleness does not reopen it", async () => {
  const { clock, network, a, b } = await startedIdlePair(61_000);
  assertEquals([a.state.value, b.state.value], ["idle", "idle"]);
  const built = network.connections.length;
  // An ICE-restart offer the remote sent just before it, too, went idle, arriving late.
  await a.handleSignal({ kind: "rtc", gen: a.generation, description: { type: "offer", sdp: "fake pc999 ufrag9" } });
  await a.handleSignal({
    kind: "rtc",
    gen: a.generation,
    candidate: { candidate: "candidate:1 1 udp 1 10.0.0.9 9 typ host" },
  });
  await clock.advance(120_000);
  assertEquals(network.connections.length, built, "no connection was built for it");
  assertEquals(a.state.value, "idle");
});

Deno.test("a connection lost near the idle time goes idle at once and tells the remote; lost earlier, it retries", async (t) => {
  await t.step("near the idle time: the remote going idle, its signal still on the way", async () => {
    const { clock, network, a, b, signaling } = await startedIdlePair(50_000);
    signaling.up = false; // the remote's idle signal is late
    network.live("b")!.close();
    await clock.advance(1);
    assertEquals(a.state.value, "idle", "not a failure to retry");
    assertEquals(a.path.value, "relay");
    signaling.up = true;
    const built = network.connections.length;
    await clock.advance(10 * 60_000);
    assertEquals(network.connections.length, built, "nobody reopened it");
    void b;
  });

  await t.step("it told the remote, which was not idle yet: both stay closed until chat", async () => {
    const { clock, network, a, b } = await startedIdlePair(50_000);
    network.cut(); // ICE drops on both sides: near the idle time, neither restarts
    await clock.advance(10);
    assertEquals([a.state.value, b.state.value], ["idle", "idle"]);
    network.reachable = true;
    const built = network.connections.length;
    await clock.advance(10 * 60_000);
    assertEquals(network.connections.length, built);
  });

  await t.step("well before it: a lost connection is a failure, retried as always", async () => {
    const { clock, network, a, b } = await startedIdlePair(10_000);
    network.live("b")!.close();
    await clock.advance(1);
    assertEquals(a.state.value, "not-now");
    void b;
  });
});

Deno.test("remote candidates on this device's loopback, unspecified or link-local addresses are not plausible", () => {
  const line = (address: string) => `candidate:1 1 udp 2122260223 ${address} 50000 typ host`;
  for (const address of ["127.0.0.1", "127.3.2.1", "0.0.0.0", "169.254.10.1", "::1", "::", "fe80::1", "FE80::abcd"]) {
    assertEquals(plausibleCandidate(line(address)), false, address);
  }
  for (const address of ["192.168.1.7", "10.0.0.2", "203.0.113.7", "2001:db8::1", "0a1b2c3d-aaaa.local"]) {
    assertEquals(plausibleCandidate(line(address)), true, address);
  }
  assertEquals(plausibleCandidate(""), true, "an empty candidate (end of candidates) is the browser's to take");
});
