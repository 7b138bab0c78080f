/**
 * Who gets ICE servers (and so TURN credentials): only admitted sessions.
 * Over the socket, an `ice` frame after the `welcome`; over HTTP, `GET
 * /api/ice?room=<room>` with `Authorization: Bearer <session token>` of a
 * peer online in that room. Both are rate-limited per session, so a member
 * cannot farm credentials.
 * @module
 */
import type { ErrorCode } from "../protocol/codes.ts";
import { isRoomId, SECRET_PATTERN } from "../protocol/ids.ts";
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
/** Sessions whose bucket is remembered before full (idle) buckets are forgotten. */
const SWEEP_AT = 1_024;

const iceRefused = metrics.counter("parley_ice_refused_total", "ICE server requests refused, by code.");

/** The peer asking over its socket. */
export interface IcePeer {
  /** Its room. */
  readonly room: string;
  /** Its peer id: labels its TURN username in the relay's logs. */
  readonly id: string;
  /** Its socket, for the answer. */
  readonly socket: PeerSocket;
}

/** Options of {@link IceAccess}. */
export interface IceAccessOptions {
  /** The ICE servers and TURN credential minter. */
  ice: IceServers;
  /** Sessions, to check HTTP bearer tokens. */
  store: SessionStore;
  /** Requests per session; default {@link ICE_RATE}. */
  rate?: RateOptions;
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
  #now: () => number;
  /** Per session (room + peer id): its bucket and when it was last used. */
  #buckets = new Map<string, { bucket: TokenBucket; used: number }>();
  #swept = 0;

  /** Uses the servers and sessions given; owns only its rate buckets. */
  constructor(options: IceAccessOptions) {
    this.#ice = options.ice;
    this.#store = options.store;
    this.#rate = options.rate ?? ICE_RATE;
    this.#now = options.now ?? Date.now;
  }

  /** Takes one request of a session's allowance; false when it is spent. */
  #take(room: string, peer: string): boolean {
    const now = this.#now();
    // A bucket idle this long is full again: forgetting it changes nothing.
    const idleMs = (this.#rate.burst / this.#rate.perSecond) * 1000;
    if (this.#buckets.size > SWEEP_AT && now - this.#swept > idleMs) {
      this.#swept = now;
      for (const [key, entry] of this.#buckets) if (now - entry.used > idleMs) this.#buckets.delete(key);
    }
    const key = room + " " + peer;
    let entry = this.#buckets.get(key);
    if (!entry) {
      entry = { bucket: new TokenBucket(this.#rate, this.#now), used: now };
      this.#buckets.set(key, entry);
    }
    entry.used = now;
    return entry.bucket.take(now);
  }

  /** Answers a joined peer's `ice` frame: an `ice` frame, or `rate_limited` (the socket stays open). */
  answerFrame(peer: IcePeer): void {
    if (!this.#take(peer.room, peer.id)) {
      iceRefused.inc({ code: "rate_limited" });
      sendError(peer.socket, "rate_limited", "too many ICE requests in this session; use the servers you have");
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
   */
  async answerRequest(req: Request): Promise<Response> {
    const token = bearerToken(req);
    const room = new URL(req.url).searchParams.get("room");
    if (token === null) return iceUnauthorized();
    if (!isRoomId(room)) return iceUnauthorized("name the session's room: /api/ice?room=<room id>");
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
