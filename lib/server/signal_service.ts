/**
 * The HTTP/WebSocket shell of the signaling server: checks the request
 * (upgrade, origin, version, room), upgrades it, sends the challenge, enforces
 * frame size and rate limits per socket and per address, has each hello
 * admitted, and hands frames to the hub.
 * @module
 */
import {
  decodeEarlyHello,
  EARLY_HELLO_PARAM,
  newNonce,
  PAGE_NONCE_PARAM,
  PAGE_NONCE_PATTERN,
} from "../protocol/admission.ts";
import { CLOSE } from "../protocol/codes.ts";
import type { ErrorCode } from "../protocol/codes.ts";
import type { HelloFrame } from "../protocol/frames.ts";
import { isRoomId } from "../protocol/ids.ts";
import { isTooBig, parseClientFrame } from "../protocol/validate.ts";
import { SUPPORTED_VERSIONS } from "../protocol/version.ts";
import { Admission, type AdmissionDecision } from "./admission.ts";
import { AdmissionGate } from "./admission_gate.ts";
import { GroupPace } from "./group_pace.ts";
import { SocketCaps } from "./socket_caps.ts";
import { AddressPenalty, type StrikeReason } from "./address_penalty.ts";
import { addressGroup, addressNetwork } from "./address_group.ts";
import type { Bus } from "./bus.ts";
import type { ServerConfig } from "./config.ts";
import { Hub, type JoinAdmission, sendError } from "./hub.ts";
import { IceAccess } from "./ice_access.ts";
import { IceServers, parseIceConfig } from "./ice_servers.ts";
import { metrics } from "./metrics.ts";
import { PageNonces } from "./page_nonce.ts";
import type { Peer, PeerSocket } from "./room.ts";
import type { RoomLog } from "./room_log.ts";
import { SessionStore } from "./session_store.ts";
import type { StorageBudget } from "./kv_budget.ts";
import { TokenBucket } from "./rate_limit.ts";
import { FlowControl, type FlowSocket, type SlowReason } from "./send_queue.ts";

const connectionsTotal = metrics.counter("parley_connections_total", "Signaling WebSockets accepted.");
const refusedRequests = metrics.counter(
  "parley_refused_requests_total",
  "HTTP requests to /api/signal refused, by code.",
);
const socketErrors = metrics.counter(
  "parley_socket_errors_total",
  "WebSockets closed without a clean close handshake.",
);
const earlyHellos = metrics.counter(
  "parley_early_hellos_total",
  "Hellos in the upgrade request (page nonce), by outcome: used, or why the socket got a challenge instead.",
);
const abuseStrikes = metrics.counter(
  "parley_abuse_strikes_total",
  "Sockets refused for abuse, by reason: each a strike toward its address group's cool-down.",
);
const abuseRefusals = metrics.counter(
  "parley_abuse_refusals_total",
  "Upgrades refused because their address group is cooling down after too many strikes.",
);
const LIVE_SERVICES = new Set<SignalService>();
/** Admission refusals that count as abuse strikes: a proof that is missing or wrong, a squat. */
const STRIKING_REFUSALS: ReadonlySet<string> = new Set(["no_proof", "wrong_proof", "squat", "bad_member"]);
/** The close reason of a slow consumer, by why. */
const SLOW_REASONS: Record<SlowReason, string> = {
  over_bound: "slow consumer: over bound",
  stalled: "slow consumer: stalled",
  over_total: "slow consumer: server send queues full",
};
/** The window abuse strikes of an address group are counted in, in ms. */
const PENALTY_WINDOW_MS = 60_000;
/** The most hellos waiting for their turn over all address groups, at least (each is a socket that exists anyway). */
const HELLOS_QUEUED = 4_096;
/** How long shutdown waits for clients to complete the close handshake, in ms. */
const CLOSE_WAIT_MS = 2_000;
metrics.gauge("parley_connections", "Open signaling WebSockets in this process.", () => {
  let n = 0;
  for (const service of LIVE_SERVICES) n += service.connectionCount;
  return n;
});

/** Everything the service needs; the caller owns (and closes) kv, log and bus. */
export interface SignalServiceOptions {
  /** Limits, windows and origins. */
  config: ServerConfig;
  /** The shared KV for sessions, presence and verifiers. */
  kv: Deno.Kv;
  /** The room log. */
  log: RoomLog;
  /** The cross-instance bus. */
  bus: Bus;
  /** KV key prefix of sessions and presence, so tests can share one KV. */
  namespace?: string;
  /** The KV storage budget (default: none); the caller owns (and closes) it. */
  budget?: StorageBudget;
  /** ICE servers for admitted sessions; default: none (no STUN, no TURN). */
  ice?: IceServers;
  /** The clock, injectable for tests. */
  now?: () => number;
  /** The page nonces' HMAC secret (32+ bytes); default: one shared through the KV. */
  pageNonceSecret?: Uint8Array;
}

interface AddressState {
  /** The group's first address this instance saw, one string shared by all its sockets (for the hub and logs). */
  address: string;
  /** The address group whose sockets share this state (the address itself for IPv4, the /64 for IPv6). */
  group: string;
  /** Frame tokens shared by the group's sockets (`RATE_ADDR`). */
  bucket: TokenBucket;
  /** Byte tokens shared by the group's sockets (`RATE_ADDR_BYTES`). */
  bytes: TokenBucket;
  /** The group's open sockets on this instance. */
  sockets: number;
}

/** An HTTP error body: `{ "error": { "code", "message" } }`. */
function httpError(status: number, code: ErrorCode, message: string, headers: HeadersInit = {}): Response {
  refusedRequests.inc({ code });
  return Response.json({ error: { code, message } }, { status, headers });
}

/** Answers `/api/signal` requests and owns their sockets. */
export class SignalService {
  #config: ServerConfig;
  #hub: Hub;
  #store: SessionStore;
  #admission: Admission;
  /** The pace of admitted hellos (joins and resumes) per address group (`JOIN_RATE_ADDR`). */
  #joins: GroupPace;
  #pageNonces: PageNonces;
  #iceAccess: IceAccess;
  #now: () => number;
  #flow: FlowControl;
  #gate: AdmissionGate<Connection>;
  #caps: SocketCaps;
  #penalty: AddressPenalty;
  /** Shared limits of each address group with open sockets here, by group. */
  #addresses = new Map<string, AddressState>();
  #connections = new Set<Connection>();
  #closing: Promise<void> | null = null;
  /**
   * Sockets waiting for their hello, oldest first (one deadline for all, so FIFO order is deadline order);
   * a slot is emptied once its socket is welcomed or closes, so a closed socket is not kept until its deadline.
   */
  #awaitingHello: (Connection | null)[] = [];
  /** Their deadlines, index for index: a number array, not an object per socket. */
  #helloDeadlines: number[] = [];
  #helloHead = 0;
  /** How many slots were dropped from the front of the queue so far: a slot's number less this is its index. */
  #helloBase = 0;
  #helloTimer: ReturnType<typeof setInterval> | undefined;

  /** Builds the service and its hub. */
  constructor(options: SignalServiceOptions) {
    this.#config = options.config;
    this.#now = options.now ?? Date.now;
    const store = new SessionStore(options.kv, {
      namespace: options.namespace,
      ttlMs: options.config.roomTtlMs,
      now: this.#now,
    });
    this.#store = store;
    this.#admission = new Admission(store, options.log, new GroupPace(options.config.newRoomRate, this.#now));
    this.#joins = new GroupPace(options.config.joinRate, this.#now);
    this.#pageNonces = new PageNonces({
      kv: options.kv,
      namespace: options.namespace,
      secret: options.pageNonceSecret,
      now: this.#now,
    });
    const ice = options.ice ?? new IceServers(parseIceConfig(() => undefined), { now: this.#now });
    this.#iceAccess = new IceAccess({ ice, store, now: this.#now });
    this.#hub = new Hub({
      config: options.config,
      store,
      log: options.log,
      bus: options.bus,
      budget: options.budget,
      now: this.#now,
      ice: (peer) => this.#iceAccess.answerFrame(peer),
    });
    this.#flow = new FlowControl({
      maxBytes: options.config.sendQueueBytes,
      totalBytes: options.config.sendQueueTotalBytes,
      stallMs: options.config.sendStallMs,
      now: this.#now,
    });
    this.#penalty = new AddressPenalty({
      strikes: options.config.abuseStrikes,
      windowMs: PENALTY_WINDOW_MS,
      cooldownMs: options.config.abuseCooldownMs,
      now: this.#now,
    });
    this.#caps = new SocketCaps({
      sockets: options.config.maxSocketsPerAddress,
      pending: options.config.maxPendingPerAddress,
    });
    this.#gate = new AdmissionGate({
      concurrent: options.config.hellosInFlight,
      perGroup: options.config.hellosQueuedPerAddress,
      queued: Math.max(HELLOS_QUEUED, options.config.hellosQueuedPerAddress),
    });
    LIVE_SERVICES.add(this);
  }

  /** Open sockets. */
  get connectionCount(): number {
    return this.#connections.size;
  }

  /** The hub, for metrics and tests. */
  get hub(): Hub {
    return this.#hub;
  }

  /** Admission of hellos, for connections. */
  get admission(): Admission {
    return this.#admission;
  }

  /** The pace of joins per address group, for connections. */
  get joins(): GroupPace {
    return this.#joins;
  }

  /** Nonces for room pages, redeemed by early hellos (see "Early hello" in lib/protocol/README.md). */
  get pageNonces(): PageNonces {
    return this.#pageNonces;
  }

  /** ICE servers for admitted sessions: the `ice` frame, and `GET /api/ice`. */
  get iceAccess(): IceAccess {
    return this.#iceAccess;
  }

  /** Answers one request to `/api/signal`: a WebSocket upgrade, or a JSON 4xx/503 explaining why not. */
  handle(req: Request, remote: Deno.NetAddr | { hostname: string }): Response {
    if (this.#closing) {
      return httpError(503, "shutting_down", "the server is restarting; reconnect", { "Retry-After": "1" });
    }
    if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return httpError(426, "not_websocket", "/api/signal speaks WebSocket only (see lib/protocol/README.md)", {
        Upgrade: "websocket",
      });
    }
    const origin = req.headers.get("origin");
    if (origin !== null && !this.#originAllowed(origin, req)) {
      return httpError(403, "origin_refused", `origin ${origin} is not allowed`);
    }
    const group = addressGroup(remote.hostname);
    if (this.#penalty.coolingDown(group)) {
      abuseRefusals.inc();
      return httpError(429, "busy", "this address broke the protocol too often; retry later", {
        "Retry-After": String(Math.ceil(this.#config.abuseCooldownMs / 1000)),
      });
    }
    const cap = this.#caps.full(group);
    if (cap !== null) {
      return httpError(
        429,
        "busy",
        cap === "sockets"
          ? "this address has too many sockets open here; close some, then retry"
          : "this address has too many sockets waiting for their welcome; retry later",
        { "Retry-After": "5" },
      );
    }
    const url = new URL(req.url);
    let upgraded;
    try {
      upgraded = Deno.upgradeWebSocket(req, { idleTimeout: this.#config.idleTimeoutS });
    } catch (error) {
      // E.g. a missing Sec-WebSocket-Key: the client's fault, not a server error.
      return httpError(400, "not_websocket", `invalid WebSocket upgrade: ${(error as Error).message}`);
    }
    const { socket, response } = upgraded;
    connectionsTotal.inc();
    // Per address group, as every other per-address limit: an IPv6 subscriber picks a new source address of its /64
    // per socket, and would bring fresh frame and byte tokens with each.
    let state = this.#addresses.get(group);
    if (!state) {
      state = {
        address: remote.hostname,
        group,
        bucket: new TokenBucket(this.#config.rateAddress, this.#now),
        bytes: new TokenBucket(this.#config.rateAddressBytes, this.#now),
        sockets: 0,
      };
      this.#addresses.set(group, state);
    }
    this.#caps.opened(group);
    state.sockets++;
    const connection = new Connection(
      this,
      socket,
      state,
      url.searchParams.get("v"),
      url.searchParams.get("room"),
      earlyHelloOf(url.searchParams),
    );
    this.#connections.add(connection);
    return response;
  }

  #originAllowed(origin: string, req: Request): boolean {
    const allowed = this.#config.allowedOrigins;
    if (allowed === null) {
      try {
        return new URL(origin).host === (req.headers.get("host") ?? new URL(req.url).host);
      } catch {
        return false;
      }
    }
    return allowed.includes("*") || allowed.includes(origin);
  }

  /**
   * Starts a socket's hello deadline. One interval checks every deadline: a timer per socket
   * costs kilobytes each in Deno, and sockets are most of this server's memory.
   */
  expectHello(connection: Connection): number {
    const slot = this.#helloBase + this.#awaitingHello.length;
    this.#awaitingHello.push(connection);
    this.#helloDeadlines.push(this.#now() + this.#config.helloTimeoutMs);
    if (this.#helloTimer === undefined) {
      const period = Math.max(50, Math.min(1000, this.#config.helloTimeoutMs / 4));
      this.#helloTimer = setInterval(() => this.#checkHellos(), period);
    }
    return slot;
  }

  /** Sockets whose hello deadline is still kept (not yet welcomed, closed or timed out). */
  get awaitingHelloCount(): number {
    let n = 0;
    for (let i = this.#helloHead; i < this.#awaitingHello.length; i++) if (this.#awaitingHello[i] !== null) n++;
    return n;
  }

  /** The socket of `slot` (from `expectHello`) needs no deadline any more: it was welcomed or it closed. */
  helloDone(slot: number, connection: Connection): void {
    const index = slot - this.#helloBase;
    if (index >= this.#helloHead && this.#awaitingHello[index] === connection) this.#awaitingHello[index] = null;
  }

  #checkHellos(): void {
    const now = this.#now();
    const queue = this.#awaitingHello;
    const deadlines = this.#helloDeadlines;
    while (this.#helloHead < queue.length && deadlines[this.#helloHead] <= now) {
      const connection = queue[this.#helloHead];
      queue[this.#helloHead++] = null;
      connection?.helloDeadline();
    }
    if (this.#helloHead > 1024 && this.#helloHead * 2 > queue.length) {
      this.#awaitingHello = queue.slice(this.#helloHead);
      this.#helloDeadlines = deadlines.slice(this.#helloHead);
      this.#helloBase += this.#helloHead;
      this.#helloHead = 0;
    }
    if (this.#helloHead === this.#awaitingHello.length) {
      this.#helloBase += this.#helloHead;
      this.#awaitingHello = [];
      this.#helloDeadlines = [];
      this.#helloHead = 0;
      clearInterval(this.#helloTimer);
      this.#helloTimer = undefined;
    }
  }

  /** A socket of `connection`'s address group was refused for abuse: one strike toward its cool-down. */
  strike(connection: Connection, reason: StrikeReason): void {
    abuseStrikes.inc({ reason });
    this.#penalty.strike(connection.addressState.group, reason);
  }

  /** Called by a connection when it was welcomed: no longer pending for its address's cap. */
  welcomed(connection: Connection): void {
    this.#caps.admitted(connection.addressState.group);
  }

  /** Sockets of an address group, open and not yet admitted (for tests and metrics). */
  socketsOf(group: string): { open: number; pending: number } {
    return this.#caps.of(group);
  }

  /** Called by a connection when its socket closed; `pending`: it was never welcomed. */
  released(connection: Connection, pending: boolean): void {
    this.#caps.closed(connection.addressState.group, pending);
    this.#connections.delete(connection);
    const state = connection.addressState;
    if (--state.sockets === 0) this.#addresses.delete(state.group);
  }

  /** The clock, for connections. */
  get now(): () => number {
    return this.#now;
  }

  /** The config, for connections. */
  get config(): ServerConfig {
    return this.#config;
  }

  /** The hellos in work and waiting, for connections. */
  get gate(): AdmissionGate<Connection> {
    return this.#gate;
  }

  /** The send-side flow control of every socket, for connections. */
  get flow(): FlowControl {
    return this.#flow;
  }

  /** Stops accepting, flushes appends in flight, marks peers away and closes every socket with 1012. */
  shutdown(reason = "server restart"): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#helloTimer);
      this.#helloTimer = undefined;
      this.#awaitingHello = [];
      this.#helloDeadlines = [];
      await this.#hub.shutdown(reason);
      await this.#store.flush();
      for (const connection of this.#connections) connection.close(CLOSE.SERVICE_RESTART, reason);
      // Let the close frames reach the clients before the process exits; a dead peer cannot hold us.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.all([...this.#connections].map((connection) => connection.closed())),
        new Promise((resolve) => timer = setTimeout(resolve, CLOSE_WAIT_MS)),
      ]);
      clearTimeout(timer);
      this.#flow.close();
      LIVE_SERVICES.delete(this);
    })();
    return this.#closing;
  }
}

/** A hello carried by the upgrade request, with the page nonce its proofs are over. */
interface EarlyHello {
  /** The page nonce (from the room page's `Server-Timing`). */
  nonce: string;
  /** The hello frame's JSON text. */
  hello: string;
}

/** The early hello of an upgrade URL, when it has both parameters in their forms; null otherwise. */
function earlyHelloOf(params: URLSearchParams): EarlyHello | null {
  const nonce = params.get(PAGE_NONCE_PARAM);
  const param = params.get(EARLY_HELLO_PARAM);
  if (nonce === null || param === null || !PAGE_NONCE_PATTERN.test(nonce)) return null;
  const hello = decodeEarlyHello(param);
  return hello === null ? null : { nonce, hello };
}

/**
 * One socket: the hello handshake, limits, then frames to the hub. It is its
 * own rate bucket: one object per socket instead of two, as sockets are most
 * of this server's memory.
 */
class Connection extends TokenBucket implements PeerSocket, FlowSocket {
  /** Rate state shared by the address's sockets. */
  readonly addressState: AddressState;
  #service: SignalService;
  #ws: WebSocket;
  /** `verify`: told `verifier_required`, waiting for the hello with the verifier (same nonce). */
  #phase: "hello" | "verify" | "joining" | "joined" | "closed" = "hello";
  #peer: Peer | null = null;
  #strikes = 0;
  #room: string;
  /** This connection's challenge nonce (or its early hello's page nonce): every hello on it must prove the room key over it. */
  #nonce = "";
  /** `#nonce` is an early hello's page nonce, not used up yet: it is, once a hello over it is admitted. */
  #pageNonce = false;
  /** The hello of the upgrade request and its page nonce, until the socket opens. */
  #early: EarlyHello | null;
  /** Set only while shutdown waits for this socket to close (a promise per socket would cost memory). */
  #onClosed: (() => void) | null = null;
  /** Its place in the service's hello deadlines, until welcomed or closed; -1 when none. */
  #helloSlot = -1;
  /** It was welcomed (it no longer counts as pending for its address). */
  #welcomed = false;
  /** Byte tokens of this connection (`RATE_CONN_BYTES`), as of `#bytesAt`. */
  #bytes: number;
  #bytesAt: number;

  constructor(
    service: SignalService,
    ws: WebSocket,
    addressState: AddressState,
    version: string | null,
    room: string | null,
    early: EarlyHello | null,
  ) {
    super(service.config.rateConnection, service.now);
    this.#service = service;
    this.#bytes = service.config.rateConnectionBytes.burst;
    this.#bytesAt = service.now();
    this.#ws = ws;
    this.#early = early;
    this.addressState = addressState;
    this.#room = room ?? "";
    ws.binaryType = "arraybuffer";
    // Every handler costs memory per socket in Deno: a valid request needs no `open` handler (the
    // hello deadline starts now), and errors are followed by `close`, which does the work.
    // Closures here capture only `this`, so no per-socket context keeps the URL's strings alive.
    if (version === null || !SUPPORTED_VERSIONS.includes(Number(version))) {
      this.#refuseOnOpen(
        "bad_version",
        `unsupported protocol version ${version}; this server speaks ${SUPPORTED_VERSIONS}`,
      );
    } else if (!isRoomId(room)) {
      this.#refuseOnOpen("bad_room", "room must be 22-64 base64url characters");
    } else {
      this.#helloSlot = service.expectHello(this);
      ws.addEventListener("open", this);
    }
    // The connection is the listener object itself (handleEvent): no closure or wrapper per socket.
    ws.addEventListener("message", this);
    ws.addEventListener("close", this);
  }

  /** The client address, for per-address limits (one string per address, not a field per socket). */
  get address(): string {
    return this.addressState.address;
  }

  /** Receives the socket's `message` and `close` events. */
  handleEvent(event: Event): void {
    if (event.type === "message") {
      this.#onMessage(event as MessageEvent);
    } else if (event.type === "open") {
      const early = this.#early;
      this.#early = null;
      if (early) void this.#earlyHello(early);
      else this.#challenge();
    } else if (event.type === "close") {
      if (!(event as CloseEvent).wasClean) socketErrors.inc();
      this.#closed();
      // The connection is gone: whatever a slow consumer left in the runtime is released.
      this.#service.flow.ended(this);
    }
  }

  /** Sends this socket's challenge: a fresh nonce its hello must prove the room key over. */
  #challenge(): void {
    this.#nonce = newNonce();
    this.send('{"type":"challenge","nonce":"' + this.#nonce + '"}');
  }

  /**
   * The upgrade request carried a hello over a page nonce: when the nonce is this server's, for this room and fresh,
   * the hello is admitted as if it were the first frame on a socket whose challenge was that nonce (no challenge is
   * sent); when not, or when the hello cannot be read, it is ignored and the socket gets a challenge as usual.
   */
  async #earlyHello(early: EarlyHello): Promise<void> {
    let hello: HelloFrame | null = null;
    let outcome: string = "unreadable";
    const parsed = parseClientFrame(early.hello);
    if (
      parsed.ok && parsed.frame.type === "hello" && parsed.frame.verifier === undefined &&
      SUPPORTED_VERSIONS.includes(parsed.frame.v)
    ) {
      try {
        outcome = await this.#service.pageNonces.check(this.#room, early.nonce);
      } catch (error) {
        console.error("signal: checking a page nonce failed", error);
        outcome = "failed";
      }
      if (outcome === "ok") hello = parsed.frame;
    }
    if (this.#phase !== "hello") return;
    if (!hello) {
      earlyHellos.inc({ outcome });
      this.#challenge();
      return;
    }
    this.#nonce = early.nonce;
    this.#pageNonce = true;
    this.#phase = "joining";
    await this.#admit(hello, false);
  }

  #refuseOnOpen(code: ErrorCode, message: string): void {
    this.#ws.onopen = () => this.#refuse(code, message);
  }

  #onMessage(event: MessageEvent): void {
    try {
      this.#message(event.data);
    } catch (error) {
      // One socket's bad luck must not take the process (and every other room) down.
      console.error(`signal: frame from ${this.address} failed`, error);
      sendError(this, "internal", "the server failed to handle this frame");
    }
  }

  /** Takes `length` of this connection's byte tokens; false (nothing taken) when it has fewer. */
  #takeBytes(length: number, now: number): boolean {
    const rate = this.#service.config.rateConnectionBytes;
    if (now > this.#bytesAt) {
      this.#bytes = Math.min(rate.burst, this.#bytes + (now - this.#bytesAt) * rate.perSecond / 1000);
      this.#bytesAt = now;
    }
    if (this.#bytes < length) return false;
    this.#bytes -= length;
    return true;
  }

  /** Lets the service forget this socket's hello deadline (so a closed socket is not kept until then). */
  #noDeadline(): void {
    if (this.#helloSlot < 0) return;
    this.#service.helloDone(this.#helloSlot, this);
    this.#helloSlot = -1;
  }

  /** The hello deadline passed: close unless the hello came. */
  helloDeadline(): void {
    this.#helloSlot = -1;
    if (this.#phase !== "hello" && this.#phase !== "verify") return;
    sendError(this, "hello_timeout", "no hello in time");
    this.close(CLOSE.HELLO_TIMEOUT, "hello timeout");
    this.#service.strike(this, "hello_timeout");
  }

  /** Resolves once the socket has closed. */
  closed(): Promise<void> {
    if (this.#phase === "closed") return Promise.resolve();
    return new Promise((resolve) => this.#onClosed = resolve);
  }

  /** Sends a text frame if the socket is still open and within its send bound (else it closes, 4008). */
  send(text: string): void {
    if (this.#ws.readyState === WebSocket.OPEN && this.#service.flow.admit(this, text.length)) this.#ws.send(text);
  }

  /** Bytes sent and not yet written to the kernel (0 once closing). */
  get bufferedAmount(): number {
    return this.#ws.bufferedAmount;
  }

  /** Resolves once `bytes` more fit the send window (see `PeerSocket.ready`). */
  ready(bytes: number): true | Promise<boolean> {
    return this.#service.flow.ready(this, bytes);
  }

  /** Whether `bytes` more fit the send window now (see `FlowControl.spare`). */
  spare(bytes: number): boolean {
    return this.#service.flow.spare(this, bytes);
  }

  /** Whether `bytes` held back while joining are within the send bound; closes with 4008 when not. */
  holds(bytes: number): boolean {
    if (bytes <= this.#service.flow.maxBytes) return true;
    this.slowConsumer("over_bound");
    return false;
  }

  /**
   * The client does not read: close with 4008 and let go of the socket now. The close handshake
   * may never finish (the close frame waits behind the unread bytes), so the peer goes away at
   * once and can resume; Deno ends the TCP connection when the client reads or goes.
   */
  slowConsumer(reason: SlowReason): void {
    if (this.#phase === "closed") return;
    this.close(CLOSE.SLOW_CONSUMER, SLOW_REASONS[reason]);
    this.#closed();
  }

  /** Closes the socket (once). */
  close(code: number, reason: string): void {
    if (this.#ws.readyState === WebSocket.OPEN || this.#ws.readyState === WebSocket.CONNECTING) {
      this.#ws.close(code, reason);
    }
  }

  #refuse(code: ErrorCode, message: string): void {
    sendError(this, code, message);
    this.close(CLOSE.BAD_REQUEST, code);
  }

  #message(data: unknown): void {
    if (typeof data !== "string") {
      sendError(this, "binary_refused", "binary frames are not part of the protocol");
      this.close(CLOSE.UNSUPPORTED_DATA, "binary frames refused");
      this.#service.strike(this, "binary");
      return;
    }
    const config = this.#service.config;
    if (isTooBig(data, config.maxFrameBytes)) {
      sendError(this, "too_big", `frames are limited to ${config.maxFrameBytes} bytes`);
      this.close(CLOSE.MESSAGE_TOO_BIG, "frame too big");
      this.#service.strike(this, "too_big");
      return;
    }
    const now = this.#service.now();
    const address = this.addressState;
    if (
      !this.take(now) || !this.#takeBytes(data.length, now) || !address.bucket.take(now) ||
      !address.bytes.take(now, data.length)
    ) {
      this.#strikes++;
      if (this.#strikes === 1) sendError(this, "rate_limited", "too many frames or bytes; slow down");
      if (this.#strikes > config.rateStrikes) {
        this.close(CLOSE.POLICY_VIOLATION, "rate limit exceeded");
        this.#service.strike(this, "rate_limited");
      }
      return;
    }
    // An accepted frame forgives one refused: a burst past a limit passes, a socket that keeps sending several
    // times its rate (its frames refused far more often than accepted) is closed, and stops costing the server.
    if (this.#strikes > 0) this.#strikes--;
    if (this.#phase === "joined") {
      this.#service.hub.onFrame(this.#peer!, data);
      return;
    }
    if (this.#phase !== "hello" && this.#phase !== "verify") {
      sendError(this, "hello_required", "wait for the welcome before sending frames");
      return;
    }
    const parsed = parseClientFrame(data);
    if (!parsed.ok) {
      this.#refuse(parsed.code === "bad_version" ? "bad_version" : "bad_frame", parsed.message);
      return;
    }
    if (parsed.frame.type !== "hello") {
      this.#refuse("hello_required", "the first frame must be hello");
      return;
    }
    if (!SUPPORTED_VERSIONS.includes(parsed.frame.v)) {
      this.#refuse("bad_version", `unsupported protocol version ${parsed.frame.v}`);
      return;
    }
    const again = this.#phase === "verify";
    this.#phase = "joining";
    void this.#admit(parsed.frame, again);
  }

  /**
   * Has the hello admitted; on a new room without `verifier`, asks for it once and waits for the next
   * hello (`again`: this is it), so a socket cannot make the server look the room up over and over.
   * An early hello's page nonce is used up here, once a hello over it is admitted (its proof verified, and on a new
   * room its verifier given): a nonce seen before (a replay, or a page shown again from a cache) gets the socket a
   * challenge instead. Not before: a hello that is refused or asked for a verifier proves nothing, and a stranger
   * could otherwise make the server write a used-up nonce per made-up room.
   */
  async #admit(hello: HelloFrame, again: boolean): Promise<void> {
    // One turn at the gate per hello, from admission to the welcome (or the refusal).
    const gate = this.#service.gate;
    const turn = gate.enter(this, addressGroup(this.address));
    if (turn === false || (turn !== true && !await turn)) {
      if (turn === false && this.#phase !== "closed") {
        sendError(this, "busy", "too many hellos from this address are waiting; retry later");
        this.close(CLOSE.TRY_AGAIN_LATER, "busy");
      }
      return;
    }
    try {
      await this.#admitInTurn(hello, again);
    } finally {
      gate.leave(this);
    }
  }

  async #admitInTurn(hello: HelloFrame, again: boolean): Promise<void> {
    let decision: AdmissionDecision;
    try {
      decision = await this.#service.admission.decide(this.#room, this.#nonce, hello, addressNetwork(this.address));
    } catch (error) {
      console.error("signal: admission failed", error);
      decision = {
        kind: "refuse",
        reason: "failed",
        refusal: { ok: false, code: "internal", message: "admission failed; retry", close: CLOSE.INTERNAL_ERROR },
      };
    }
    if (this.#phase === "closed") return;
    if (this.#pageNonce && decision.kind === "admit") {
      this.#pageNonce = false;
      let fresh: boolean;
      try {
        fresh = await this.#service.pageNonces.consume(this.#nonce);
      } catch (error) {
        console.error("signal: using up a page nonce failed", error);
        fresh = false;
      }
      earlyHellos.inc({ outcome: fresh ? "used" : "replayed" });
      // Closed while KV answered (TypeScript keeps the narrowing from before the await).
      if ((this.#phase as string) === "closed") return;
      if (!fresh) {
        this.#phase = "hello";
        this.#challenge();
        return;
      }
    }
    if (decision.kind === "verifier_required" && !again) {
      // Same socket, same nonce: the client sends hello again with `verifier`.
      this.#phase = "verify";
      sendError(this, "verifier_required", "a new room: send hello again with its verifier");
      return;
    }
    if (decision.kind === "verifier_required") {
      sendError(this, "admission_refused", "a new room needs the verifier in the hello that follows verifier_required");
      this.close(CLOSE.ADMISSION_REFUSED, "admission_refused");
      this.#service.strike(this, "wrong_proof");
      return;
    }
    if (decision.kind === "refuse") {
      sendError(this, decision.refusal.code, decision.refusal.message);
      this.close(decision.refusal.close, decision.refusal.code);
      if (STRIKING_REFUSALS.has(decision.reason)) this.#service.strike(this, "wrong_proof");
      return;
    }
    // Admitted: a member. Its joins are paced before the seats are read and a presence written (churn: hello, bye,
    // again). A socket refused here retries later, as from a busy server.
    if (!this.#service.joins.take(addressNetwork(this.address))) {
      sendError(this, "busy", "too many joins from this address; retry later");
      this.close(CLOSE.TRY_AGAIN_LATER, "busy");
      return;
    }
    await this.#join(hello, decision.admission);
  }

  async #join(hello: HelloFrame, admission: JoinAdmission): Promise<void> {
    const hub = this.#service.hub;
    let result;
    try {
      const isOpen = () => this.#phase !== "closed";
      result = await hub.join(this, this.address, this.#room, hello, isOpen, (peer) => {
        this.#room = ""; // the peer holds the room's shared id string now
        this.#nonce = ""; // proven: no need to keep it per socket
        this.#service.gate.leave(this); // welcomed: the backlog streams outside the gate
        this.#noDeadline();
        this.#service.welcomed(this);
        this.#welcomed = true;
        if (this.#phase === "closed") return;
        this.#peer = peer;
        this.#phase = "joined";
      }, admission);
    } catch (error) {
      console.error("signal: join failed", error);
      result = {
        ok: false as const,
        code: "internal" as const,
        message: "joining failed",
        close: CLOSE.INTERNAL_ERROR,
      };
    }
    if (!result.ok) {
      if (this.#phase !== "closed") {
        sendError(this, result.code, result.message);
        this.close(result.close, result.code);
      }
      return;
    }
    // Closed before the welcome: the hub still holds the peer, so let it go (away) now.
    if (this.#phase === "closed") hub.disconnect(result.peer);
  }

  #closed(): void {
    if (this.#phase === "closed") return;
    const joined = this.#phase === "joined";
    this.#phase = "closed";
    this.#onClosed?.();
    this.#service.gate.cancel(this); // a hello still waiting for its turn is dropped
    this.#noDeadline();
    this.#service.flow.forget(this);
    this.#service.released(this, !this.#welcomed);
    if (joined) this.#service.hub.disconnect(this.#peer!);
  }
}
