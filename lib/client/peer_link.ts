/**
 * One WebRTC link to one remote peer: perfect negotiation over the server's
 * signal frames, a negotiated DataChannel for chat, a setup timeout that
 * marks P2P "not now" and retries later, and ICE restarts on trouble.
 * Chat never waits for this link: until it opens, the relay carries it.
 *
 * An open connection costs a phone even when nobody writes: ICE consent
 * checks and SCTP heartbeats wake its radio every few seconds. So a channel
 * that carried nothing for `idleCloseMs` closes ("idle"), telling the other
 * side to do the same rather than retry, and chat takes the relay until the
 * next message wakes the link (`wake()`, or the remote's new offer).
 *
 * Every timer and every wait belongs to the connection generation that
 * started it: a retry armed for an old generation never tears down a newer
 * one, and fetching ICE servers is bounded by the setup timeout, so a hung
 * fetch cannot hold the link (or its signal queue) forever.
 * @module
 */
import { type ReadonlySignal, signal } from "@preact/signals-core";
import { GLOBAL_TIMERS, type Timers, TimerSet } from "./timer_set.ts";
import { parseIpv4, parseIpv6 } from "../protocol/ip.ts";

/** The path chat takes to a peer: direct, direct through TURN, or the server relay. */
export type PeerPath = "p2p" | "p2p-turn" | "relay";

/** Where a link stands: "idle" is closed for lack of chat, until woken; "closed" is for good. */
export type PeerLinkState = "connecting" | "open" | "not-now" | "idle" | "closed";

/**
 * How long after following a remote's new generation (a fresh connection) a newer one waits, ms: an honest remote
 * starts over after its setup timeout (10-15 s), a retry or a wake, seconds apart; the signals of what waits are
 * kept (the newest generation's, at most {@link MAX_HELD_SIGNALS}) and handled when the pause ends.
 */
export const FOLLOW_PAUSE_MS = 3_000;
/** Signals of a waiting remote generation kept: an offer and its candidates. */
export const MAX_HELD_SIGNALS = 64;
/**
 * Remote candidates taken per remote description: a browser sends a few per network path (host, server-reflexive,
 * TURN over UDP and TCP, per interface); more would only make this browser probe the addresses a member names. The
 * count starts again with a new remote description (an ICE restart brings new candidates) at most once per
 * {@link FOLLOW_PAUSE_MS}, the pace of new generations, so re-sending one offer over and over does not lift it.
 */
export const MAX_REMOTE_CANDIDATES = 64;

/**
 * Whether a remote ICE candidate names an address a browser could have gathered: not this device's loopback, not an
 * unspecified or link-local address (browsers never gather them; a member naming them would make this browser send
 * checks to its own services). The address is judged by what it parses to, so every spelling of one address
 * (`0::1`, `0:0:0:0:0:0:0:1`, `::ffff:7f00:1`) counts as that address. A host name passes only in the mDNS form
 * browsers send (`<uuid>.local`): another name (`localhost`) would be resolved by the browser. An unparsable line
 * passes, for the browser to refuse.
 */
export function plausibleCandidate(line: string | undefined): boolean {
  const address = line?.split(" ")[4]?.toLowerCase();
  if (!address) return true;
  const v4 = parseIpv4(address);
  if (v4) return plausibleV4(v4);
  if (!address.includes(":")) return /^[0-9a-f-]+\.local$/.test(address);
  const v6 = parseIpv6(address);
  if (!v6) return true;
  // Unspecified, loopback, link-local (fe80::/10).
  if (v6.slice(0, 7).every((word) => word === 0) && v6[7] <= 1) return false;
  if ((v6[0] & 0xffc0) === 0xfe80) return false;
  // IPv4-mapped (::ffff:a.b.c.d) and IPv4-compatible (::a.b.c.d) addresses are judged as IPv4.
  if (v6.slice(0, 5).every((word) => word === 0) && (v6[5] === 0xffff || v6[5] === 0)) {
    return plausibleV4([v6[6] >> 8, v6[6] & 255, v6[7] >> 8, v6[7] & 255]);
  }
  return true;
}

/** Not loopback (127/8), unspecified (0/8) or link-local (169.254/16). */
function plausibleV4([a, b]: number[]): boolean {
  return a !== 127 && a !== 0 && !(a === 169 && b === 254);
}

/** A signaling payload between two links, carried by the server's `signal` frames. */
export interface PeerLinkSignal {
  /** Kind tag, so the shell can route link signals apart from other peer messages. */
  kind: "rtc";
  /** Connection generation: a retry starts a new one, and both sides follow the highest. */
  gen: number;
  /** An SDP offer or answer. */
  description?: RTCSessionDescriptionInit;
  /** A trickled ICE candidate. */
  candidate?: RTCIceCandidateInit;
  /** The sender closed generation `gen` for idleness: close it too, and wait for chat rather than retry. */
  idle?: true;
}

/** Timing of a link, from the network profile. */
export interface PeerLinkTiming {
  /** How long a connection may take to open before P2P is "not now" (seed: 10 s mobile, 15 s desktop). */
  setupTimeoutMs: number;
  /** How long ICE may stay `disconnected` before an ICE restart. */
  disconnectedGraceMs: number;
  /** ICE candidates gathered before they are needed (seed: 10). */
  candidatePoolSize: number;
  /** An open channel that carried no chat this long closes until chat wakes it, in ms; 0 or absent: never. */
  idleCloseMs?: number;
}

/** A retry delay source, e.g. exponential backoff with jitter. */
export interface RetryDelays {
  /** The delay before the next attempt, in ms. */
  next(): number;
  /** Forgets earlier failures after a success. */
  reset(): void;
}

/** Everything a link needs from its surroundings. */
export interface PeerLinkOptions {
  /** Own peer id; the larger id is the polite side. */
  self: string;
  /** The remote peer id. */
  remote: string;
  /** Creates a peer connection: the browser's, or a fake in tests. */
  createPeerConnection(config: RTCConfiguration): RTCPeerConnection;
  /** The ICE servers to use for a new connection (fresh TURN credentials). */
  iceServers(): RTCIceServer[] | Promise<RTCIceServer[]>;
  /** Sends a signaling payload to the remote peer through the server. */
  sendSignal(data: PeerLinkSignal): void;
  /** Called with every chat payload the DataChannel delivers. */
  onMessage(data: string): void;
  /** Timing numbers from the network profile. */
  timing: PeerLinkTiming;
  /** Delays between attempts after a setup timeout or a lost channel. */
  retry: RetryDelays;
  /** Timers; defaults to the global ones. */
  timers?: Timers;
  /** Structured event sink for the diagnostics log. */
  log?(name: string, detail?: Record<string, unknown>): void;
}

/** What `stats()` reports about the selected candidate pair. */
export interface PeerLinkStats {
  /** Local candidate type: host, srflx, prflx or relay. */
  localType?: string;
  /** Remote candidate type. */
  remoteType?: string;
  /** Transport between the candidates. */
  protocol?: string;
  /** Protocol to the TURN server when the local candidate is a relay (udp, tcp, tls). */
  relayProtocol?: string;
  /** Current round-trip time in ms. */
  rttMs?: number;
}

/** A WebRTC link to one peer. */
export class PeerLink {
  #options: PeerLinkOptions;
  #clock: Timers;
  #timers: TimerSet<"setup" | "grace" | "retry" | "idle" | "follow" | "recount">;
  /** Signals of a newer remote generation, held until the follow pause ends (see {@link FOLLOW_PAUSE_MS}). */
  #held: PeerLinkSignal[] = [];
  /** Remote candidates taken since the count last started (see {@link MAX_REMOTE_CANDIDATES}). */
  #remoteCandidates = 0;
  #polite: boolean;
  #gen = 0;
  #pc: RTCPeerConnection | null = null;
  #channel: RTCDataChannel | null = null;
  #makingOffer = false;
  #ignoreOffer = false;
  #closed = false;
  /** No chat for three quarters of the idle time: a connection lost now is most likely the remote going idle. */
  #nearlyIdle = false;
  #inbox: Promise<void> = Promise.resolve();
  #connecting: Promise<void> | null = null;
  /** Ends the waits for ICE servers still running; called when the connection they were for goes away. */
  #cancelWaits = new Set<() => void>();
  #path = signal<PeerPath>("relay");
  #state = signal<PeerLinkState>("connecting");

  /** The path chat to this peer takes now. */
  readonly path: ReadonlySignal<PeerPath> = this.#path;
  /** Where the link stands. */
  readonly state: ReadonlySignal<PeerLinkState> = this.#state;

  /** Creates a link; call `start()` to begin negotiating. */
  constructor(options: PeerLinkOptions) {
    this.#options = options;
    this.#clock = options.timers ?? GLOBAL_TIMERS;
    this.#timers = new TimerSet(this.#clock);
    this.#polite = options.self > options.remote;
  }

  /** Whether this side yields when both offer at once. */
  get polite(): boolean {
    return this.#polite;
  }

  /** The live connection's ICE state, for diagnostics. */
  get iceState(): RTCIceConnectionState | undefined {
    return this.#pc?.iceConnectionState;
  }

  /** The connection generation in use. */
  get generation(): number {
    return this.#gen;
  }

  /** Starts the first connection attempt. */
  start(): Promise<void> {
    return this.#connect(this.#gen + 1);
  }

  /**
   * Sends a chat payload on the DataChannel; false when it is not open, or still holds bytes it has not sent (use
   * the relay). A fresh or idle SCTP association sends a few packets per round trip, so on a slow link a burst
   * queues up behind them; the relay's long-lived TCP connection takes what the channel cannot send at once.
   */
  send(data: string): boolean {
    const channel = this.#channel;
    if (!channel || channel.readyState !== "open" || this.#path.value === "relay") return false;
    if (channel.bufferedAmount > 0) return false;
    channel.send(data);
    this.#touch();
    return true;
  }

  /** Chat is about to flow: an idle link starts a new connection (the relay carries chat until it opens). */
  wake(): void {
    if (this.#closed || this.#state.value !== "idle") return;
    this.#log("P2P wakes", { gen: this.#gen + 1 });
    void this.#connect(this.#gen + 1);
  }

  /** Handles a signaling payload from the remote peer (perfect negotiation), in arrival order. */
  handleSignal(message: PeerLinkSignal): Promise<void> {
    this.#inbox = this.#inbox.then(() => this.#handleSignal(message)).catch((error) => {
      this.#log("Signal handling failed", { error: String(error) });
    });
    return this.#inbox;
  }

  async #handleSignal(message: PeerLinkSignal): Promise<void> {
    if (this.#closed || message.gen < this.#gen) return;
    // The remote closed its connection for idleness: so does this side, whatever it was doing with that generation.
    if (message.idle) {
      this.#gen = message.gen;
      this.#sleep("remote idle");
      return;
    }
    // This side gave that generation up (setup timeout, or idle): its late signals are stale, and the
    // next attempt (ours or the remote's retry, or a wake) starts a higher generation that both follow.
    if (message.gen === this.#gen && (this.#state.value === "not-now" || this.#state.value === "idle")) return;
    // The remote side started a new attempt: follow it with a fresh connection, at most once per
    // FOLLOW_PAUSE_MS: a newer generation within the pause waits for its end, with its signals, so a member
    // cannot make this side build an RTCPeerConnection (and gather candidates, TURN included) per signal.
    if (message.gen > this.#gen) {
      if (this.#timers.has("follow")) return this.#hold(message);
      this.#timers.set("follow", FOLLOW_PAUSE_MS, () => this.#release());
      await this.#connect(message.gen);
    } // A connection of this generation may still be fetching its ICE servers: wait for it, not a second one.
    else if (!this.#pc) await (this.#connecting ?? this.#connect(message.gen));
    if (!this.#pc) return;
    const pc = this.#pc!;
    if (message.description) {
      const description = message.description;
      const collision = description.type === "offer" && (this.#makingOffer || pc.signalingState !== "stable");
      this.#ignoreOffer = !this.#polite && collision;
      if (this.#ignoreOffer) return;
      await pc.setRemoteDescription(description);
      if (pc !== this.#pc) return;
      // A new description (an ICE restart) may bring new candidates: count them afresh, but not more often than
      // new generations may come (see MAX_REMOTE_CANDIDATES).
      if (!this.#timers.has("recount")) {
        this.#remoteCandidates = 0;
        this.#timers.set("recount", FOLLOW_PAUSE_MS, () => {});
      }
      if (description.type === "offer") {
        await pc.setLocalDescription();
        if (pc === this.#pc) this.#signal({ description: pc.localDescription!.toJSON() });
      }
    } else if (message.candidate) {
      // A remote description brings a few candidates per network path; a flood of them, or ones on this device's
      // own loopback or link-local addresses (which no browser gathers), would only make the browser probe them.
      if (++this.#remoteCandidates > MAX_REMOTE_CANDIDATES || !plausibleCandidate(message.candidate.candidate)) {
        return;
      }
      try {
        await pc.addIceCandidate(message.candidate);
      } catch (error) {
        // Candidates of an offer we ignored fail to apply; anything else is a real error.
        if (!this.#ignoreOffer) this.#log("ICE candidate rejected", { error: String(error) });
      }
    }
  }

  /** Keeps a signal of a newer remote generation until the follow pause ends: the newest generation's, bounded. */
  #hold(message: PeerLinkSignal): void {
    const gen = this.#held[0]?.gen;
    if (gen === undefined || message.gen > gen) this.#held = [message];
    else if (message.gen === gen && this.#held.length < MAX_HELD_SIGNALS) this.#held.push(message);
  }

  /** The follow pause ended: the signals held meanwhile are handled now, in order. */
  #release(): void {
    const held = this.#held;
    this.#held = [];
    for (const message of held) void this.handleSignal(message);
  }

  /** The network changed (new address, Wi-Fi to mobile): restart ICE instead of tearing down. */
  networkChanged(): void {
    if (this.#closed) return;
    if (this.#state.value === "not-now") {
      // A new network may allow what the old one did not: try now.
      this.#options.retry.reset();
      this.#scheduleRetry(0);
    } else if (this.#pc) {
      void this.#restartIce("network change");
    }
  }

  /** Starts over with a new connection generation now (the signaling path came back: earlier signals may be lost). */
  reconnect(): void {
    if (this.#closed || this.#state.value === "idle" || this.#state.value === "open" && this.#path.value !== "relay") {
      return;
    }
    this.#options.retry.reset();
    this.#log("P2P reconnect", { gen: this.#gen + 1 });
    void this.#connect(this.#gen + 1);
  }

  /** Reports the selected candidate pair and RTT. */
  async stats(): Promise<PeerLinkStats> {
    const pc = this.#pc;
    if (!pc) return {};
    const report = await pc.getStats();
    let pair: Record<string, unknown> | undefined;
    report.forEach((entry: Record<string, unknown>) => {
      if (entry.type === "transport" && typeof entry.selectedCandidatePairId === "string") {
        pair = report.get(entry.selectedCandidatePairId);
      }
    });
    if (!pair) {
      report.forEach((entry: Record<string, unknown>) => {
        if (entry.type === "candidate-pair" && entry.state === "succeeded" && (entry.nominated || entry.selected)) {
          pair ??= entry;
        }
      });
    }
    if (!pair) return {};
    const local = report.get(pair.localCandidateId as string) as Record<string, unknown> | undefined;
    const remote = report.get(pair.remoteCandidateId as string) as Record<string, unknown> | undefined;
    const rtt = pair.currentRoundTripTime;
    return {
      localType: local?.candidateType as string | undefined,
      remoteType: remote?.candidateType as string | undefined,
      protocol: local?.protocol as string | undefined,
      relayProtocol: local?.relayProtocol as string | undefined,
      rttMs: typeof rtt === "number" ? Math.round(rtt * 1000) : undefined,
    };
  }

  /** Applies refreshed ICE servers (new TURN credentials) to the live connection. */
  updateIceServers(iceServers: RTCIceServer[]): void {
    this.#pc?.setConfiguration({ ...this.#pc.getConfiguration(), iceServers });
  }

  /** Closes the link for good. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#teardown();
    this.#timers.clear("retry");
    this.#state.value = "closed";
    this.#path.value = "relay";
  }

  #connect(gen: number): Promise<void> {
    const connecting = this.#open(gen).finally(() => {
      if (this.#connecting === connecting) this.#connecting = null;
    });
    this.#connecting = connecting;
    return connecting;
  }

  async #open(gen: number): Promise<void> {
    this.#teardown();
    // A new attempt supersedes any retry still pending for an older one.
    this.#timers.clear("retry");
    this.#gen = gen;
    this.#state.value = "connecting";
    // The setup timeout covers the whole attempt, fetching ICE servers included.
    this.#timers.set("setup", this.#options.timing.setupTimeoutMs, () => {
      this.#log("P2P setup timed out", { gen, afterMs: this.#options.timing.setupTimeoutMs });
      this.#fail("setup timeout");
    });
    const iceServers = await this.#waitIceServers();
    if (!iceServers || this.#closed || this.#gen !== gen || this.#pc) return;
    const pc = this.#options.createPeerConnection({
      iceServers,
      iceCandidatePoolSize: this.#options.timing.candidatePoolSize,
    });
    this.#pc = pc;
    // A new connection counts its remote candidates from nothing.
    this.#remoteCandidates = 0;
    this.#timers.clear("recount");
    this.#log("P2P connecting", { gen, polite: this.#polite });

    pc.onnegotiationneeded = async () => {
      try {
        this.#makingOffer = true;
        await pc.setLocalDescription();
        if (pc === this.#pc) this.#signal({ description: pc.localDescription!.toJSON() });
      } catch (error) {
        this.#log("Offer failed", { error: String(error) });
      } finally {
        this.#makingOffer = false;
      }
    };
    pc.onicecandidate = ({ candidate }) => {
      if (candidate && pc === this.#pc) this.#signal({ candidate: candidate.toJSON() });
    };
    pc.oniceconnectionstatechange = () => {
      if (pc === this.#pc) this.#onIceState(pc.iceConnectionState);
    };

    // Both sides create the same pre-negotiated channel: no side waits for the other's. Unordered (still reliable):
    // a lost packet delays its own message only, not every later one (the courier orders messages by their keys,
    // and its packets already arrive by two paths, relay and direct, in any order).
    const channel = pc.createDataChannel("chat", { negotiated: true, id: 0, ordered: false });
    this.#channel = channel;
    channel.onopen = () => {
      if (channel !== this.#channel) return;
      this.#timers.clear("setup");
      this.#timers.clear("retry");
      this.#options.retry.reset();
      this.#state.value = "open";
      this.#log("DataChannel open", { gen });
      this.#touch();
      void this.#refreshPath();
    };
    channel.onclose = () => {
      if (channel !== this.#channel || this.#closed) return;
      this.#log("DataChannel closed", { gen });
      // Near the idle time the remote has most likely gone idle, and its signal saying so is still on its way
      // through the server: a retry now would reopen the link nobody uses.
      if (this.#nearlyIdle) return this.#sleep("lost near idle", true);
      this.#fail("channel closed");
    };
    channel.onmessage = (event) => {
      if (typeof event.data !== "string") return;
      this.#touch();
      this.#options.onMessage(event.data);
    };
  }

  /**
   * The ICE servers for a new connection or a restart, or null when the wait
   * was abandoned: the connection went away, or no answer came within the
   * setup timeout. A failed fetch gives no servers (host candidates still work).
   */
  #waitIceServers(): Promise<RTCIceServer[] | null> {
    return new Promise((resolve) => {
      const done = (servers: RTCIceServer[] | null) => {
        this.#clock.clearTimeout(deadline);
        this.#cancelWaits.delete(cancel);
        resolve(servers);
      };
      const cancel = () => done(null);
      const deadline = this.#clock.setTimeout(() => {
        this.#log("ICE servers timed out", { afterMs: this.#options.timing.setupTimeoutMs });
        done(null);
      }, this.#options.timing.setupTimeoutMs);
      this.#cancelWaits.add(cancel);
      Promise.resolve().then(() => this.#options.iceServers()).then(done, (error) => {
        this.#log("ICE servers unavailable", { error: String(error) });
        done([]);
      });
    });
  }

  #onIceState(state: RTCIceConnectionState): void {
    this.#log(`ICE connection state: ${state}`, { gen: this.#gen });
    if (state === "connected" || state === "completed") {
      this.#timers.clear("grace");
      if (this.#state.value === "open") void this.#refreshPath();
    } else if ((state === "disconnected" || state === "failed") && this.#nearlyIdle) {
      // As for a closed channel: this is most likely the remote going idle; the next message opens the link again.
      this.#sleep("lost near idle", true);
    } else if (state === "disconnected") {
      // Chat moves to the relay at once; ICE gets a short grace to recover by itself.
      this.#path.value = "relay";
      this.#timers.set("grace", this.#options.timing.disconnectedGraceMs, () => void this.#restartIce("disconnected"));
    } else if (state === "failed") {
      this.#path.value = "relay";
      void this.#restartIce("failed");
    }
  }

  async #restartIce(reason: string): Promise<void> {
    const pc = this.#pc;
    if (!pc) return;
    this.#log("ICE restart", { reason, gen: this.#gen });
    // A restart that does not bring the link back in time counts as a failed attempt
    // (the timeout runs from now, so it bounds fetching fresh credentials too).
    if (!this.#timers.has("setup")) {
      this.#timers.set("setup", this.#options.timing.setupTimeoutMs, () => {
        if (this.#pc === pc && !["connected", "completed"].includes(pc.iceConnectionState)) {
          this.#fail("ICE restart timed out");
        }
      });
    }
    // A restart allocates on TURN again: give it credentials that are still valid.
    const iceServers = await this.#waitIceServers();
    if (!iceServers || pc !== this.#pc) return;
    pc.setConfiguration({ ...pc.getConfiguration(), iceServers });
    pc.restartIce();
  }

  async #refreshPath(): Promise<void> {
    const stats = await this.stats();
    if (this.#state.value !== "open") return;
    const path: PeerPath = stats.localType === "relay" || stats.remoteType === "relay" ? "p2p-turn" : "p2p";
    if (this.#path.value !== path) {
      this.#path.value = path;
      this.#log("Path changed", { path, ...stats });
    }
  }

  /**
   * Chat moved on the channel: the idle countdown starts again. It runs in two stages, on one timer: after three
   * quarters of the idle time the link is "nearly idle" (a loss then is taken as the remote going idle), and after
   * the rest it goes idle itself.
   */
  #touch(): void {
    const idleMs = this.#options.timing.idleCloseMs;
    this.#nearlyIdle = false;
    if (!idleMs) return;
    const early = Math.floor(idleMs * 3 / 4);
    this.#timers.set("idle", early, () => {
      this.#nearlyIdle = true;
      this.#timers.set("idle", idleMs - early, () => this.#goIdle());
    });
  }

  /** Nothing moved for the idle time: close, telling the remote. */
  #goIdle(): void {
    if (this.#closed || this.#state.value !== "open") return;
    this.#sleep("idle", true);
  }

  /** Closes the connection until chat wakes the link; `tell`: say so to the remote (over the relay), so it does not retry. */
  #sleep(reason: "idle" | "remote idle" | "lost near idle", tell = false): void {
    if (this.#state.value === "idle") return;
    if (tell) this.#signal({ idle: true });
    this.#log("P2P idle", { gen: this.#gen, reason });
    this.#teardown();
    this.#timers.clear("retry");
    this.#state.value = "idle";
    this.#path.value = "relay";
  }

  #fail(reason: string): void {
    this.#teardown();
    this.#state.value = "not-now";
    this.#path.value = "relay";
    this.#scheduleRetry(this.#options.retry.next(), reason);
  }

  #scheduleRetry(delayMs: number, reason = "retry"): void {
    const gen = this.#gen;
    this.#log("Retry scheduled", { what: "p2p", inMs: Math.round(delayMs), reason, gen });
    this.#timers.set("retry", delayMs, () => {
      // Armed for generation `gen`: if another attempt has started since (the remote's, or a
      // reconnect), this retry is stale and must not tear down what that attempt built.
      if (this.#closed || this.#gen !== gen || this.#state.value === "open") return;
      void this.#connect(gen + 1);
    });
  }

  #teardown(): void {
    this.#timers.clear("setup");
    this.#timers.clear("grace");
    this.#timers.clear("idle");
    this.#nearlyIdle = false;
    for (const cancel of [...this.#cancelWaits]) cancel();
    const pc = this.#pc;
    const channel = this.#channel;
    this.#pc = null;
    this.#channel = null;
    this.#makingOffer = false;
    this.#ignoreOffer = false;
    if (channel) channel.onopen = channel.onclose = channel.onmessage = null;
    if (pc) {
      pc.onnegotiationneeded = pc.onicecandidate = pc.oniceconnectionstatechange = null;
      pc.close();
    }
  }

  #signal(payload: Omit<PeerLinkSignal, "kind" | "gen">): void {
    this.#options.sendSignal({ kind: "rtc", gen: this.#gen, ...payload });
  }

  #log(name: string, detail?: Record<string, unknown>): void {
    this.#options.log?.(name, { peer: this.#options.remote, ...detail });
  }
}
