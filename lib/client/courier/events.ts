/**
 * What the courier tells the UI (events and counters), and the small host
 * interface its parts use to report: events, counters, refusals, failures and
 * async work (for `settled`).
 * @module
 */
import type { FailureReason, MessageStatus, StoredMessage } from "../store.ts";
import type { RejectReason } from "./packets.ts";

/** Courier counters for the diagnostics view. */
export interface CourierCounters {
  /** Own messages sent for the first time. */
  sent: number;
  /** Own messages that reached "delivered". */
  delivered: number;
  /** Re-sends of own messages (timer or path change). */
  resent: number;
  /** Messages of others received and stored for the first time. */
  received: number;
  /** Copies of known messages dropped by id. */
  duplicates: number;
  /** Payloads, packets or messages refused (undecodable, malformed, out of bounds, forged): never shown. */
  rejected: number;
  /** Own messages that failed for good (the server refused them). */
  failed: number;
}

/** What the courier tells the UI. */
export type CourierEvent =
  | { type: "messages" }
  | { type: "received"; message: StoredMessage }
  | { type: "status"; id: string; status: MessageStatus; failure?: FailureReason }
  | { type: "counters" }
  | { type: "rejected"; from: string; reason: RejectReason; detail?: string }
  | { type: "error"; context: string; error: unknown };

/** How the courier's parts report back. */
export interface Host {
  /** Wall clock in ms. */
  now(): number;
  /** Tells listeners. */
  emit(event: CourierEvent): void;
  /** Bumps a counter (and tells listeners). */
  count(name: keyof CourierCounters): void;
  /** Counts and reports something refused from a peer. */
  reject(from: string, reason: RejectReason, detail?: string): void;
  /** Reports an unexpected failure. */
  fail(context: string, error: unknown): void;
  /** Counts an async step for `settled` and reports its failure. */
  track(work: Promise<unknown>, context: string): void;
  /** Arms the re-send timer if there is work. */
  arm(): void;
  /** Whether the courier is closed (every later input is ignored). */
  readonly closed: boolean;
}
