/**
 * Page nonces: a challenge nonce the server hands out with the room page
 * (its `Server-Timing` header), so the page's socket can carry a complete
 * `hello` in its upgrade request and be welcomed without the challenge's
 * round trip (see "Early hello" in lib/protocol/README.md).
 *
 * A nonce is stateless to issue: version, issue time and 16 random bytes,
 * with an HMAC-SHA-256 tag (truncated to 128 bits) under a server secret over
 * them and the room id, so it is good for one room only and for
 * {@link PAGE_NONCE_TTL_MS}. It is single use: redeeming it sets a key in
 * Deno KV with an atomic check that the key is absent, so of two sockets
 * presenting it, on any server instances, at most one is admitted with it.
 * The key expires with the nonce. (Remembering redemptions in memory on the
 * issuing instance alone would let a proof redeemed there be replayed on
 * another instance; the KV check costs one atomic write per admitted early
 * hello, and it runs only after the hello's proof has verified, so only a
 * holder of the room key can cause it.)
 *
 * The secret is shared by every instance through KV (made once, atomically,
 * by the first instance that needs it), or given by the caller.
 * @module
 */
import { PAGE_NONCE_PATTERN } from "../protocol/admission.ts";
import { encodeBase64Url } from "../protocol/ids.ts";
import { retryKvBusy } from "./kv_busy.ts";

/** How long a page nonce may be redeemed after it was issued. */
export const PAGE_NONCE_TTL_MS = 60_000;
/** Format version, the first byte of every nonce. */
const VERSION = 1;
/** Bytes of the issue time (ms since the epoch, big-endian). */
const TIME_BYTES = 6;
/** Random bytes: 128 bits, so two nonces never collide. */
const RANDOM_BYTES = 16;
/** Bytes of the HMAC tag kept. */
const TAG_BYTES = 16;
/** The issued part the tag covers: version, time, random. */
const BODY_BYTES = 1 + TIME_BYTES + RANDOM_BYTES;
/** Bytes of the secret. */
const SECRET_BYTES = 32;
/** How far in the future an issue time may be (clock differences between instances). */
const FUTURE_SLACK_MS = 5_000;

const HMAC = { name: "HMAC", hash: "SHA-256" } as const;
const encoder = new TextEncoder();

/** Why a page nonce cannot be redeemed, or "ok". */
export type PageNonceCheck =
  /** Issued by this deployment for this room, and still fresh (whether it was used is {@link PageNonces.consume}'s). */
  | "ok"
  /** Not 52 base64url characters of the current version. */
  | "malformed"
  /** The tag does not verify: another deployment's, another room's, or made up. */
  | "forged"
  /** Older than {@link PAGE_NONCE_TTL_MS}, or issued in the future. */
  | "expired";

/** Options of {@link PageNonces}. */
export interface PageNonceOptions {
  /** Where used nonces (and, unless `secret` is given, the shared secret) are kept. */
  kv: Deno.Kv;
  /** KV key prefix, so tests can share one KV. Default "signal". */
  namespace?: string;
  /** The HMAC secret (at least 32 bytes); default: one kept in KV and shared by every instance. */
  secret?: Uint8Array;
  /** How long a nonce may be redeemed; default {@link PAGE_NONCE_TTL_MS}. */
  ttlMs?: number;
  /** The clock. */
  now?: () => number;
  /** Random bytes (tests make them predictable). */
  random?: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;
}

/** Decodes unpadded base64url that {@link PAGE_NONCE_PATTERN} already accepted. */
function decode(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

/** Issues page nonces and redeems each at most once. */
export class PageNonces {
  #kv: Deno.Kv;
  #ns: string;
  #ttlMs: number;
  #now: () => number;
  #random: (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;
  #given: Uint8Array | undefined;
  #key: Promise<CryptoKey> | null = null;

  /** Nonces for this deployment; nothing is read or written until the first use. */
  constructor(options: PageNonceOptions) {
    if (options.secret && options.secret.length < SECRET_BYTES) {
      throw new RangeError(`a page nonce secret needs at least ${SECRET_BYTES} bytes`);
    }
    this.#kv = options.kv;
    this.#ns = options.namespace ?? "signal";
    this.#ttlMs = options.ttlMs ?? PAGE_NONCE_TTL_MS;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? ((bytes) => crypto.getRandomValues(bytes));
    this.#given = options.secret;
  }

  /** A fresh nonce for a page of `room`: 52 base64url characters. */
  async issue(room: string): Promise<string> {
    const body = new Uint8Array(BODY_BYTES);
    body[0] = VERSION;
    let time = Math.max(0, Math.floor(this.#now()));
    for (let i = TIME_BYTES; i >= 1; i--) {
      body[i] = time % 256;
      time = Math.floor(time / 256);
    }
    body.set(this.#random(new Uint8Array(RANDOM_BYTES)), 1 + TIME_BYTES);
    const tag = await this.#tag(room, body);
    const nonce = new Uint8Array(BODY_BYTES + TAG_BYTES);
    nonce.set(body);
    nonce.set(tag, BODY_BYTES);
    return encodeBase64Url(nonce);
  }

  /** Whether `nonce` was issued here for `room` and is still fresh; no state is read or written. Never throws on input. */
  async check(room: string, nonce: string): Promise<PageNonceCheck> {
    if (!PAGE_NONCE_PATTERN.test(nonce)) return "malformed";
    const bytes = decode(nonce);
    if (bytes[0] !== VERSION) return "malformed";
    const body = bytes.slice(0, BODY_BYTES);
    // The tag is truncated, so compare the kept bytes of a fresh HMAC, in constant time.
    const full = new Uint8Array(await crypto.subtle.sign("HMAC", await this.#secret(), this.#signed(room, body)));
    let diff = 0;
    for (let i = 0; i < TAG_BYTES; i++) diff |= full[i] ^ bytes[BODY_BYTES + i];
    if (diff !== 0) return "forged";
    let issued = 0;
    for (let i = 1; i <= TIME_BYTES; i++) issued = issued * 256 + bytes[i];
    const age = this.#now() - issued;
    return age > this.#ttlMs || age < -FUTURE_SLACK_MS ? "expired" : "ok";
  }

  /**
   * Marks `nonce` used; true when this call is the first to do so (on any instance sharing the KV). Call it only
   * for a nonce {@link check} accepted, once its hello's proof has verified.
   */
  async consume(nonce: string): Promise<boolean> {
    const key = [this.#ns, "nonce", nonce];
    const result = await retryKvBusy(() =>
      this.#kv.atomic().check({ key, versionstamp: null }).set(key, 1, {
        expireIn: this.#ttlMs + FUTURE_SLACK_MS,
      }).commit()
    );
    return result.ok;
  }

  /** What the tag covers: a domain string, the room, and the nonce's body. */
  #signed(room: string, body: Uint8Array): Uint8Array<ArrayBuffer> {
    const head = encoder.encode(`parley-page-nonce\n${room}\n`);
    const out = new Uint8Array(head.length + body.length);
    out.set(head);
    out.set(body, head.length);
    return out;
  }

  async #tag(room: string, body: Uint8Array): Promise<Uint8Array> {
    const mac = await crypto.subtle.sign("HMAC", await this.#secret(), this.#signed(room, body));
    return new Uint8Array(mac, 0, TAG_BYTES);
  }

  #secret(): Promise<CryptoKey> {
    this.#key ??= (async () => {
      const bytes = this.#given ?? await this.#sharedSecret();
      return await crypto.subtle.importKey("raw", bytes as Uint8Array<ArrayBuffer>, HMAC, false, ["sign", "verify"]);
    })();
    // A failed KV read is not remembered: the next page tries again.
    this.#key.catch(() => this.#key = null);
    return this.#key;
  }

  /** The deployment's secret in KV, made by whichever instance needs it first. */
  async #sharedSecret(): Promise<Uint8Array> {
    const key = [this.#ns, "page_nonce_secret"];
    for (let attempt = 0; attempt < 3; attempt++) {
      const found = await retryKvBusy(() => this.#kv.get<Uint8Array>(key));
      if (found.value instanceof Uint8Array && found.value.length >= SECRET_BYTES) return found.value;
      const fresh = crypto.getRandomValues(new Uint8Array(SECRET_BYTES));
      const made = await retryKvBusy(() => this.#kv.atomic().check(found).set(key, fresh).commit());
      if (made.ok) return fresh;
    }
    throw new Error("the page nonce secret could not be read or made");
  }
}
