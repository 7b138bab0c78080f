/**
 * Short-lived TURN credentials by the TURN REST API scheme
 * (draft-uberti-behave-turn-rest, coturn `use-auth-secret`): the server and
 * the TURN relay share a secret; the username carries its own expiry, and the
 * password is an HMAC of the username, so the relay checks it without a
 * database and no long-lived password ever reaches a browser.
 * @module
 */

/** Shortest lifetime accepted: below it, clock skew between us and the relay makes credentials dead on arrival. */
export const MIN_TURN_TTL_SECONDS = 60;
/** Longest lifetime accepted: beyond a day a leaked credential is as good as a static password. */
export const MAX_TURN_TTL_SECONDS = 86_400;
/** Shortest shared secret accepted, so a guessable secret fails at startup instead of in production. */
export const MIN_TURN_SECRET_LENGTH = 16;
/** What a peer label may contain: it lands in the relay's logs, so keep it plain and short. */
export const TURN_PEER_LABEL = /^[A-Za-z0-9_-]{1,64}$/;

/** One credential pair for a TURN server, ready for an `RTCIceServer`. */
export interface TurnCredential {
  /** `<unix expiry seconds>:<peer label>`: the relay reads the expiry from it. */
  username: string;
  /** base64(HMAC-SHA1(secret, username)): the relay recomputes it to authenticate. */
  credential: string;
  /** When the relay starts refusing it, in Unix milliseconds, so the client knows when to fetch again. */
  expiresAt: number;
}

/** Options of {@link TurnCredentials}. */
export interface TurnCredentialsOptions {
  /** The secret shared with the relay (coturn `static-auth-secret`); never leaves the server. */
  secret: string;
  /** Lifetime of each credential in seconds; see {@link MIN_TURN_TTL_SECONDS} and {@link MAX_TURN_TTL_SECONDS}. */
  ttlSeconds: number;
  /** The clock in Unix milliseconds, injectable so tests can pin expiry math. Default `Date.now`. */
  now?: () => number;
  /** Makes a peer label when the caller has none; injectable for deterministic tests. Default 96 random bits, base64url. */
  randomLabel?: () => string;
}

/** 96 random bits as base64url: enough that two anonymous clients never share a label. */
export function randomTurnLabel(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/** The TURN REST password for `username`: base64(HMAC-SHA1(secret, username)), as coturn computes it. */
export async function turnPassword(key: CryptoKey, username: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username)));
  return btoa(String.fromCharCode(...mac));
}

/** Imports `secret` as an HMAC-SHA1 signing key (non-extractable, so it cannot leak through the key object). */
export function importTurnSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
}

/** Mints TURN REST credentials; the HMAC key is imported once and reused for every request. */
export class TurnCredentials {
  #key: Promise<CryptoKey>;
  #ttlSeconds: number;
  #now: () => number;
  #randomLabel: () => string;

  /** Validates the options and starts importing the key; throws a clear error for a bad secret or TTL. */
  constructor(options: TurnCredentialsOptions) {
    checkTurnSecret(options.secret);
    checkTurnTtl(options.ttlSeconds);
    this.#ttlSeconds = options.ttlSeconds;
    this.#now = options.now ?? Date.now;
    this.#randomLabel = options.randomLabel ?? randomTurnLabel;
    this.#key = importTurnSecret(options.secret);
  }

  /** Lifetime of each credential in seconds. */
  get ttlSeconds(): number {
    return this.#ttlSeconds;
  }

  /** A credential valid for `ttlSeconds` from now, labelled with `peer` (validated) or a random label. */
  async mint(peer?: string): Promise<TurnCredential> {
    if (peer !== undefined && !TURN_PEER_LABEL.test(peer)) {
      throw new RangeError(`TURN peer label must match ${TURN_PEER_LABEL}`);
    }
    const expiry = Math.floor(this.#now() / 1000) + this.#ttlSeconds;
    const username = `${expiry}:${peer ?? this.#randomLabel()}`;
    return { username, credential: await turnPassword(await this.#key, username), expiresAt: expiry * 1000 };
  }
}

/** Throws unless `secret` is long enough to resist guessing. */
export function checkTurnSecret(secret: string): void {
  if (secret.length < MIN_TURN_SECRET_LENGTH) {
    throw new RangeError(
      `TURN secret must be at least ${MIN_TURN_SECRET_LENGTH} characters (generate one with \`openssl rand -hex 32\`)`,
    );
  }
}

/** Throws unless `ttlSeconds` is a whole number of seconds within the accepted bounds. */
export function checkTurnTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < MIN_TURN_TTL_SECONDS || ttlSeconds > MAX_TURN_TTL_SECONDS) {
    throw new RangeError(
      `TURN TTL must be a whole number of seconds from ${MIN_TURN_TTL_SECONDS} to ${MAX_TURN_TTL_SECONDS}, got ${ttlSeconds}`,
    );
  }
}
