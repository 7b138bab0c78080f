/**
 * What a hostile member of a room can send: forged authors, times from the
 * future, a maxed-out clock counter, oversized counts, bodies over the limit,
 * part floods, plain garbage, and ids of others' messages re-used for its own. Each crafted packet says whether a correct
 * receiver must refuse it, or may take it (a strange but valid message).
 * @module
 */
import type { MessageSigner } from "../../../lib/client/courier/mod.ts";
import { COUNTER_MAX, formatOrderKey, MAX_ORDER_MS } from "../../../lib/client/order_key.ts";
import { encodeBase64Url } from "../../../lib/protocol/mod.ts";
import type { Prng } from "../../support/prng.ts";
import { signed } from "./signers.ts";

/** One crafted transport message (or several: parts). */
export interface Attack {
  /** What it tries. */
  kind: string;
  /** Whole payload packets to encode, or raw transport messages (garbage, parts). */
  packets?: unknown[];
  /** Raw transport messages, sent as they are. */
  raw?: string[];
  /** A message a correct receiver may take (valid, though odd); undefined when all must be refused. */
  valid?: { id: string; author: string };
  /** Ids that must never be shown anywhere. */
  forbidden?: string[];
}

/** The kinds of attack, one picked per injection. */
export const ATTACKS = [
  "forged_author",
  "borrowed_key",
  "future_time",
  "end_of_time",
  "max_counter",
  "too_long",
  "huge_ack",
  "huge_digest",
  "huge_hist",
  "garbage",
  "part_flood",
  "unsigned",
  "bad_part",
  "id_squat",
] as const;

function id(rng: Prng): string {
  return encodeBase64Url(rng.bytes(16));
}

/** Crafts one attack by `hostile` (a member of the room) against `victim` (another member's id). */
export async function craft(
  kind: (typeof ATTACKS)[number],
  hostile: MessageSigner,
  victim: { member: string; pk?: string; seen?: string },
  now: number,
  rng: Prng,
): Promise<Attack> {
  switch (kind) {
    case "forged_author": {
      const m = await signed(hostile, { id: id(rng), time: now, body: "I am someone else", author: victim.member });
      return { kind, packets: [{ t: "msg", m }], forbidden: [m.id] };
    }
    case "borrowed_key": {
      const m = await signed(hostile, {
        id: id(rng),
        time: now,
        body: "their key, my signature",
        author: victim.member,
      });
      return { kind, packets: [{ t: "hist", ms: [{ ...m, pk: victim.pk ?? m.pk }] }], forbidden: [m.id] };
    }
    case "future_time": {
      const m = await signed(hostile, { id: id(rng), time: now + 3_600_000, ms: now, body: "from tomorrow" });
      return { kind, packets: [{ t: "msg", m }], forbidden: [m.id] };
    }
    case "end_of_time": {
      const m = await signed(hostile, { id: id(rng), time: now, ms: MAX_ORDER_MS, c: COUNTER_MAX, body: "last" });
      return { kind, packets: [{ t: "msg", m }], forbidden: [m.id] };
    }
    case "max_counter": {
      const m = await signed(hostile, {
        id: id(rng),
        time: now,
        ms: now,
        c: COUNTER_MAX,
        n: 1,
        tab: "hx" + rng.int(0, 999),
        body: "max",
      });
      return { kind, packets: [{ t: "msg", m }], valid: { id: m.id, author: m.author } };
    }
    case "too_long": {
      const m = await signed(hostile, { id: id(rng), time: now, body: "x".repeat(65_537) });
      return { kind, packets: [{ t: "msg", m }], forbidden: [m.id] };
    }
    case "huge_ack":
      return { kind, packets: [{ t: "ack", ids: Array.from({ length: 5_000 }, () => id(rng)) }] };
    case "huge_digest": {
      const have: Record<string, number[]> = {};
      for (let i = 0; i < 5_000; i++) have["w" + i] = [1, 2];
      return { kind, packets: [{ t: "sync", have }] };
    }
    case "huge_hist":
      return { kind, packets: [{ t: "hist", ms: Array.from({ length: 1_001 }, () => ({})) }] };
    case "garbage":
      return { kind, raw: [encodeBase64Url(rng.bytes(rng.int(1, 300))), "", "{}", "_" + "A".repeat(30)] };
    case "part_flood": {
      const raw: string[] = [];
      for (let i = 0; i < 40; i++) {
        raw.push("_" + encodeBase64Url(rng.bytes(8)) + "00" + "0g" + "A".repeat(rng.int(1, 50_000)));
      }
      return { kind, raw };
    }
    case "unsigned": {
      const order = formatOrderKey({ ms: now, c: 0, author: hostile.member, n: 1 });
      const mid = id(rng);
      return {
        kind,
        packets: [{ t: "msg", m: { id: mid, author: hostile.member, order, time: now, body: "no signature" } }],
        forbidden: [mid],
      };
    }
    case "id_squat": {
      // The id of a message someone else wrote, which the hostile member holds, re-used for its own signed words:
      // the honest message must still reach everyone, as its author's.
      if (victim.seen === undefined) return { kind };
      const m = await signed(hostile, { id: victim.seen, time: now, body: "words under a borrowed id" });
      return { kind, packets: [{ t: "msg", m }] };
    }
    case "bad_part":
      return {
        kind,
        raw: ["_" + encodeBase64Url(rng.bytes(8)) + "zz01x", "_" + encodeBase64Url(rng.bytes(8)) + "0201x"],
      };
  }
}
