/**
 * ICE servers from the server's `/api/ice`, cached until shortly before
 * their TURN credential expires, so every new connection or ICE restart uses
 * a valid one and no TURN password ever ships in the page.
 * @module
 */

/** What `/api/ice` answers. */
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
  /** Fetches `/api/ice` (the page's `fetch`, or a fake). */
  fetchIce(): Promise<IceAnswer>;
  /** Refresh this long before expiry (from the network profile). */
  refreshMarginMs: number;
  /** The clock. */
  now?(): number;
}

/** A cache of the ICE server list. */
export class IceConfig {
  #options: IceConfigOptions;
  #now: () => number;
  #current: IceAnswer | null = null;
  #pending: Promise<IceAnswer> | null = null;

  /** Creates an empty cache. */
  constructor(options: IceConfigOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The servers to use now, fetched again when the credential is near expiry. */
  async servers(): Promise<RTCIceServer[]> {
    const current = this.#current;
    if (current && this.#now() < current.expiresAt - this.#options.refreshMarginMs) return current.iceServers;
    this.#pending ??= this.#options.fetchIce().finally(() => (this.#pending = null));
    try {
      this.#current = await this.#pending;
    } catch (error) {
      // Without ICE servers host candidates still work on a LAN; chat goes by relay anyway.
      if (current) return current.iceServers;
      console.warn("ICE servers unavailable; trying P2P with host candidates only:", error);
      return [];
    }
    return this.#current.iceServers;
  }

  /** When the cached list should be refreshed, or null when nothing is cached. */
  get refreshAt(): number | null {
    return this.#current ? this.#current.expiresAt - this.#options.refreshMarginMs : null;
  }
}

/** Fetches `/api/ice` from the page's origin, labelled with the peer id for TURN logs. */
export async function fetchIceFromOrigin(origin: string, peer?: string): Promise<IceAnswer> {
  const url = new URL("/api/ice", origin);
  if (peer) url.searchParams.set("peer", peer);
  const res = await fetch(url, { cache: "no-store" });
  if (!res.ok) throw new Error(`/api/ice answered ${res.status}`);
  return await res.json() as IceAnswer;
}
