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

const pool: CryptoKeyPair[] = [];

/**
 * Member `index` of a fixed pool of key pairs, generated once per process:
 * the simulation runs thousands of schedules, and key generation would
 * dominate (the member ids stay distinct within a schedule).
 */
export async function pooledMember(room: string, index: number): Promise<MessageSigner> {
  while (pool.length <= index) {
    pool.push(await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]));
  }
  return createMemorySigner(room, pool[index]);
}
