/**
 * What the abuse bench tells its attacker process, and what it reports back.
 * @module
 */
import type { AdmissionMode } from "./admit.ts";

/** What the attackers are told. */
export interface AttackConfig {
  /** Server port on 127.0.0.1. */
  port: number;
  /** Admission the server speaks. */
  mode: AdmissionMode;
  /** How many units of each attack. */
  scale: number;
  /** How long to attack, in ms. */
  durationMs: number;
  /** Which attacks to run (default: all). */
  kinds?: AttackKind[];
  /**
   * When set, each attack of each unit claims its own client address, this prefix plus a number
   * (e.g. "198.51.100." gives 198.51.100.1, .2...), sent as `X-Forwarded-For`.
   */
  addressPrefix?: string;
}

/** The attacks, by name (`--attacks=slow,flood` picks some). */
export const ATTACK_KINDS = ["slow", "flood", "churn", "hello", "fresh", "oversized"] as const;

/** One of the attacks. */
export type AttackKind = typeof ATTACK_KINDS[number];

/** What the attackers did. */
export interface AttackResult {
  /** Sockets opened, all attacks together. */
  sockets: number;
  /** Close codes seen, by code. */
  closes: Record<string, number>;
  /** Errors seen in `error` frames, by code. */
  errors: Record<string, number>;
  /** Chat frames sent. */
  chats: number;
  /** Bytes of chat frames sent. */
  chatBytes: number;
  /** Rooms created by the fresh-room walkers. */
  freshRooms: number;
  /** Attack steps that failed on the attacker's side (a refused upgrade, a timeout...). */
  failures: number;
}
