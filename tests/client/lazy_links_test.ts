/**
 * The lazily loaded link pool: no WebRTC code until a link is asked for, and
 * nothing asked for or received meanwhile is lost or reordered.
 * @module
 */
import { assertEquals } from "@std/assert";
import { signal } from "@preact/signals-core";
import { createLazyLinkPool, type LinkPoolModule } from "../../lib/client/room/lazy_links.ts";
import type { LinkPool, LinkPoolOptions } from "../../lib/client/room/link_pool.ts";
import type { PeerLink, PeerLinkSignal, PeerPath } from "../../lib/client/peer_link.ts";
import { FakeClock } from "../support/fake_clock.ts";

/** A pool that records what it is asked, standing in for the real one. */
function recordingModule(
  calls: string[],
): LinkPoolModule & { paths: ReturnType<typeof signal<Map<string, PeerPath>>> } {
  const paths = signal(new Map<string, PeerPath>());
  const links = new Set<string>();
  return {
    paths,
    createLinkPool(): LinkPool {
      return {
        paths,
        ensure(self, peer) {
          calls.push(`ensure ${self}->${peer}`);
          links.add(peer);
        },
        get(peer) {
          if (!links.has(peer)) return undefined;
          return {
            handleSignal: (data: PeerLinkSignal) => {
              calls.push(`signal ${peer} gen ${data.gen}`);
              return Promise.resolve();
            },
          } as unknown as PeerLink;
        },
        drop: (peer) => void calls.push(`drop ${peer}`),
        dropAll: () => void calls.push("dropAll"),
        peers: () => [...links],
        signalingRestored: () => void calls.push("restored"),
        networkChanged: () => void calls.push("network"),
        wake: () => void calls.push("wake"),
      };
    },
  };
}

function options(load: () => Promise<LinkPoolModule>, withRtc = true) {
  const clock = new FakeClock();
  const logged: string[] = [];
  const base: LinkPoolOptions = {
    createPeerConnection: withRtc ? () => ({}) as RTCPeerConnection : undefined,
    iceServers: () => Promise.resolve([]),
    timings: () => ({
      p2pSetupTimeoutMs: 1,
      iceDisconnectedGraceMs: 1,
      iceCandidatePoolSize: 0,
      p2pRetryBaseMs: 1,
      p2pRetryCapMs: 1,
      p2pIdleCloseMs: 0,
    }),
    sendSignal() {},
    onMessage() {},
    onDirect() {},
    onRelay() {},
    timers: clock,
    now: clock.now,
    log: (name) => logged.push(name),
  };
  return { ...base, load, logged };
}

/** A load the test completes when it wants. */
function gatedLoad(module: LinkPoolModule) {
  let count = 0;
  let open!: () => void;
  const gate = new Promise<void>((resolve) => open = resolve);
  return { load: () => (count++, gate.then(() => module)), open: () => open(), count: () => count };
}

const offer = (gen: number): PeerLinkSignal => ({ kind: "rtc", gen, description: { type: "offer", sdp: "v=0" } });

Deno.test("nothing loads until a link is asked for, and the first ask loads once", async () => {
  const calls: string[] = [];
  const gated = gatedLoad(recordingModule(calls));
  const pool = createLazyLinkPool(options(gated.load));
  pool.signalingRestored();
  pool.networkChanged();
  pool.wake();
  assertEquals([gated.count(), pool.peers()], [0, []]);
  pool.ensure("me", "a");
  pool.ensure("me", "b");
  assertEquals(gated.count(), 1);
  assertEquals(pool.peers(), ["a", "b"]);
  gated.open();
  await gated.load();
  assertEquals(calls, ["ensure me->a", "ensure me->b"]);
});

Deno.test("signals received while the code loads reach their link in order once it is there", async () => {
  const calls: string[] = [];
  const gated = gatedLoad(recordingModule(calls));
  const pool = createLazyLinkPool(options(gated.load));
  pool.ensure("me", "a");
  pool.deliver("a", offer(1));
  pool.deliver("a", offer(2));
  pool.deliver("stranger", offer(9));
  assertEquals(pool.get("a"), undefined, "no link object before the code is there");
  gated.open();
  await gated.load();
  pool.deliver("a", offer(3));
  assertEquals(calls, ["ensure me->a", "signal a gen 1", "signal a gen 2", "signal a gen 3"]);
});

Deno.test("a peer dropped while the code loads gets no link, and its signals are forgotten", async () => {
  const calls: string[] = [];
  const gated = gatedLoad(recordingModule(calls));
  const pool = createLazyLinkPool(options(gated.load));
  pool.ensure("me", "a");
  pool.ensure("me", "b");
  pool.deliver("a", offer(1));
  pool.drop("a");
  gated.open();
  await gated.load();
  assertEquals(calls, ["ensure me->b"]);
});

Deno.test("without RTCPeerConnection nothing is ever loaded", () => {
  const gated = gatedLoad(recordingModule([]));
  const pool = createLazyLinkPool(options(gated.load, false));
  pool.ensure("me", "a");
  pool.deliver("a", offer(1));
  assertEquals([gated.count(), pool.peers()], [0, []]);
});

Deno.test("a failed load leaves chat on the relay, and the next ask tries again", async () => {
  const calls: string[] = [];
  const module = recordingModule(calls);
  let attempts = 0;
  const opts = options(() => ++attempts === 1 ? Promise.reject(new Error("offline")) : Promise.resolve(module));
  const pool = createLazyLinkPool(opts);
  pool.ensure("me", "a");
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(opts.logged, ["P2P code failed to load"]);
  pool.ensure("me", "b");
  await Promise.resolve();
  await Promise.resolve();
  assertEquals(attempts, 2);
  assertEquals(calls, ["ensure me->a", "ensure me->b"]);
});

Deno.test("the paths are the loaded pool's, and empty before", async () => {
  const module = recordingModule([]);
  const gated = gatedLoad(module);
  const pool = createLazyLinkPool(options(gated.load));
  assertEquals(pool.paths.value.size, 0);
  pool.ensure("me", "a");
  gated.open();
  await gated.load();
  module.paths.value = new Map([["a", "p2p"]]);
  assertEquals([...pool.paths.value], [["a", "p2p"]]);
});
