/**
 * The room's peer links: at most one `PeerLink` per remote peer, the path
 * each one offers (P2P, P2P through TURN, relay) as one signal for the UI,
 * and the moments a DataChannel becomes usable or stops being usable, told
 * to whoever carries chat. Own sessions (other tabs) never get a link: the
 * room decides that before asking.
 * @module
 */
import { effect, type ReadonlySignal, signal } from "@preact/signals-core";
import { Backoff } from "../backoff.ts";
import type { DirectLink } from "../courier/mod.ts";
import type { NetworkTimings } from "../network_profile.ts";
import { PeerLink, type PeerLinkSignal, type PeerPath } from "../peer_link.ts";
import type { Timers } from "../timer_set.ts";

/** The timing numbers links take from the network profile. */
export type LinkTimings = Pick<
  NetworkTimings,
  | "p2pSetupTimeoutMs"
  | "iceDisconnectedGraceMs"
  | "iceCandidatePoolSize"
  | "p2pRetryBaseMs"
  | "p2pRetryCapMs"
  | "p2pIdleCloseMs"
>;

/** What the link pool needs. */
export interface LinkPoolOptions {
  /** Creates an RTCPeerConnection; without it there are no links and chat stays on the relay. */
  createPeerConnection?(config: RTCConfiguration): RTCPeerConnection;
  /** ICE servers for a new connection or restart. */
  iceServers(): Promise<RTCIceServer[]>;
  /** The profile's numbers now (read when a link is made). */
  timings(): LinkTimings;
  /** Sends a link's negotiation signal to its peer. */
  sendSignal(peer: string, data: PeerLinkSignal): void;
  /** A chat payload arrived on a DataChannel. */
  onMessage(peer: string, payload: string): void;
  /** The DataChannel to `peer` became usable. */
  onDirect(peer: string, link: DirectLink): void;
  /**
   * Chat to `peer` takes the relay again: its DataChannel stopped being usable (`lost`, often the only
   * sign that this device's address changed), it closed after carrying no chat for a while (`idle`), or
   * the room closed the link (`closed`).
   */
  onRelay(peer: string, why: "lost" | "idle" | "closed"): void;
  /** A link was made and starts its first attempt. */
  onStarting?(peer: string): void;
  /** Timers for the links. */
  timers: Timers;
  /** Wall clock, for retry backoff. */
  now(): number;
  /** Random source for retry jitter. */
  random?(): number;
  /** Event sink for the diagnostics log. */
  log(name: string, detail?: Record<string, unknown>): void;
}

/** The links of one room. */
export interface LinkPool {
  /** The path to each linked peer. */
  readonly paths: ReadonlySignal<ReadonlyMap<string, PeerPath>>;
  /** Makes and starts a link to `peer` unless there is one (or links are unavailable); `self` is own peer id. */
  ensure(self: string, peer: string): void;
  /** The link to `peer`, if any. */
  get(peer: string): PeerLink | undefined;
  /** Closes and forgets the link to `peer`. */
  drop(peer: string): void;
  /** Closes every link. */
  dropAll(): void;
  /** Peers with a link. */
  peers(): string[];
  /** The signaling path came back: links stuck on the relay start over, since their signals may be lost. */
  signalingRestored(): void;
  /** The network changed: links restart ICE (or retry now). */
  networkChanged(): void;
  /** Chat is about to be sent: links closed for idleness open again. */
  wake(): void;
}

/** Creates the link pool of one room. */
export function createLinkPool(options: LinkPoolOptions): LinkPool {
  const links = new Map<string, { link: PeerLink; stop: () => void }>();
  const paths = signal<ReadonlyMap<string, PeerPath>>(new Map());

  function setPath(peer: string, path: PeerPath | undefined): void {
    const next = new Map(paths.peek());
    if (path === undefined) next.delete(peer);
    else next.set(peer, path);
    paths.value = next;
  }

  function ensure(self: string, peer: string): void {
    if (!options.createPeerConnection || peer === self || links.has(peer)) return;
    const t = options.timings();
    const link = new PeerLink({
      self,
      remote: peer,
      createPeerConnection: options.createPeerConnection,
      iceServers: options.iceServers,
      sendSignal: (data) => options.sendSignal(peer, data),
      onMessage: (payload) => options.onMessage(peer, payload),
      timing: {
        setupTimeoutMs: t.p2pSetupTimeoutMs,
        disconnectedGraceMs: t.iceDisconnectedGraceMs,
        candidatePoolSize: t.iceCandidatePoolSize,
        idleCloseMs: t.p2pIdleCloseMs,
      },
      retry: new Backoff({
        baseMs: t.p2pRetryBaseMs,
        capMs: t.p2pRetryCapMs,
        random: options.random,
        now: options.now,
      }),
      timers: options.timers,
      log: options.log,
    });
    let wasDirect = false;
    const stop = effect(() => {
      const path = link.path.value;
      setPath(peer, path);
      const direct = path !== "relay";
      if (direct === wasDirect) return;
      wasDirect = direct;
      if (direct) options.onDirect(peer, link);
      else options.onRelay(peer, link.state.peek() === "idle" ? "idle" : "lost");
    });
    links.set(peer, { link, stop });
    options.onStarting?.(peer);
    void link.start();
  }

  function drop(peer: string): void {
    const entry = links.get(peer);
    if (!entry) return;
    entry.stop();
    entry.link.close();
    links.delete(peer);
    setPath(peer, undefined);
    options.onRelay(peer, "closed");
  }

  return {
    paths,
    ensure,
    get: (peer) => links.get(peer)?.link,
    drop,
    dropAll() {
      for (const peer of [...links.keys()]) drop(peer);
    },
    peers: () => [...links.keys()],
    signalingRestored() {
      for (const { link } of links.values()) if (link.path.peek() === "relay") link.reconnect();
    },
    networkChanged() {
      for (const { link } of links.values()) link.networkChanged();
    },
    wake() {
      for (const { link } of links.values()) link.wake();
    },
  };
}
