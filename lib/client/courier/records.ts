/**
 * Reading stored records back with containment: a malformed message record
 * loads as an unreadable placeholder (flagged for the UI, never sent on) and
 * the rest of the history stays; a malformed outbox entry is left out.
 * @module
 */
import { parseOrderKey } from "../order_key.ts";
import type { MessageStatus, OutboxEntry, StoredMessage } from "../store.ts";
import { MAX_BODY_CHARS } from "./limits.ts";

const STATUSES: readonly MessageStatus[] = ["pending", "sent", "delivered", "received", "failed"];
const FAILURES = ["too_big", "bad_frame", "refused", "unsendable"];

function isString(value: unknown): value is string {
  return typeof value === "string";
}

/** A stored message as the courier can use it; undefined when not even its id is readable. */
export function readMessage(record: unknown): StoredMessage | undefined {
  if (typeof record !== "object" || record === null) return undefined;
  const r = record as Record<string, unknown>;
  if (!isString(r.id) || r.id === "") return undefined;
  const status = STATUSES.includes(r.status as MessageStatus) ? r.status as MessageStatus : undefined;
  const readable = status !== undefined && isString(r.author) && isString(r.order) &&
    parseOrderKey(r.order) !== null && isString(r.body) && r.body.length <= MAX_BODY_CHARS &&
    typeof r.time === "number" && Number.isFinite(r.time) &&
    (r.to === undefined || isString(r.to)) && (r.seq === undefined || Number.isSafeInteger(r.seq)) &&
    (r.pk === undefined || isString(r.pk)) && (r.sig === undefined || isString(r.sig)) &&
    (r.failure === undefined || FAILURES.includes(r.failure as string)) &&
    (r.arrived === undefined || (typeof r.arrived === "number" && Number.isFinite(r.arrived)));
  if (!readable) {
    return {
      id: r.id,
      author: isString(r.author) ? r.author : "",
      order: isString(r.order) ? r.order : "",
      body: "",
      status: status ?? "received",
      time: typeof r.time === "number" && Number.isFinite(r.time) ? r.time : 0,
      unreadable: true,
    };
  }
  const message: StoredMessage = {
    id: r.id,
    author: r.author as string,
    order: r.order as string,
    body: r.body as string,
    status: status!,
    time: r.time as number,
  };
  for (const field of ["to", "seq", "pk", "sig", "failure", "arrived"] as const) {
    if (r[field] !== undefined) (message as unknown as Record<string, unknown>)[field] = r[field];
  }
  return message;
}

/** A stored outbox entry as the courier can use it; undefined when malformed. */
export function readOutboxEntry(record: unknown): OutboxEntry | undefined {
  if (typeof record !== "object" || record === null) return undefined;
  const r = record as Record<string, unknown>;
  if (!isString(r.id) || !isString(r.order) || (r.to !== undefined && !isString(r.to))) return undefined;
  if (!Array.isArray(r.ackedBy) || !r.ackedBy.every(isString) || typeof r.accepted !== "boolean") return undefined;
  if (!Number.isSafeInteger(r.attempts) || (r.attempts as number) < 0) return undefined;
  const entry: OutboxEntry = {
    id: r.id,
    order: r.order,
    ackedBy: [...new Set(r.ackedBy as string[])],
    accepted: r.accepted,
    attempts: r.attempts as number,
  };
  if (r.to !== undefined) entry.to = r.to as string;
  return entry;
}
