/**
 * The shell around the courier: wires the signal socket, one peer link per
 * remote peer, end-to-end encryption and the store into one room, and
 * exposes it to the UI as a `RoomView`. Every platform object (WebSocket,
 * RTCPeerConnection, fetch, timers, the browser environment) is injected, so
 * the same code runs in the page and in Deno tests against a real server.
 * @module
 */
import { batch, computed, effect, signal } from "@preact/signals-core";
import type { ServerFrame } from "../protocol/mod.ts";
import { Backoff } from "./backoff.ts";
import { Courier, createMemorySigner, type MessageSigner, type Packet, type PayloadCodec } from "./courier/mod.ts";
import { admissionProof, RoomCipher } from "./crypto.ts";
import { EventLog, EVENTS, type LogEvent } from "./event_log.ts";
import { type IceAnswer, IceConfig } from "./ice_config.ts";
import {
  type NetworkEnvironment,
  type NetworkProfile,
  type NetworkTimings,
  profileFor,
  watchNetwork,
} from "./network_profile.ts";
import { PeerLink, type PeerLinkSignal } from "./peer_link.ts";
import type { CountersView, MessageView, PeerDiagnostics, PeerView, RoomView } from "./room_view.ts";
import { SignalSocket, signalUrl } from "./signal_socket.ts";
import type { Store } from "./store.ts";
import { GLOBAL_TIMERS, type Timers, TimerSet } from "./timer_set.ts";

/** Everything a room client needs from its platform. */
export interface RoomClientOptions {
  /** The page's origin, e.g. `https://parley.example`. */
  origin: string;
  /** The room id. */
  room: string;
  /** The 32-byte room key from the link's fragment. */
  keyBytes: Uint8Array;
  /** History, outbox and session state. */
  store: Store;
  /** The member identity that signs own messages; default: a key held in memory for this client's life. */
  signer?: MessageSigner;
  /** Creates a WebSocket (the browser's, or Deno's in tests). */
  createWebSocket(url: string): WebSocket;
  /** Creates an RTCPeerConnection; without it chat stays on the relay. */
  createPeerConnection?(config: RTCConfiguration): RTCPeerConnection;
  /** Fetches `/api/ice`. */
  fetchIce(peer?: string): Promise<IceAnswer>;
  /** The browser environment for the network profile and its events; empty under Deno. */
  env?: NetworkEnvironment;
  /** Timing overrides, e.g. the seed policy's `relayHoldMs: 10_000` for the baseline benchmark. */
  profileOverrides?: Partial<NetworkTimings>;
  /** Print the event log to the console (`?debug=1`). */
  debug?: boolean;
  /** Timers; default to the global ones. */
  timers?: Timers;
  /** Wall clock. */
  now?(): number;
  /** Random source for backoff jitter. */
  random?(): number;
}

/** Signal payload kinds: WebRTC negotiation, courier packets, and small presence metadata. */
type SignalEnvelope = { k: "rtc" | "courier" | "meta"; p: string };

/** Display name and typing state, exchanged between peers, encrypted. */
interface Meta {
  /** The sender's display name. */
  name?: string;
  /** True while the sender types. */
  typing?: boolean;
}

/** How long a typing indicator lasts without a new typing signal, and how often one is sent. */
const TYPING_SHOW_MS = 4_000;
const TYPING_SEND_EVERY_MS = 2_000;
/** Most characters of a display name. */
export const MAX_NAME_LENGTH = 40;

/** Own-message payloads carry the message id in front, so the id can be authenticated as associated data. */
const MESSAGE_ID_CHARS = 22;

/** The payload codec: AES-GCM with room, sender and message id (or packet kind) as associated data. */
export function cipherCodec(cipher: RoomCipher): PayloadCodec {
  return {
    async encode(packet: Packet, sender: string): Promise<string> {
      const json = JSON.stringify(packet);
      if (packet.t === "msg" && packet.m.id.length === MESSAGE_ID_CHARS) {
        return "m" + packet.m.id + await cipher.seal(sender, packet.m.id, json);
      }
      return "x" + await cipher.seal(sender, "courier", json);
    },
    async decode(payload: string, from: string): Promise<unknown> {
      const byId = payload[0] === "m";
      const id = byId ? payload.slice(1, 1 + MESSAGE_ID_CHARS) : "courier";
      const sealed = payload.slice(byId ? 1 + MESSAGE_ID_CHARS : 1);
      const opened = await cipher.open(from, id, sealed);
      if (!opened.ok) throw new Error(`rejected: ${opened.reason}`);
      const packet = JSON.parse(opened.text) as Packet;
      if (byId && (packet.t !== "msg" || packet.m.id !== id)) throw new Error("rejected: id mismatch");
      return packet;
    },
  };
}

/** A room client: a `RoomView` for the UI, plus `ready` for tests. */
export interface RoomClient extends RoomView {
  /** The courier, for tests and benchmarks that wait on its state. */
  readonly courier: Courier;
  /** The network profile in force. */
  readonly profile: NetworkProfile;
}

/** Opens a room: loads its state from the store and starts connecting. */
export async function createRoomClient(options: RoomClientOptions): Promise<RoomClient> {
  const { room, store } = options;
  const env = options.env ?? {};
  const now = options.now ?? Date.now;
  const timers = options.timers ?? GLOBAL_TIMERS;
  const overrides = options.profileOverrides ?? {};
  let profile = profileFor(env, overrides);
  const log = new EventLog({ console: options.debug ?? false, now });
  const cipher = await RoomCipher.create(options.keyBytes, room);
  const proof = await admissionProof(options.keyBytes, room);
  const saved = await store.getState(room);
  let token = saved.token;
  const pending = new TimerSet<"hold" | "typing-send">(timers);

  const events = signal<readonly LogEvent[]>([]);
  log.subscribe(() => events.value = log.entries());
  log.add(EVENTS.INITIALIZED, { room, relayHoldMs: profile.relayHoldMs });

  const selfName = signal(saved.name ?? "");
  const selfId = signal<string | undefined>(saved.peer);
  const presence = signal(new Map<string, "online" | "away">());
  const names = signal(new Map<string, string>());
  const typingUntil = signal(new Map<string, number>());
  const links = new Map<string, { link: PeerLink; stop: () => void }>();
  const linkPaths = signal(new Map<string, PeerLink["path"]["value"]>());
  const rejectedBySignal = signal(0);

  // The seed policy (baseline benchmark only) holds chat on the relay, history sync
  // included, until P2P had its chance; WebRTC negotiation itself is never held.
  let holdUntil = 0;
  const held: (() => void)[] = [];
  const relayChat = (send: () => void) => {
    if (now() < holdUntil) {
      held.push(send);
      return;
    }
    send();
  };

  const socket: SignalSocket = new SignalSocket({
    url: signalUrl(options.origin, room),
    createWebSocket: options.createWebSocket,
    hello: () => ({ token, since: courier.since, proof }),
    onFrame: (frame) => onFrame(frame),
    timings: profile,
    isOnline: () => (env.navigator as { onLine?: boolean } | undefined)?.onLine !== false,
    timers,
    now,
    random: options.random,
    log: (name, detail) => log.add(name, detail),
  });

  const courier = await Courier.load({
    room,
    store,
    signer: options.signer ?? await createMemorySigner(room),
    codec: cipherCodec(cipher),
    timing: { resendIntervalMs: profile.resendIntervalMs },
    timers,
    now,
    relay: {
      sendChat: (id, to, data) =>
        relayChat(() => socket.send(to ? { type: "chat", id, to, data } : { type: "chat", id, data })),
      sendSignal: (to, payload) => relayChat(() => sendEnvelope(to, { k: "courier", p: payload })),
    },
  });
  const messages = signal<MessageView[]>([]);
  const counters = signal<CountersView>({ sent: 0, delivered: 0, resent: 0, rejected: 0, duplicates: 0 });
  const refreshMessages = () => {
    messages.value = courier.messages.map((m) => ({
      id: m.id,
      author: m.author,
      authorName: names.value.get(m.author),
      own: m.status !== "received",
      body: m.body,
      time: m.time,
      // The view has no "failed" yet: a message the server refused for good stays "Sending".
      status: m.status === "failed" ? "pending" : m.status,
    }));
  };
  const refreshCounters = () => {
    const c = courier.counters;
    counters.value = {
      sent: c.sent,
      delivered: c.delivered,
      resent: c.resent,
      rejected: c.rejected + rejectedBySignal.value,
      duplicates: c.duplicates,
    };
  };
  courier.subscribe((event) => {
    if (event.type === "messages" || event.type === "status" || event.type === "received") refreshMessages();
    if (event.type === "counters" || event.type === "status") refreshCounters();
    if (event.type === "rejected") log.add(EVENTS.MESSAGE_REJECTED, { from: event.from, reason: event.reason });
    if (event.type === "error") log.add("Courier error", { context: event.context, error: String(event.error) });
  });
  refreshMessages();
  refreshCounters();

  const ice = new IceConfig({
    fetchIce: () => options.fetchIce(selfId.value),
    refreshMarginMs: profile.iceRefreshMarginMs,
    now,
  });

  function sendEnvelope(to: string, envelope: SignalEnvelope): void {
    socket.send({ type: "signal", to, data: envelope });
  }

  async function sendSealed(to: string, kind: "rtc" | "meta", value: unknown): Promise<void> {
    const self = selfId.value;
    if (!self) return;
    sendEnvelope(to, { k: kind, p: await cipher.seal(self, kind, JSON.stringify(value)) });
  }

  async function openSealed<T>(from: string, kind: "rtc" | "meta", sealed: string): Promise<T | null> {
    const opened = await cipher.open(from, kind, sealed);
    if (!opened.ok) {
      rejectedBySignal.value++;
      refreshCounters();
      log.add(EVENTS.MESSAGE_REJECTED, { from, kind, reason: opened.reason });
      return null;
    }
    return JSON.parse(opened.text) as T;
  }

  function ensureLink(peer: string): void {
    const self = selfId.value;
    if (!options.createPeerConnection || !self || peer === self || links.has(peer)) return;
    const link = new PeerLink({
      self,
      remote: peer,
      createPeerConnection: options.createPeerConnection,
      iceServers: () => ice.servers(),
      sendSignal: (data) => void sendSealed(peer, "rtc", data),
      onMessage: (payload) => courier.receiveDirect(peer, payload),
      timing: {
        setupTimeoutMs: profile.p2pSetupTimeoutMs,
        disconnectedGraceMs: profile.iceDisconnectedGraceMs,
        candidatePoolSize: profile.iceCandidatePoolSize,
      },
      retry: new Backoff({ baseMs: profile.p2pRetryBaseMs, capMs: profile.p2pRetryCapMs, random: options.random, now }),
      timers,
      log: (name, detail) => log.add(name, detail),
    });
    let wasDirect = false;
    const stop = effect(() => {
      const path = link.path.value;
      const next = new Map(linkPaths.peek());
      next.set(peer, path);
      linkPaths.value = next;
      const direct = path !== "relay";
      if (direct === wasDirect) return;
      wasDirect = direct;
      if (direct) {
        courier.linkOpened(peer, link);
        // P2P is up: anything the seed policy held goes now (duplicates are dropped by id).
        flushHeld();
      } else {
        courier.linkClosed(peer);
        // ICE dropping is often the only sign that this device's address changed (no browser
        // event fires then), and then the socket is likely dead too: probe it now.
        socket.networkEvent("connection");
      }
    });
    links.set(peer, { link, stop });
    holdForP2p();
    void link.start();
  }

  function dropLink(peer: string): void {
    const entry = links.get(peer);
    if (!entry) return;
    entry.stop();
    entry.link.close();
    links.delete(peer);
    const next = new Map(linkPaths.peek());
    next.delete(peer);
    linkPaths.value = next;
    courier.linkClosed(peer);
  }

  // As in the seed: each new P2P attempt gets the full wait before chat may use the relay.
  function holdForP2p(): void {
    const hold = profile.relayHoldMs;
    if (!(hold > 0)) return;
    holdUntil = Math.max(holdUntil, now() + hold);
    if (Number.isFinite(hold)) pending.set("hold", holdUntil - now(), flushHeld);
  }

  function flushHeld(): void {
    pending.clear("hold");
    const sends = held.splice(0);
    // A P2P-only design never uses the relay for chat: the courier re-sends over the DataChannel.
    if (profile.relayHoldMs === Infinity) return;
    holdUntil = 0;
    for (const send of sends) send();
  }

  function setPresence(peer: string, state: "online" | "away" | "left"): void {
    const next = new Map(presence.peek());
    if (state === "left") next.delete(peer);
    else next.set(peer, state);
    presence.value = next;
  }

  function announce(to: string): void {
    if (selfName.peek()) void sendSealed(to, "meta", { name: selfName.peek() } satisfies Meta);
  }

  function onFrame(frame: ServerFrame): void {
    switch (frame.type) {
      case "welcome": {
        if (selfId.peek() && selfId.peek() !== frame.peer) {
          // A new identity (the session expired): links were bound to the old one.
          for (const peer of [...links.keys()]) dropLink(peer);
        }
        token = frame.token;
        batch(() => {
          selfId.value = frame.peer;
          presence.value = new Map(frame.peers.map((p) => [p.id, p.presence]));
        });
        void store.patchState(room, { token: frame.token, peer: frame.peer }).catch((error) =>
          log.add("Store failed", { error: String(error) })
        );
        courier.relayUp({ peer: frame.peer, peers: frame.peers, log: frame.log });
        for (const peer of frame.peers) {
          ensureLink(peer.id);
          if (peer.presence === "online") announce(peer.id);
        }
        return;
      }
      case "presence": {
        courier.presence(frame.peer, frame.state, (frame as { member?: string }).member);
        setPresence(frame.peer, frame.state === "joined" ? "online" : frame.state);
        if (frame.state === "left") dropLink(frame.peer);
        else if (frame.state === "joined" || frame.state === "online") {
          ensureLink(frame.peer);
          announce(frame.peer);
        }
        return;
      }
      case "chat":
        courier.receiveChat(frame);
        return;
      case "accepted":
        courier.accepted(frame.id, frame.seq);
        return;
      case "signal":
        void onSignal(frame.from, frame.data as SignalEnvelope);
        return;
      case "gap":
        log.add("Room log gap", { from: frame.from, to: frame.to });
        return;
      case "error":
        if (frame.code === "unknown_peer") return;
        log.add(EVENTS.SERVER_ERROR, { code: frame.code, message: frame.message });
        if (frame.ref) courier.refused(frame.ref, frame.code);
        return;
    }
  }

  async function onSignal(from: string, envelope: SignalEnvelope): Promise<void> {
    if (!envelope || typeof envelope.p !== "string") {
      rejectedBySignal.value++;
      return;
    }
    if (envelope.k === "courier") {
      courier.receiveSignal(from, envelope.p);
    } else if (envelope.k === "rtc") {
      const data = await openSealed<PeerLinkSignal>(from, "rtc", envelope.p);
      if (!data) return;
      ensureLink(from);
      await links.get(from)?.link.handleSignal(data);
    } else if (envelope.k === "meta") {
      const meta = await openSealed<Meta>(from, "meta", envelope.p);
      if (!meta) return;
      if (typeof meta.name === "string") {
        const next = new Map(names.peek());
        next.set(from, meta.name.slice(0, MAX_NAME_LENGTH));
        names.value = next;
        refreshMessages();
      }
      if (meta.typing) {
        const next = new Map(typingUntil.peek());
        next.set(from, now() + TYPING_SHOW_MS);
        typingUntil.value = next;
        timers.setTimeout(() => typingUntil.value = new Map(typingUntil.peek()), TYPING_SHOW_MS + 1);
      }
    }
  }

  // The relay went away: the courier stops counting on it until the next welcome.
  let wasConnected = false;
  const stopSocketWatch = effect(() => {
    const connected = socket.state.value.kind === "connected";
    if (wasConnected && !connected) courier.relayDown();
    // Back on signaling: links stuck on the relay start a fresh attempt, since their signals
    // may have gone into the dead socket.
    if (!wasConnected && connected) {
      for (const { link } of links.values()) if (link.path.peek() === "relay") link.reconnect();
    }
    wasConnected = connected;
  });

  const stopWatching = watchNetwork(env, ({ reason, profile: next }) => {
    profile = next;
    log.add(EVENTS.NETWORK_CHANGED, { reason });
    socket.networkEvent(reason);
    if (reason === "online" || reason === "connection") {
      for (const { link } of links.values()) link.networkChanged();
    }
  }, overrides);

  socket.start();

  const peers = computed<PeerView[]>(() => {
    const paths = linkPaths.value;
    const until = typingUntil.value;
    const nameOf = names.value;
    const t = now();
    return [...presence.value].map(([id, state]) => ({
      id,
      name: nameOf.get(id),
      presence: state,
      path: paths.get(id) ?? "relay",
      typing: (until.get(id) ?? 0) > t,
    }));
  });

  let lastTypingSent = -Infinity;

  return {
    room,
    courier,
    get profile() {
      return profile;
    },
    messages,
    peers,
    connection: socket.state,
    self: computed(() => ({ id: selfId.value, name: selfName.value })),
    counters,
    events,
    async send(text: string) {
      const body = text.trim();
      if (!body) return;
      await courier.send(body);
    },
    setName(name: string) {
      const clean = name.trim().slice(0, MAX_NAME_LENGTH);
      selfName.value = clean;
      void store.patchState(room, { name: clean || undefined });
      for (const [peer, state] of presence.peek()) if (state === "online") announce(peer);
    },
    typing() {
      const t = now();
      if (t - lastTypingSent < TYPING_SEND_EVERY_MS) return;
      lastTypingSent = t;
      for (const [peer, state] of presence.peek()) {
        if (state === "online") void sendSealed(peer, "meta", { typing: true } satisfies Meta);
      }
    },
    retryNow() {
      socket.retryNow();
    },
    async diagnostics(): Promise<PeerDiagnostics[]> {
      return await Promise.all([...presence.peek().keys()].map(async (id) => {
        const link = links.get(id)?.link;
        const stats = link ? await link.stats() : {};
        return {
          id,
          path: link?.path.value ?? "relay",
          link: link?.state.value ?? "none",
          ice: link?.iceState,
          ...stats,
        };
      }));
    },
    close() {
      stopWatching();
      stopSocketWatch();
      pending.clearAll();
      for (const peer of [...links.keys()]) dropLink(peer);
      socket.stop();
      courier.close();
    },
  };
}
