/**
 * Validation of client frames: strict (unknown fields are refused), cheap
 * (one JSON.parse, a few typeof checks and anchored regexes), and the same
 * code on server and client.
 * @module
 */
import type { ErrorCode } from "./codes.ts";
import type { ChatFrame, ClientFrame } from "./frames.ts";
import { PAYLOAD_PATTERN, SECRET_PATTERN, SHORT_ID_PATTERN } from "./ids.ts";
import { KEY43_PATTERN, MEMBER_KEY_PATTERN, MEMBER_SIG_PATTERN } from "./admission.ts";

/** The largest frame, in UTF-8 bytes, either side may send (64 KiB): larger closes with 1009. */
export const MAX_FRAME_BYTES = 64 * 1024;

/** Most message ids in one `ack` frame. */
export const MAX_ACK_IDS = 400;

/** The highest log position a client may name in `since` (fits a double exactly). */
const MAX_SEQ = Number.MAX_SAFE_INTEGER;

/** A frame that passed validation. */
export interface ParsedFrame {
  /** Validation passed. */
  ok: true;
  /** The frame, typed by its `type`. */
  frame: ClientFrame;
}

/** A frame that failed validation, with the error to send back. */
export interface FrameError {
  /** Validation failed. */
  ok: false;
  /** The error code for the `error` frame. */
  code: ErrorCode;
  /** What was wrong, for the `error` frame's message. */
  message: string;
  /** The chat frame's id, when one could be read, so the client knows which message failed. */
  ref?: string;
}

/** The result of `parseClientFrame`. */
export type ParseResult = ParsedFrame | FrameError;

function bad(message: string, ref?: string, code: ErrorCode = "bad_frame"): FrameError {
  return ref === undefined ? { ok: false, code, message } : { ok: false, code, message, ref };
}

function isShortId(value: unknown): value is string {
  return typeof value === "string" && SHORT_ID_PATTERN.test(value);
}

/** The UTF-8 size of `text`, counted without allocating. */
export function utf8Length(text: string): number {
  let bytes = text.length;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) continue;
    if (code < 0x800) bytes += 1;
    else if (code >= 0xd800 && code <= 0xdbff) i++, bytes += 2;
    else bytes += 2;
  }
  return bytes;
}

/** Whether `text` may exceed `MAX_FRAME_BYTES`; exact only when it must be. */
export function isTooBig(text: string, max = MAX_FRAME_BYTES): boolean {
  if (text.length > max) return true;
  if (text.length * 3 <= max) return false;
  return utf8Length(text) > max;
}

/** `{"type":"chat","id":"","data":""}`: the shortest text of a chat frame, minus its values. */
const CHAT_FRAME_CHARS = 33;
/** `,"to":""`: what a `to` field adds, minus its value. */
const CHAT_TO_CHARS = 8;
/** `,"p2p":true`: what the `p2p` field adds. */
const CHAT_P2P_CHARS = 11;

/**
 * Whether the text of a validated chat frame is pure ASCII, decided without
 * scanning it: true when it is exactly as long as the shortest encoding of its
 * fields. Those fields are ASCII (their patterns say so), so a text of that
 * length holds nothing else: no whitespace, escapes, or duplicate keys whose
 * discarded values could carry other characters. Its UTF-8 size is then its length.
 */
export function isPlainChat(text: string, frame: ChatFrame): boolean {
  const to = frame.to === undefined ? 0 : CHAT_TO_CHARS + frame.to.length;
  const p2p = frame.p2p === undefined ? 0 : CHAT_P2P_CHARS;
  return text.length === CHAT_FRAME_CHARS + frame.id.length + frame.data.length + to + p2p;
}

/** Parses and validates one text frame from a client. */
export function parseClientFrame(text: string): ParseResult {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return bad("frame is not JSON");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return bad("frame is not a JSON object");
  }
  const frame = value as Record<string, unknown>;
  switch (frame.type) {
    case "chat":
      return checkChat(frame);
    case "signal":
      return checkSignal(frame);
    case "ack":
      return checkAck(frame);
    case "hello":
      return checkHello(frame);
    case "ping":
      for (const key in frame) {
        if (key !== "type" && key !== "n") return bad(`unknown field ${key.slice(0, 32)}`);
      }
      if (frame.n !== undefined && (typeof frame.n !== "number" || !Number.isFinite(frame.n))) {
        return bad("n must be a number");
      }
      return { ok: true, frame: frame as unknown as ClientFrame };
    case "bye":
      for (const key in frame) {
        if (key !== "type") return bad(`unknown field ${key.slice(0, 32)}`);
      }
      return { ok: true, frame: frame as unknown as ClientFrame };
    case "ice":
      for (const key in frame) {
        if (key !== "type") return bad(`unknown field ${key.slice(0, 32)}`);
      }
      return { ok: true, frame: frame as unknown as ClientFrame };
    default:
      if (typeof frame.type !== "string") return bad("type must be a string");
      return bad("unknown frame type", undefined, "unknown_type");
  }
}

function checkChat(frame: Record<string, unknown>): ParseResult {
  const ref = isShortId(frame.id) ? frame.id : undefined;
  for (const key in frame) {
    if (key !== "type" && key !== "id" && key !== "data" && key !== "to" && key !== "p2p") {
      return bad(`unknown field ${key.slice(0, 32)}`, ref);
    }
  }
  if (frame.p2p !== undefined && frame.p2p !== true) return bad("p2p must be true when present", ref);
  if (ref === undefined) return bad("id must be 1-64 base64url characters");
  if (frame.to !== undefined && !isShortId(frame.to)) return bad("to must be a peer id", ref);
  if (typeof frame.data !== "string" || !PAYLOAD_PATTERN.test(frame.data)) {
    return bad("data must be non-empty base64url", ref);
  }
  return { ok: true, frame: frame as unknown as ClientFrame };
}

function checkSignal(frame: Record<string, unknown>): ParseResult {
  for (const key in frame) {
    if (key !== "type" && key !== "to" && key !== "data") return bad(`unknown field ${key.slice(0, 32)}`);
  }
  if (!isShortId(frame.to)) return bad("to must be a peer id");
  if (frame.data === undefined) return bad("data is required");
  return { ok: true, frame: frame as unknown as ClientFrame };
}

/** An ack's MAC: 8 to 32 bytes of base64url. */
const MAC_PATTERN = /^[A-Za-z0-9_-]{11,43}$/;

function checkAck(frame: Record<string, unknown>): ParseResult {
  for (const key in frame) {
    if (key !== "type" && key !== "to" && key !== "ids" && key !== "mac" && key !== "volatile") {
      return bad(`unknown field ${key.slice(0, 32)}`);
    }
  }
  if (!isShortId(frame.to)) return bad("to must be a peer id");
  const ids = frame.ids;
  if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_ACK_IDS || !ids.every(isShortId)) {
    return bad(`ids must be 1-${MAX_ACK_IDS} message ids`);
  }
  if (typeof frame.mac !== "string" || !MAC_PATTERN.test(frame.mac)) {
    return bad("mac must be 11-43 base64url characters");
  }
  if (frame.volatile !== undefined && frame.volatile !== true) return bad("volatile must be true when present");
  return { ok: true, frame: frame as unknown as ClientFrame };
}

function checkHello(frame: Record<string, unknown>): ParseResult {
  for (const key in frame) {
    if (
      key !== "type" && key !== "v" && key !== "token" && key !== "since" && key !== "proof" && key !== "verifier" &&
      key !== "member" && key !== "epoch"
    ) {
      return bad(`unknown field ${key.slice(0, 32)}`);
    }
  }
  if (typeof frame.v !== "number") return bad("v must be a number", undefined, "bad_version");
  if (frame.token !== undefined && (typeof frame.token !== "string" || !SECRET_PATTERN.test(frame.token))) {
    return bad("token must be 22-128 base64url characters");
  }
  if (frame.proof !== undefined && (typeof frame.proof !== "string" || !KEY43_PATTERN.test(frame.proof))) {
    return bad("proof must be 43 base64url characters");
  }
  if (frame.verifier !== undefined && (typeof frame.verifier !== "string" || !KEY43_PATTERN.test(frame.verifier))) {
    return bad("verifier must be 43 base64url characters");
  }
  if (frame.member !== undefined && !isMemberProof(frame.member)) {
    return bad("member must be {key: 87, sig: 86 base64url characters}");
  }
  if (
    frame.since !== undefined &&
    (typeof frame.since !== "number" || !Number.isInteger(frame.since) || frame.since < 0 || frame.since > MAX_SEQ)
  ) {
    return bad("since must be a non-negative integer");
  }
  if (frame.epoch !== undefined && !isShortId(frame.epoch)) return bad("epoch must be 1-64 base64url characters");
  return { ok: true, frame: frame as unknown as ClientFrame };
}

function isMemberProof(value: unknown): boolean {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  const member = value as Record<string, unknown>;
  for (const key in member) if (key !== "key" && key !== "sig") return false;
  return typeof member.key === "string" && MEMBER_KEY_PATTERN.test(member.key) &&
    typeof member.sig === "string" && MEMBER_SIG_PATTERN.test(member.sig);
}
