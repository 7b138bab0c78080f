/**
 * The link pool, loaded when first needed. Chat goes over the relay from the
 * first moment and P2P is an upgrade in the background, so the WebRTC code
 * (`link_pool.ts`, `peer_link.ts`, with the ICE servers' cache: the room's `p2p.ts`) is not part of a room's first
 * load: it is fetched the first time the room asks for a link, which is after the
 * welcome, when another member is there. Until it has arrived, the links asked
 * for and the negotiation signals received are kept, then handed over in order.
 * @module
 */
import { computed, signal } from "@preact/signals-core";
import type { LinkPool, LinkPoolOptions } from "./link_pool.ts";
import type { PeerLinkSignal, PeerPath } from "../peer_link.ts";

/** Signals kept per peer while the code loads; a peer never needs more for one negotiation. */
const MAX_PENDING_SIGNALS = 64;

/** What the pool's module provides. */
export interface LinkPoolModule {
  /** Creates the real pool. */
  createLinkPool(options: LinkPoolOptions): LinkPool;
}

/** Options of the lazy pool: those of the pool, plus how to load it. */
export interface LazyLinkPoolOptions extends LinkPoolOptions {
  /** Loads the pool's module (the room imports `p2p.ts`, one lazy chunk with the ICE servers' cache; tests pass their own). */
  load(): Promise<LinkPoolModule>;
}

/** A link pool that also takes a negotiation signal for a peer, keeping it while the code loads. */
export interface LazyLinkPool extends LinkPool {
  /** Hands a negotiation signal to the link to `peer` (made by `ensure` first), now or once loaded. */
  deliver(peer: string, data: PeerLinkSignal): void;
}

const NO_PATHS: ReadonlyMap<string, PeerPath> = new Map();

/** Creates a link pool whose code loads at the first `ensure`. */
export function createLazyLinkPool(options: LazyLinkPoolOptions): LazyLinkPool {
  const real = signal<LinkPool | undefined>(undefined);
  /** Links asked for before the code arrived: peer → own peer id. */
  const wanted = new Map<string, string>();
  const pending = new Map<string, PeerLinkSignal[]>();
  let loading: Promise<void> | undefined;

  function load(): void {
    if (loading || !options.createPeerConnection) return;
    loading = options.load().then((module) => {
      const pool = module.createLinkPool(options);
      real.value = pool;
      for (const [peer, self] of wanted) pool.ensure(self, peer);
      wanted.clear();
      for (const [peer, signals] of pending) for (const data of signals) void pool.get(peer)?.handleSignal(data);
      pending.clear();
    }, (error: unknown) => {
      // Offline with nothing cached, say: chat stays on the relay, and the next link asked for tries again.
      options.log("P2P code failed to load", { error: String(error) });
      loading = undefined;
    });
  }

  return {
    paths: computed(() => real.value?.paths.value ?? NO_PATHS),
    ensure(self, peer) {
      const pool = real.peek();
      if (pool) return pool.ensure(self, peer);
      if (!options.createPeerConnection || peer === self) return;
      wanted.set(peer, self);
      load();
    },
    deliver(peer, data) {
      const pool = real.peek();
      if (pool) return void pool.get(peer)?.handleSignal(data);
      if (!wanted.has(peer)) return;
      const signals = pending.get(peer) ?? [];
      if (signals.length < MAX_PENDING_SIGNALS) signals.push(data);
      pending.set(peer, signals);
    },
    get: (peer) => real.peek()?.get(peer),
    drop(peer) {
      wanted.delete(peer);
      pending.delete(peer);
      real.peek()?.drop(peer);
    },
    dropAll() {
      wanted.clear();
      pending.clear();
      real.peek()?.dropAll();
    },
    peers: () => real.peek()?.peers() ?? [...wanted.keys()],
    signalingRestored: () => real.peek()?.signalingRestored(),
    networkChanged: () => real.peek()?.networkChanged(),
    wake: () => real.peek()?.wake(),
  };
}
