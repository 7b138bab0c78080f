/**
 * Real ECDSA P-256 signers for courier tests (the contract's algorithm, keys
 * generated per member), and helpers to write a member's signed message by
 * hand, or a forged one.
 * @module
 */
import { createMemorySigner, type MessageSigner, type WireMessage } from "../../../lib/client/courier/mod.ts";
import { formatOrderKey } from "../../../lib/client/order_key.ts";

/** A new member: a fresh key pair and its member id. */
export function newMember(room: string): Promise<MessageSigner> {
  return createMemorySigner(room);
}

/** Fields of a hand-written message; the rest is filled in. */
export interface Draft {
  /** Message id. */
  id: string;
  /** Body. */
  body: string;
  /** Order key milliseconds (default `time`). */
  ms?: number;
  /** Order key counter. */
  c?: number;
  /** The writer's message number. */
  n?: number;
  /** Tab tag in the order key. */
  tab?: string;
  /** Display time. */
  time: number;
  /** Direct message receiver. */
  to?: string;
  /** Claimed author (default: the signer's member). */
  author?: string;
}

/** A message written and signed by `signer` (claiming `draft.author` when given: then it is forged). */
export async function signed(signer: MessageSigner, draft: Draft): Promise<WireMessage> {
  const author = draft.author ?? signer.member;
  const fields = {
    id: draft.id,
    author,
    order: formatOrderKey({ ms: draft.ms ?? draft.time, c: draft.c ?? 0, author, tab: draft.tab, n: draft.n ?? 1 }),
    time: draft.time,
    body: draft.body,
    ...(draft.to === undefined ? {} : { to: draft.to }),
  };
  return { ...fields, ...await signer.sign(fields) };
}

/**
 * Wraps a signer so every verification of the same message is done once: the
 * simulation verifies the same copies on several peers, and ECDSA is the
 * slowest step (the answer for equal input is the same).
 */
export function cachedVerify(signer: MessageSigner, cache: Map<string, Promise<boolean>>): MessageSigner {
  return {
    member: signer.member,
    sign: (m) => signer.sign(m),
    verify(m) {
      const key = JSON.stringify([m.id, m.author, m.order, m.time, m.body, m.to ?? null, m.pk, m.sig]);
      let found = cache.get(key);
      if (!found) cache.set(key, found = signer.verify(m));
      return found;
    },
  };
}

/** Fixed test keys (generated once, for tests only), so a seed replays with the same member ids. */
const POOL_KEYS: JsonWebKey[] = [
  {
    kty: "EC",
    crv: "P-256",
    x: "DD97h8jVvqehrS09z_PmYCF4edwKNYEanLHEaguUM3k",
    y: "r0D7RMh2oWqVzEvIhBtYwVGBzZvZYEbJSo_zi7AuhI0",
    d: "y4dJ8NwMAT4sd0gftIQ7_85Ge-3LePcocwpL5y-1g8M",
  },
  {
    kty: "EC",
    crv: "P-256",
    x: "6j9jq86xPbDUURE4HtwIvE88iOZsV8F3UnXeYX2y_Zg",
    y: "L7TA4E2ZRuU37MnRWk0IibmD7Dt0FaairVZB7bZk6fQ",
    d: "Q4wLw3g0r50vxhBD6qpKL0y82IDFtPEg3-jgGBhmSgg",
  },
  {
    kty: "EC",
    crv: "P-256",
    x: "SikfBqt7rJTisDZS6fy5tMEv4Uechm-l9iJRb_ZxBCA",
    y: "nn4L7rFwAAnkUvqE6iX5Paeqp_kL670iWEHbAqzSRfk",
    d: "skvhzrS5K1vneggR8lkb40gR5y7qQuAchX5TvU-2bnY",
  },
  {
    kty: "EC",
    crv: "P-256",
    x: "9BUxQTETdrJXlfYXzIcTb59i03YosuSDPxpoY-Pc5ys",
    y: "74Ke2pqDFve5KFmSlPEt2NOhfpHFTKtSUs4WOaQStkY",
    d: "KQFqQNpB9qtByLpP2M_M4Z4cztkzrMD6yQJoQCpBgeI",
  },
  {
    kty: "EC",
    crv: "P-256",
    x: "6TmvGyyuye82nyxnGq3SefgmTjnmtAVUqYLLffiSlkk",
    y: "6zYkJfi4OOQn58JYxw9DXxG5E53ErhjradxGOA7_xek",
    d: "xn1qC5wWJqCySzPs2pEResWIAsmIPdO1-CcxUE-S7GY",
  },
  {
    kty: "EC",
    crv: "P-256",
    x: "ObUG1INqN2H8zVYrUDyHpejbfmuu4O0XlUd0iYU3SYE",
    y: "eaza0hLjYHS2hY8BchzU1nuUbPE2WqdCAJPs_h6BDmU",
    d: "TB7-ZNQf9t-j15yeUzqug4ERoSDifEKjlPwQWNUBwYk",
  },
  {
    kty: "EC",
    crv: "P-256",
    x: "l5kbnZ7gdri38pZf0wbB9QYAXmi5FDzVx2ZmrUgTypM",
    y: "pZ1GwBnxLu-Z4C1u12HeL_9S6jZiREUKFKCjBRI1crA",
    d: "gYjKi9q0TsVR6q88wK6R4IsCYSQ4JyOO3H4HbGf_644",
  },
  {
    kty: "EC",
    crv: "P-256",
    x: "iDHUPM_yQC1AcWgELkc76vjrdLxwzjefdPqog06ok80",
    y: "llQShOa6LcGOKe6VW3QwJhACWbBb7NPOgY0bbwZLF38",
    d: "RpCu2VkC0KIwE7Ry6Thw9Btlh7FF3m5VhluPmoU88pU",
  },
];

const pool = new Map<number, Promise<CryptoKeyPair>>();

function pooledPair(index: number): Promise<CryptoKeyPair> {
  let pair = pool.get(index);
  if (!pair) {
    const jwk = POOL_KEYS[index % POOL_KEYS.length];
    const algorithm = { name: "ECDSA", namedCurve: "P-256" };
    pair = Promise.all([
      crypto.subtle.importKey("jwk", jwk, algorithm, false, ["sign"]),
      crypto.subtle.importKey("jwk", { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y }, algorithm, true, ["verify"]),
    ]).then(([privateKey, publicKey]) => ({ privateKey, publicKey }));
    pool.set(index, pair);
  }
  return pair;
}

/**
 * Member `index` of a fixed pool of key pairs: the simulation runs thousands of
 * schedules, key generation would dominate, and fixed keys keep a seed's
 * member ids (and so its order keys) the same on every replay.
 */
export async function pooledMember(room: string, index: number): Promise<MessageSigner> {
  return createMemorySigner(room, await pooledPair(index));
}
