/**
 * ICE servers from the signaling server (the socket's `ice` frame), cached
 * until shortly before their TURN credential expires, so every new connection
 * or ICE restart uses a valid one and no TURN password ever ships in the page.
 * A fetch that does not answer in time never holds P2P back: the link goes on
 * with the last list, or with none (host candidates, no TURN).
 * @module
 */
import type { IceServersFrame } from "../protocol/mod.ts";
import { GLOBAL_TIMERS, type Timers } from "./timer_set.ts";

/**
 * How long one fetch may take before P2P goes on without it. The answer is one
 * small frame on an open socket: even over 3G it comes well within this, and
 * the profile's P2P setup time (10 s on mobile) keeps room for ICE itself.
 */
export const ICE_FETCH_TIMEOUT_MS = 4_000;

/** The ICE servers a client may use, and until when. */
export interface IceAnswer {
  /** Servers for `RTCPeerConnection`; empty when the deployment configures none. */
  iceServers: RTCIceServer[];
  /** Credential lifetime in seconds. */
  ttl: number;
  /** When the credential expires, ms since the epoch. */
  expiresAt: number;
}

/** Options of `IceConfig`. */
export interface IceConfigOptions {
  /** Fetches the servers (over the signal socket, or a fake). */
  fetchIce(): Promise<IceAnswer>;
  /** Refresh this long before expiry (from the network profile). */
  refreshMarginMs: number;
  /** How long a fetch may take before the caller goes on without it; default {@link ICE_FETCH_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** Timers, for the fetch timeout; default the global ones. */
  timers?: Timers;
  /** The clock. */
  now?(): number;
}

/** Why a fetch gave nothing: it failed, or it did not answer in time. */
export type IceFetchFailure = "failed" | "timeout";

/** A cache of the ICE server list. */
export class IceConfig {
  #options: IceConfigOptions;
  #now: () => number;
  #timers: Timers;
  #current: IceAnswer | null = null;
  #pending: Promise<IceAnswer | IceFetchFailure> | null = null;

  /** Creates an empty cache. */
  constructor(options: IceConfigOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#timers = options.timers ?? GLOBAL_TIMERS;
  }

  /** The servers to use now, fetched again when the credential is near expiry; never waits past the timeout. */
  async servers(): Promise<RTCIceServer[]> {
    const current = this.#current;
    if (current && this.#now() < current.expiresAt - this.#options.refreshMarginMs) return current.iceServers;
    this.#pending ??= this.#fetch().finally(() => (this.#pending = null));
    const result = await this.#pending;
    if (typeof result !== "string") return result.iceServers;
    // Without ICE servers host candidates still work on a LAN; chat goes by relay anyway.
    if (current) return current.iceServers;
    console.warn(`ICE servers unavailable (${result}); trying P2P with host candidates only`);
    return [];
  }

  /** One fetch, bounded by the timeout; an answer arriving later is still kept for the next caller. */
  #fetch(): Promise<IceAnswer | IceFetchFailure> {
    const fetched = this.#options.fetchIce().then(
      (answer) => (this.#current = answer),
      () => "failed" as const,
    );
    let timer: ReturnType<Timers["setTimeout"]> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = this.#timers.setTimeout(() => resolve("timeout"), this.#options.timeoutMs ?? ICE_FETCH_TIMEOUT_MS);
    });
    return Promise.race([fetched, timeout]).finally(() => this.#timers.clearTimeout(timer!));
  }

  /** When the cached list should be refreshed, or null when nothing is cached. */
  get refreshAt(): number | null {
    return this.#current ? this.#current.expiresAt - this.#options.refreshMarginMs : null;
  }
}

/** The cacheable answer for an `ice` frame received at `now`. */
export function iceAnswerOf(frame: IceServersFrame, now: number): IceAnswer {
  return { iceServers: frame.iceServers, ttl: frame.ttl, expiresAt: now + frame.ttl * 1000 };
}
