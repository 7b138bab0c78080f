/**
 * Who gets ICE servers (and so TURN credentials): only admitted sessions.
 * Over the socket, an `ice` frame after the `welcome`; over HTTP, `GET
 * /api/ice?room=<room>` with `Authorization: Bearer <session token>` of a
 * peer online in that room. Both are rate-limited per session and per client
 * address group, so a member cannot farm credentials by opening session after
 * session, and a stranger guessing tokens costs the KV one read per turn at most.
 * @module
 */
import type { ErrorCode } from "../protocol/codes.ts";
import { isRoomId, SECRET_PATTERN } from "../protocol/ids.ts";
import { addressNetwork } from "./address_group.ts";
import type { RateOptions } from "./config.ts";
import { sendError } from "./hub.ts";
import type { IceServers } from "./ice_servers.ts";
import { metrics } from "./metrics.ts";
import { TokenBucket } from "./rate_limit.ts";
import type { PeerSocket } from "./room.ts";
import { peerOfToken, type SessionStore } from "./session_store.ts";

/**
 * ICE requests per session: a burst of 5, then one per 30 s. A client asks once
 * per credential lifetime (10 min by default) and after a failure, so only a
 * farming client ever meets the limit.
 */
export const ICE_RATE: Readonly<RateOptions> = Object.freeze({ perSecond: 1 / 30, burst: 5 });
/**
 * ICE requests per client address group (an IPv4 address, an IPv6 /64), over all its sessions and
 * both paths: a burst of 64 (a classroom behind one NAT joining at once), then one a second (600
 * sessions behind one address, each asking every 10 min). New sessions bring no new allowance here.
 */
export const ICE_ADDRESS_RATE: Readonly<RateOptions> = Object.freeze({ perSecond: 1, burst: 64 });
/** Sessions whose bucket is remembered before full (idle) buckets are forgotten. */
const SWEEP_AT = 1_024;
/** Address groups remembered at most (the least recently started go first; they start full again). */
const GROUPS = 10_000;

const iceRefused = metrics.counter("parley_ice_refused_total", "ICE server requests refused, by code.");

/** The peer asking over its socket. */
export interface IcePeer {
  /** Its room. */
  readonly room: string;
  /** Its peer id: labels its TURN username in the relay's logs. */
  readonly id: string;
  /** Its socket, for the answer. */
  readonly socket: PeerSocket;
  /** Its client address, for the per-address allowance. */
  readonly address: string;
}

/** Why an ICE request was refused its servers (typed, for tests; the client sees the code). */
export type IceRefusal =
  /** The session used up its allowance ({@link ICE_RATE}). */
  | "session_rate"
  /** The client's address group used up its allowance over all its sessions ({@link ICE_ADDRESS_RATE}). */
  | "address_rate";

/** Options of {@link IceAccess}. */
export interface IceAccessOptions {
  /** The ICE servers and TURN credential minter. */
  ice: IceServers;
  /** Sessions, to check HTTP bearer tokens. */
  store: SessionStore;
  /** Requests per session; default {@link ICE_RATE}. */
  rate?: RateOptions;
  /** Requests per client address group; default {@link ICE_ADDRESS_RATE}. */
  addressRate?: RateOptions;
  /** The clock, injectable for tests. */
  now?: () => number;
}

/** The bearer token of a request, or null when it has none (or not a well-formed one). */
export function bearerToken(req: Request): string | null {
  const match = /^Bearer ([A-Za-z0-9_-]+)$/.exec(req.headers.get("authorization") ?? "");
  return match && SECRET_PATTERN.test(match[1]) ? match[1] : null;
}

/** The 401 of `/api/ice`: no credentials without a live session. */
export function iceUnauthorized(message = "ICE servers are for admitted sessions: send the session token"): Response {
  return iceError(401, "admission_refused", message, { "WWW-Authenticate": 'Bearer realm="parley"' });
}

function iceError(status: number, code: ErrorCode, message: string, headers: HeadersInit = {}): Response {
  iceRefused.inc({ code });
  return Response.json({ error: { code, message } }, {
    status,
    headers: { "cache-control": "no-store", ...headers },
  });
}

/** Hands ICE servers to admitted sessions only, a few times per session. */
export class IceAccess {
  #ice: IceServers;
  #store: SessionStore;
  #rate: RateOptions;
  #addressRate: RateOptions;
  #now: () => number;
  /** Per session (room + peer id): its bucket and when it was last used. */
  #buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  #swept = 0;
  /** Per client address group: its bucket and when it was last used. */
  #groups = new Map<string, { bucket: TokenBucket; used: number }>();
  #groupsSwept = 0;

  /** Uses the servers and sessions given; owns only its rate buckets. */
  constructor(options: IceAccessOptions) {
    this.#ice = options.ice;
    this.#store = options.store;
    this.#rate = options.rate ?? ICE_RATE;
    this.#addressRate = options.addressRate ?? ICE_ADDRESS_RATE;
    this.#now = options.now ?? Date.now;
  }

  /** Takes one request of a session's allowance; false when it is spent. */
  #take(room: string, peer: string): boolean {
    const now = this.#now();
    if (now - this.#swept > idleMs(this.#rate) && this.#buckets.size > SWEEP_AT) {
      this.#swept = sweep(this.#buckets, now, this.#rate);
    }
    return takeFrom(this.#buckets, room + " " + peer, this.#rate, now, this.#now);
  }

  /** Takes one request of an address group's allowance (over all its sessions); false when it is spent. */
  #takeAddress(address: string): boolean {
    const now = this.#now();
    if (now - this.#groupsSwept > idleMs(this.#addressRate) && this.#groups.size > SWEEP_AT) {
      this.#groupsSwept = sweep(this.#groups, now, this.#addressRate);
    }
    const taken = takeFrom(this.#groups, addressNetwork(address), this.#addressRate, now, this.#now);
    if (this.#groups.size > GROUPS) this.#groups.delete(this.#groups.keys().next().value!);
    return taken;
  }

  /**
   * Whether a session may have servers now: null when so (one request taken from each allowance),
   * else why not. The address group's allowance is checked first, so a session's is not spent on a refusal.
   */
  #allow(room: string, peer: string, address: string): IceRefusal | null {
    if (!this.#takeAddress(address)) return "address_rate";
    return this.#take(room, peer) ? null : "session_rate";
  }

  /** Answers a joined peer's `ice` frame: an `ice` frame, or `rate_limited` (the socket stays open). */
  answerFrame(peer: IcePeer): void {
    const refusal = this.#allow(peer.room, peer.id, peer.address);
    if (refusal !== null) {
      iceRefused.inc({ code: "rate_limited" });
      sendError(
        peer.socket,
        "rate_limited",
        refusal === "session_rate"
          ? "too many ICE requests in this session; use the servers you have"
          : "too many ICE requests from this address; use the servers you have",
      );
      return;
    }
    this.#ice.forClient(peer.id).then(
      (answer) => peer.socket.send(JSON.stringify({ type: "ice", iceServers: answer.iceServers, ttl: answer.ttl })),
      (error) => {
        console.error(`signal: minting ICE servers for ${peer.id} failed`, error);
        sendError(peer.socket, "internal", "ICE servers are unavailable; retry later");
      },
    );
  }

  /**
   * Answers `GET /api/ice?room=<room>` with `Authorization: Bearer <token>`:
   * the servers as JSON for a session online in that room, else 401 (or 429).
   * `address`: the client's address (behind trusted proxies, see client_address.ts); its group's
   * allowance is taken before the session is looked up, so tokens tried at random cost the KV one
   * read per request allowed. Requests without an address share one allowance.
   */
  async answerRequest(req: Request, address = ""): Promise<Response> {
    const token = bearerToken(req);
    const room = new URL(req.url).searchParams.get("room");
    if (token === null) return iceUnauthorized();
    if (!isRoomId(room)) return iceUnauthorized("name the session's room: /api/ice?room=<room id>");
    if (!this.#takeAddress(address)) {
      return iceError(429, "rate_limited", "too many ICE requests from this address", {
        "Retry-After": String(Math.ceil(1 / this.#addressRate.perSecond)),
      });
    }
    if (!await this.#store.liveSession(room, token)) return iceUnauthorized("no live session with this token");
    const peer = peerOfToken(token);
    if (!this.#take(room, peer)) {
      return iceError(429, "rate_limited", "too many ICE requests in this session", {
        "Retry-After": String(Math.ceil(1 / this.#rate.perSecond)),
      });
    }
    const answer = await this.#ice.forClient(peer);
    return Response.json(answer, { headers: { "cache-control": "no-store" } });
  }
}

/** How long a bucket of `rate` must sit idle to be full again (forgetting it then changes nothing), in ms. */
function idleMs(rate: RateOptions): number {
  return (rate.burst / rate.perSecond) * 1000;
}

/** Forgets the buckets of `map` idle long enough to be full again; returns `now` (the time of this sweep). */
function sweep(map: Map<string, { bucket: TokenBucket; used: number }>, now: number, rate: RateOptions): number {
  const idle = idleMs(rate);
  for (const [key, entry] of map) if (now - entry.used > idle) map.delete(key);
  return now;
}

/** Takes one token of `key`'s bucket in `map` (made full when missing); false when it has none left. */
function takeFrom(
  map: Map<string, { bucket: TokenBucket; used: number }>,
  key: string,
  rate: RateOptions,
  now: number,
  clock: () => number,
): boolean {
  let entry = map.get(key);
  if (!entry) {
    entry = { bucket: new TokenBucket(rate, clock), used: now };
    map.set(key, entry);
  }
  entry.used = now;
  return entry.bucket.take(now);
}
