/**
 * A room client: the shell around the courier. It composes small parts, each
 * with a narrow input:
 * - the signal socket (session, admission) and the frame router;
 * - signal envelopes, sealed and ordered per peer (`envelopes.ts`);
 * - the link pool, one P2P link per other member's session (`link_pool.ts`);
 * - the roster of people, names and own sessions (`roster.ts`);
 * - the tabs' channel, so the tabs of one browser are sessions of one member (`tabs.ts`);
 * - the UI's signals (`view.ts`);
 * - the relay policy (relay at once; benchmarks inject the seed's hold).
 * Every platform object (WebSocket, RTCPeerConnection, fetch, storage,
 * BroadcastChannel, timers) is injected, so the same code runs in the page
 * and in Deno tests against a real server.
 * @module
 */
import { batch, computed, effect, type ReadonlySignal, signal, untracked } from "@preact/signals-core";
import { type ChatFrame, CLOSE, encodeBase64Url, type PresenceFrame, type WelcomeFrame } from "../../protocol/mod.ts";
import { chatPayload, Courier, type CourierOptions, type DirectLink } from "../courier/mod.ts";
import { type RoomAdmission, roomAdmission, RoomCipher } from "../crypto.ts";
import { EventLog, EVENTS, type LogEvent } from "../event_log.ts";
import type { IceAnswer, IceConfig } from "../ice_config.ts";
import {
  generateMemberKeys,
  type KeyShare,
  loadIdentity,
  type LockRunner,
  type MemberIdentity,
  type MessageSigner,
} from "../identity.ts";
import {
  type NetworkEnvironment,
  type NetworkProfile,
  type NetworkTimings,
  profileFor,
  watchNetwork,
} from "../network_profile.ts";
import type { PeerLinkSignal } from "../peer_link.ts";
import type { PeerDiagnostics, RoomNotice, RoomView, StorageMode } from "../room_view.ts";
import { type AdoptedSocket, SignalSocket, signalUrl, type SocketState } from "../signal_socket.ts";
import type { Store } from "../store.ts";
import { GLOBAL_TIMERS, type Timers } from "../timer_set.ts";
import type { AckMac } from "./acks.ts";
import { cipherCodec, messageIdOfPayload } from "./codec.ts";
import { createEnvelopes, type OpenedEnvelope } from "./envelopes.ts";
import { createFrameRouter } from "./frame_router.ts";
import { createLazyLinkPool } from "./lazy_links.ts";
import { RELAY_AT_ONCE, type RelayPolicy } from "./relay_policy.ts";
import { cleanName, MAX_REMEMBERED_NAMES, rememberName, validNames } from "./names.ts";
import { createRoster, MAX_NAME_LENGTH } from "./roster.ts";
import { memorySessionSlot, type SessionSlot } from "./session.ts";
import { createTabBus, type OpenTabChannel } from "./tabs.ts";
import { createRoomSignals } from "./view.ts";

export { cipherCodec } from "./codec.ts";
export { MAX_NAME_LENGTH } from "./roster.ts";
export type { RelayPolicy } from "./relay_policy.ts";
export { memorySessionSlot, type SessionSlot, type SessionStorageLike, webSessionSlot } from "./session.ts";
export type { OpenTabChannel, TabChannel } from "./tabs.ts";

/** Everything a room client needs from its platform. */
export interface RoomClientOptions {
  /** The page's origin, e.g. `https://parley.example`. */
  origin: string;
  /** The room id. */
  room: string;
  /** The 32-byte room key from the link's fragment. */
  keyBytes: Uint8Array;
  /** The room cipher, when the page's bootstrap already imported the key; made from `keyBytes` otherwise. */
  cipher?: RoomCipher;
  /** The room's admission, when the page's bootstrap already derived A; derived from `keyBytes` otherwise. */
  admission?: RoomAdmission;
  /** A socket the page opened for this room before the client loaded (the bootstrap), for the first connect. */
  adoptSocket?(): AdoptedSocket | undefined;
  /**
   * The member key pair to keep as this room's identity when the store has none: the one the page's bootstrap proved
   * in its hello (so the session it opened is this member's). Default: a new pair.
   */
  newMemberKeys?(): Promise<CryptoKeyPair | undefined>;
  /** Where the tabs of a first visit share the key pair before it is stored (see `identity.ts`). */
  keyShare?: KeyShare;
  /** History, outbox, room state and the member key pair. */
  store: Store;
  /** Where the store's writes go now, for the UI's notice; without it, `store.durable()` at open decides. */
  storage?: ReadonlySignal<StorageMode>;
  /** Creates a WebSocket (the browser's, or Deno's in tests). */
  createWebSocket(url: string): WebSocket;
  /** Creates an RTCPeerConnection; without it chat stays on the relay. */
  createPeerConnection?(config: RTCConfiguration): RTCPeerConnection;
  /** Fetches the ICE servers (bounded by the profile's connect timeout); default: over the signal socket (`ice` frame). */
  fetchIce?(peer?: string): Promise<IceAnswer>;
  /** This device's identity in the room; loaded from (or created in) the store when absent. */
  identity?: MemberIdentity;
  /** Serializes creating the identity across tabs (the Web Locks API in browsers). */
  lock?: LockRunner;
  /** Where this tab keeps its session token (`sessionStorage` in browsers); memory when absent. */
  session?: SessionSlot;
  /** Opens the channel between this member's tabs (BroadcastChannel in browsers); none when absent. */
  openTabChannel?: OpenTabChannel;
  /** When chat may use the relay: at once by default; benchmarks pass the seed's hold (`relay_hold.ts`). */
  relayPolicy?: RelayPolicy;
  /** The browser environment for the network profile and its events; empty under Deno. */
  env?: NetworkEnvironment;
  /** Timing overrides of the network profile. */
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

/** A room client: a `RoomView` for the UI, plus what tests and benchmarks wait on. */
export interface RoomClient extends RoomView {
  /** The courier, for tests and benchmarks that wait on its state. */
  readonly courier: Courier;
  /** The network profile in force. */
  readonly profile: NetworkProfile;
  /** This device's identity in the room. */
  readonly identity: MemberIdentity;
  /** The peer ids of this member's other sessions (tabs) seen so far. */
  readonly ownSessions: ReadonlySignal<ReadonlySet<string>>;
}

/** Display name and typing state, exchanged between peers, encrypted. */
interface Meta {
  /** The sender's display name. */
  name?: string;
  /** True while the sender types. */
  typing?: boolean;
}

/** How often a typing signal is sent while the user types. */
const TYPING_SEND_EVERY_MS = 2_000;
/** The longest a browser may put off loading what messages need, once the room is joined. */
const PREPARE_WAIT_MS = 2_000;
/** Own message ids remembered as already shared with the other tabs. */
const SHARED_IDS_KEPT = 1_000;

/** Member ids the server stamps on sessions (CONTRACT "Member identity"); absent on servers that do not. */
type Stamped = { member?: unknown };

/**
 * The highest link generation a peer may name: a link starts one per attempt, so no honest link gets near it, and a
 * hostile peer naming more could leave no room for the next attempt's `gen + 1`.
 */
const MAX_LINK_GENERATION = 1_000_000_000;

/** Whether an opened `rtc` envelope has the shape of a link signal. */
function isLinkSignal(value: unknown): value is PeerLinkSignal {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.kind === "rtc" && Number.isSafeInteger(v.gen) && (v.gen as number) >= 0 &&
    (v.gen as number) <= MAX_LINK_GENERATION && (v.idle === undefined || v.idle === true) &&
    (v.description === undefined || (typeof v.description === "object" && v.description !== null)) &&
    (v.candidate === undefined || (typeof v.candidate === "object" && v.candidate !== null));
}

/** A fresh tab tag for order keys: 6 random bytes, 8 base64url characters. */
function randomTabTag(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(6)));
}

/**
 * The bootstrap's socket, ready to adopt: its hello gets the verifier (for `verifier_required`). A hello that proved
 * another member key than this identity's (a tab stored one, or offers one in the key share) is not this member's
 * session: that socket is let go (see {@link retire}) and the client connects afresh.
 */
function adoptable(
  adopted: AdoptedSocket | undefined,
  publicKey: string,
  verifier: string,
  timers: Timers,
  waitMs: number,
): AdoptedSocket | undefined {
  if (!adopted?.hello) return adopted;
  if (adopted.hello.member?.key !== publicKey) {
    retire(adopted, timers, waitMs);
    return undefined;
  }
  return { ...adopted, hello: { ...adopted.hello, verifier } };
}

/** Whether a text frame is the server's `welcome` (as the bootstrap sees it, without parsing). */
function isWelcome(data: unknown): boolean {
  return typeof data === "string" && data.startsWith('{"type":"welcome"');
}

/**
 * Lets go of a socket whose hello proved another member key. A session the server welcomed ends with `bye`, so the
 * others see it leave at once: closed without one, it would stay "away" through the resume window, another member of
 * this device in everyone's list. The welcome may still be on its way when the client takes the socket (the early
 * hello went in the upgrade request, or the bootstrap's hello answered the challenge just before), so the socket is
 * closed only once its next frame says whether it was welcomed, or after `waitMs` (the connect timeout).
 */
function retire(adopted: AdoptedSocket, timers: Timers, waitMs: number): void {
  const { ws } = adopted;
  const end = (welcomed: boolean) => {
    ws.onmessage = null;
    if (welcomed && ws.readyState === 1) ws.send('{"type":"bye"}');
    if (ws.readyState <= 1) ws.close(CLOSE.NORMAL, "another member key");
  };
  if (adopted.frames.some(isWelcome)) return end(true);
  if (ws.readyState > 1) return;
  const timer = timers.setTimeout(() => end(false), waitMs);
  ws.onmessage = (event) => {
    timers.clearTimeout(timer);
    end(isWelcome(event.data));
  };
}

/** Opens a room: loads its state from the store and starts connecting. */
export async function createRoomClient(options: RoomClientOptions): Promise<RoomClient> {
  const { room, store } = options;
  const env = options.env ?? {};
  const now = options.now ?? Date.now;
  const timers = options.timers ?? GLOBAL_TIMERS;
  const overrides = options.profileOverrides ?? {};
  const relayPolicy = options.relayPolicy ?? RELAY_AT_ONCE;
  let profile = profileFor(env, overrides);
  const log = new EventLog({ console: options.debug ?? false, now });
  const note = (name: string, detail?: Record<string, unknown>) => void log.add(name, detail);
  const events = signal<readonly LogEvent[]>([]);
  log.subscribe(() => events.value = log.entries());
  log.add(EVENTS.INITIALIZED, { room, relayHoldMs: relayPolicy.holdMs });

  const cipher = options.cipher ?? await RoomCipher.create(options.keyBytes, room);
  // The ack MAC's code and key come once the room is joined (see `prepare`), or with the first ack.
  let ackKey: Promise<AckMac> | undefined;
  const acks = (): Promise<AckMac> => {
    ackKey ??= import("./acks.ts").then((m) => m.ackMac(options.keyBytes, room));
    ackKey.catch(() => ackKey = undefined); // offline and not cached yet: the next ack tries again
    return ackKey;
  };
  const admission = options.admission ?? await roomAdmission(options.keyBytes, room);
  const newMemberKeys = options.newMemberKeys;
  const identity = options.identity ?? await loadIdentity({
    room,
    store,
    lock: options.lock,
    generate: newMemberKeys ? async () => await newMemberKeys() ?? await generateMemberKeys() : undefined,
    share: options.keyShare,
    onStorageError: (error) => note("Member key kept in memory only", { error: String(error) }),
  });
  const saved = await store.getState(room);
  if (saved.token !== undefined) {
    // Sessions belong to tabs now: a token in the shared store would make every tab resume one session.
    void store.patchState(room, { token: undefined }).catch((error) => note("Store failed", { error: String(error) }));
  }
  const session = options.session ?? memorySessionSlot();
  let token = session.read().token;
  // The tab's tag in order keys, kept with its session so a reload numbers its messages on the same lane.
  const tab = session.read().tab ?? randomTabTag();
  session.write({ ...session.read(), tab });
  let closed = false;

  const selfName = signal(saved.name ?? "");
  const selfId = signal<string | undefined>(session.read().peer);
  const rejectedBySignal = signal(0);
  const notice = signal<RoomNotice | null>(null);

  const envelopes = createEnvelopes({
    cipher,
    self: () => selfId.peek(),
    send: (to, envelope) => void socket.send({ type: "signal", to, data: envelope }),
    onRejected(from, kind, reason, detail) {
      rejectedBySignal.value++;
      log.add(EVENTS.MESSAGE_REJECTED, { from, kind, reason, detail });
    },
  });

  const socket: SignalSocket = new SignalSocket({
    url: signalUrl(options.origin, room),
    createWebSocket: options.createWebSocket,
    adopt: options.adoptSocket
      ? () =>
        adoptable(options.adoptSocket?.(), identity.publicKey, admission.verifier, timers, profile.connectTimeoutMs)
      : undefined,
    hello: async (nonce) => ({
      token,
      since: courier.since,
      epoch: courier.epoch,
      proof: await admission.proof(nonce),
      verifier: admission.verifier,
      member: await identity.memberProof(nonce),
    }),
    onFrame: (frame) => route(frame),
    timings: profile,
    isOnline: () => (env.navigator as { onLine?: boolean } | undefined)?.onLine !== false,
    timers,
    now,
    random: options.random,
    log: note,
  });

  // Own messages go to this member's other tabs as the courier sends them (first send only).
  const sharedIds = new Set<string>();
  function shareOwn(payload: string): void {
    const id = messageIdOfPayload(payload);
    const sender = courier.self;
    if (!tabs || id === undefined || sender === undefined || sharedIds.has(id)) return;
    sharedIds.add(id);
    if (sharedIds.size > SHARED_IDS_KEPT) sharedIds.delete(sharedIds.values().next().value!);
    tabs.shareMessage(sender, payload);
  }

  const signer: MessageSigner = identity.signer;
  // The courier signs with the member key (CONTRACT "Signed messages"); couriers that predate signing ignore it.
  const codec = cipherCodec(cipher);
  const courierOptions: CourierOptions = {
    room,
    store,
    tab,
    signer,
    codec,
    timing: { resendIntervalMs: profile.resendIntervalMs, ackCoalesceMs: profile.ackCoalesceMs },
    timers,
    now,
    relay: {
      sendChat(id, to, data, p2p) {
        shareOwn(chatPayload(id, data));
        const frame: ChatFrame = to ? { type: "chat", id, to, data } : { type: "chat", id, data };
        if (p2p) frame.p2p = true;
        relayPolicy.relay(() => socket.send(frame));
      },
      sendSignal(to, payload) {
        // Own tabs never take part in delivery (no acks, no sync): nothing for them on this path.
        if (roster.isOwn(to)) return;
        shareOwn(payload);
        relayPolicy.relay(() => void envelopes.sendCourier(to, payload));
      },
      sendAck(to, ids, volatile) {
        if (roster.isOwn(to)) return;
        const self = selfId.peek();
        if (!self) return;
        relayPolicy.relay(() =>
          void acks().then((mac) => mac.sign(self, ids, volatile)).then((mac) => {
            // Signed as this session: if the session changed meanwhile, the receiver would refuse it.
            if (selfId.peek() === self) {
              socket.send(volatile ? { type: "ack", to, ids, mac, volatile } : { type: "ack", to, ids, mac });
            }
          }).catch((error) => note("Ack failed", { error: String(error) }))
        );
      },
    },
  };
  const courier = await Courier.load(courierOptions);

  const tabs = options.openTabChannel
    ? createTabBus({
      open: options.openTabChannel,
      room,
      member: identity.member,
      onMessage: (peer, payload) => courier.receiveDirect(peer, payload),
      onName: (name) => selfName.value = name.slice(0, MAX_NAME_LENGTH),
      onDelivered: (id) => courier.deliveredElsewhere(id),
    })
    : undefined;
  const roster = createRoster({
    member: identity.member,
    siblings: tabs?.siblings ?? signal(new Set<string>()),
    now,
    timers,
  });

  // The WebRTC code and the ICE servers' cache load when a link is first asked for, in one lazy chunk (`p2p.ts`):
  // a room's first load carries only what joins it.
  let ice: IceConfig | undefined;
  const links = createLazyLinkPool({
    load: () =>
      import("./p2p.ts").then((p2p) => {
        ice ??= new p2p.IceConfig({
          fetchIce: () =>
            p2p.withDeadline(
              options.fetchIce
                ? options.fetchIce(selfId.peek())
                : socket.requestIce().then((answer) => p2p.iceAnswerOf(answer, now())),
              profile.connectTimeoutMs,
              timers,
              "ICE servers",
            ),
          refreshMarginMs: profile.iceRefreshMarginMs,
          timers,
          now,
        });
        return p2p;
      }),
    createPeerConnection: options.createPeerConnection,
    iceServers: () => ice?.servers() ?? Promise.resolve([]),
    timings: () => profile,
    sendSignal: (peer, data) => void envelopes.sendSealed(peer, "rtc", data),
    onMessage: (peer, payload) => courier.receiveDirect(peer, payload),
    onStarting: () => relayPolicy.linkStarting(),
    onDirect(peer, link) {
      const direct: DirectLink = {
        send(payload) {
          const sent = link.send(payload);
          if (sent) shareOwn(payload);
          return sent;
        },
      };
      courier.linkOpened(peer, direct);
      relayPolicy.linkOpened();
    },
    onRelay(peer, why) {
      courier.linkClosed(peer);
      // ICE dropping is often the only sign that this device's address changed (no browser
      // event fires then), and then the socket is likely dead too: probe it now.
      if (why === "lost") socket.networkEvent("connection");
    },
    timers,
    now,
    random: options.random,
    log: note,
  });

  // Other members' names, remembered on this device so they show while those members are offline.
  const remembered = signal<Readonly<Record<string, string>>>(validNames(saved.names, MAX_NAME_LENGTH));
  const stopNamesWatch = effect(() => {
    const names = roster.names.value;
    const members = roster.members.value;
    untracked(() => {
      let next = remembered.peek();
      // The names of the history's authors are the ones kept when there are too many (see `rememberName`).
      let authors: Set<string> | undefined;
      const keep = (member: string) => (authors ??= new Set(courier.messages.map((m) => m.author))).has(member);
      for (const [peer, name] of names) {
        const member = members.get(peer);
        if (member !== undefined && !roster.isOwnAuthor(member)) {
          next = rememberName(next, member, name, MAX_NAME_LENGTH, MAX_REMEMBERED_NAMES, keep);
        }
      }
      if (next === remembered.peek()) return;
      remembered.value = next;
      void store.patchState(room, { names: { ...next } }).catch((error) =>
        note("Store failed", { error: String(error) })
      );
    });
  });
  const view = createRoomSignals({
    courier,
    roster,
    self: selfId,
    paths: links.paths,
    rejectedBySignal,
    now,
    remembered,
  });
  courier.subscribe((event) => {
    if (event.type === "rejected") log.add(EVENTS.MESSAGE_REJECTED, { from: event.from, reason: event.reason });
    // The message someone was typing is here: their "typing" ends with it, not seconds later.
    if (event.type === "received") roster.wrote(event.message.author);
    if (event.type === "error") log.add("Courier error", { context: event.context, error: String(event.error) });
    // Acks reach the tab that sent: the member's other tabs learn "Delivered" from it (a raise is never repeated).
    if (event.type === "status" && event.status === "delivered") tabs?.shareDelivered(event.id);
  });

  // The ack MAC loads once the room is joined and the page has shown it, so a first visit's bytes go to joining; the
  // first message frame before then loads it at once. (The compact form and key recovery are in the first module: the
  // first message needs them.)
  let prepared = false;
  function prepare(now = false): void {
    if (prepared) return;
    const work = () => {
      if (prepared || closed) return;
      prepared = true;
      acks().catch((error) => note("Ack key failed", { error: String(error) }));
    };
    const idle = (globalThis as { requestIdleCallback?: (work: () => void, options: { timeout: number }) => void })
      .requestIdleCallback;
    if (now) work();
    else if (typeof idle === "function") idle(work, { timeout: PREPARE_WAIT_MS });
    else timers.setTimeout(work, 0);
  }

  function announce(to: string): void {
    if (selfName.peek()) void envelopes.sendSealed(to, "meta", { name: selfName.peek() } satisfies Meta);
  }

  function otherOnlinePeers(): string[] {
    return [...roster.presence.peek()].filter(([peer, state]) => state === "online" && !roster.isOwn(peer))
      .map(([peer]) => peer);
  }

  // A session found to be one of this member's tabs leaves the courier's peers and loses its link.
  const handledOwn = new Set<string>();
  const stopOwnWatch = effect(() => {
    const own = roster.own.value;
    untracked(() => {
      const known = new Set(courier.snapshot().peers.map((p) => p.id));
      for (const peer of own) {
        if (handledOwn.has(peer)) continue;
        handledOwn.add(peer);
        links.drop(peer);
        if (known.has(peer)) courier.presence(peer, "left");
      }
    });
  });

  function onEnvelope(from: string, envelope: OpenedEnvelope): void {
    if (envelope.k === "courier") return courier.receiveSignal(from, envelope.payload);
    if (envelope.k === "rtc") {
      const self = selfId.peek();
      if (!self || !isLinkSignal(envelope.value)) return void rejectedBySignal.value++;
      links.ensure(self, from);
      links.deliver(from, envelope.value);
      return;
    }
    const meta = envelope.value as Meta | null;
    if (typeof meta !== "object" || meta === null) return void rejectedBySignal.value++;
    if (typeof meta.name === "string") roster.setName(from, meta.name);
    if (meta.typing === true) roster.typing(from);
  }

  const route = createFrameRouter({
    welcome(frame: WelcomeFrame & Stamped) {
      if (frame.member !== undefined && frame.member !== identity.member) {
        note("Server stamped another member id", { stamped: String(frame.member), own: identity.member });
      }
      if (selfId.peek() && selfId.peek() !== frame.peer) {
        // A new session (expired, or replaced): links were bound to the old peer id.
        links.dropAll();
      }
      token = frame.token;
      if (notice.peek()?.code === "room_full") notice.value = null;
      prepare();
      session.write({ token: frame.token, peer: frame.peer, tab });
      batch(() => {
        selfId.value = frame.peer;
        roster.reset(frame.peers);
      });
      tabs?.announce(frame.peer);
      // Roster entries go on as the server sent them (member stamps included), minus this member's tabs.
      const others = frame.peers.filter((p) => !roster.isOwn(p.id));
      courier.relayUp({ peer: frame.peer, peers: others, log: frame.log });
      for (const peer of others) {
        links.ensure(frame.peer, peer.id);
        if (peer.presence === "online") announce(peer.id);
      }
    },
    presence(frame: PresenceFrame & Stamped) {
      roster.update(frame.peer, frame.state, frame.member);
      // Own tabs are sessions of this member: no courier peer, no link, no announcements.
      if (roster.isOwn(frame.peer)) return;
      courier.presence(frame.peer, frame.state, typeof frame.member === "string" ? frame.member : undefined);
      if (frame.state === "left") links.drop(frame.peer);
      else if (frame.state === "joined" || frame.state === "online") {
        const self = selfId.peek();
        if (self) links.ensure(self, frame.peer);
        announce(frame.peer);
      }
    },
    chat(frame) {
      prepare(true);
      courier.receiveChat(frame);
    },
    accepted: (frame) => courier.accepted(frame.id, frame.seq),
    signal(frame) {
      // Own tabs talk over the tabs' channel; what they send here is stale (sent before they knew us).
      if (roster.isOwn(frame.from)) return;
      envelopes.receive(frame.from, frame.data, (envelope) => onEnvelope(frame.from, envelope)).catch((error) =>
        note("Signal handling failed", { from: frame.from, error: String(error) })
      );
    },
    ack(frame) {
      // The server's word that own chat frames are in the log, carried by the ack instead of `accepted`.
      const acc = Array.isArray(frame.acc) ? frame.acc : [];
      const ids = Array.isArray(frame.ids) ? frame.ids : [];
      ids.forEach((id, i) => {
        if (typeof id === "string" && Number.isSafeInteger(acc[i]) && acc[i] > 0) courier.accepted(id, acc[i]);
      });
      if (roster.isOwn(frame.from)) return;
      const volatile = frame.volatile === true;
      acks().then((mac) => mac.check(frame.from, ids, volatile, frame.mac)).then((authentic) => {
        if (authentic) return courier.receiveAck(frame.from, ids, volatile);
        rejectedBySignal.value++;
        log.add(EVENTS.MESSAGE_REJECTED, { from: frame.from, kind: "ack", reason: "unreadable" });
      }).catch((error) => note("Ack handling failed", { from: frame.from, error: String(error) }));
    },
    error(frame) {
      if (frame.code === "unknown_peer") return;
      log.add(EVENTS.SERVER_ERROR, { code: frame.code, message: frame.message });
      // Said once until a welcome: every refused retry sends it again.
      if (frame.code === "room_full" && notice.peek()?.code !== "room_full") {
        notice.value = { code: "room_full", at: now() };
      }
      if (frame.ref) courier.refused(frame.ref, frame.code);
    },
    log: note,
  });

  // The relay went away: the courier stops counting on it until the next welcome.
  let wasConnected = false;
  const stopSocketWatch = effect(() => {
    const state = socket.state.value;
    const connected = state.kind === "connected";
    untracked(() => {
      if (wasConnected && !connected) courier.relayDown();
      // Back on signaling: links stuck on the relay start a fresh attempt, since their signals
      // may have gone into the dead socket.
      if (!wasConnected && connected) links.signalingRestored();
      wasConnected = connected;
      // Another socket took this tab's session (a duplicated tab copies its session storage):
      // never a dead end. Forget the token and join again as a new session of the same member.
      if (state.kind === "refused" && state.code === CLOSE.REPLACED) timers.setTimeout(rejoinAsNewSession, 0);
    });
  });

  function rejoinAsNewSession(): void {
    if (closed) return;
    session.clear();
    session.write({ tab });
    token = undefined;
    notice.value = { code: "session_replaced", at: now() };
    note("Session replaced: rejoining as a new session", { peer: selfId.peek() });
    socket.stop();
    socket.start();
  }

  // The UI never sees the replaced state: this tab is already on its way back.
  const connection = computed<SocketState>(() => {
    const state = socket.state.value;
    return state.kind === "refused" && state.code === CLOSE.REPLACED ? { kind: "connecting" } : state;
  });

  const stopWatching = watchNetwork(env, ({ reason, profile: next }) => {
    profile = next;
    log.add(EVENTS.NETWORK_CHANGED, { reason });
    socket.networkEvent(reason);
    if (reason === "online" || reason === "connection") links.networkChanged();
  }, overrides);

  socket.start();

  let lastTypingSent = -Infinity;

  return {
    room,
    courier,
    identity,
    ownSessions: roster.own,
    get profile() {
      return profile;
    },
    notice,
    messages: view.messages,
    peers: view.peers,
    connection,
    self: computed(() => ({ id: selfId.value, member: identity.member, name: selfName.value })),
    counters: view.counters,
    events,
    storage: options.storage ?? signal<StorageMode>(store.durable() ? "durable" : "memory"),
    async send(text: string) {
      const body = text.trim();
      if (!body) return;
      links.wake();
      await courier.send(body);
    },
    setName(name: string) {
      const clean = cleanName(name, MAX_NAME_LENGTH);
      selfName.value = clean;
      void store.patchState(room, { name: clean || undefined }).catch((error) =>
        note("Store failed", { error: String(error) })
      );
      tabs?.shareName(clean);
      for (const peer of otherOnlinePeers()) announce(peer);
    },
    typing() {
      const t = now();
      if (t - lastTypingSent < TYPING_SEND_EVERY_MS) return;
      lastTypingSent = t;
      for (const peer of otherOnlinePeers()) void envelopes.sendSealed(peer, "meta", { typing: true } satisfies Meta);
    },
    retryNow() {
      socket.retryNow();
    },
    async diagnostics(): Promise<PeerDiagnostics[]> {
      const others = [...roster.presence.peek().keys()].filter((peer) => !roster.isOwn(peer));
      return await Promise.all(others.map(async (id) => {
        const link = links.get(id);
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
    leave(this: RoomClient) {
      if (closed) return;
      // `bye` ends the session on the server at once (presence `left`), instead of `away` for the resume window.
      socket.send({ type: "bye" });
      session.clear();
      session.write({ tab });
      this.close();
    },
    close() {
      if (closed) return;
      closed = true;
      stopWatching();
      stopSocketWatch();
      stopOwnWatch();
      stopNamesWatch();
      relayPolicy.close();
      links.dropAll();
      socket.stop();
      courier.close();
      tabs?.close();
      roster.close();
      view.close();
    },
  };
}
