/**
 * Error codes and WebSocket close codes of the signaling protocol: the one
 * list a client needs to tell the user what happened.
 * @module
 */

/** Every error code the server sends in an `error` frame (and HTTP error bodies). */
export type ErrorCode =
  /** The HTTP request to /api/signal was not a WebSocket upgrade. */
  | "not_websocket"
  /** The request's Origin is not in ALLOWED_ORIGINS. */
  | "origin_refused"
  /** The server is shutting down; reconnect (to another instance). */
  | "shutting_down"
  /** `v` is missing or not a supported version. */
  | "bad_version"
  /** `room` is missing or not a valid room id. */
  | "bad_room"
  /** The frame is not JSON, not an object, or a field has the wrong type or form. */
  | "bad_frame"
  /** The frame's `type` is not one the server knows. */
  | "unknown_type"
  /** A frame other than `hello` came before the `welcome`, or `hello` came twice. */
  | "hello_required"
  /** No `hello` came in time. */
  | "hello_timeout"
  /** A binary WebSocket message: the protocol is text only. */
  | "binary_refused"
  /** The frame is bigger than the frame size limit. */
  | "too_big"
  /** Too many frames per second from this connection or address. */
  | "rate_limited"
  /** The room already holds the most peers allowed. */
  | "room_full"
  /** This client address already has the most rooms allowed open. */
  | "too_many_rooms"
  /** The `proof` is missing or does not match the room's verifier, or the room has data but no verifier (a squat). */
  | "admission_refused"
  /** A frame's `to` names no peer of the room (signals only; chat is kept in the log). */
  | "unknown_peer"
  /** The same session connected again elsewhere; this socket is replaced. */
  | "replaced"
  /** The server failed; the frame may be retried. */
  | "internal"
  /** The room is new: send `hello` again, on the same socket, with `verifier` to register it. */
  | "verifier_required"
  /** The deployment's storage budget (rooms or bytes, over all clients) is spent: no new room, no new message. */
  | "storage_full"
  /** This client address (IPv4 address or IPv6 /64) spent its storage budget for the current window. */
  | "budget_exceeded"
  /**
   * The server has too many hellos from this client address waiting for their turn (or too many in all), or (HTTP
   * 429) too many sockets of this address open or not yet welcomed: retry later.
   */
  | "busy";

/** Every error code, for validation and for tests that walk the list. */
export const ERROR_CODES: readonly ErrorCode[] = [
  "not_websocket",
  "origin_refused",
  "shutting_down",
  "bad_version",
  "bad_room",
  "bad_frame",
  "unknown_type",
  "hello_required",
  "hello_timeout",
  "binary_refused",
  "too_big",
  "rate_limited",
  "room_full",
  "too_many_rooms",
  "admission_refused",
  "unknown_peer",
  "replaced",
  "internal",
  "verifier_required",
  "storage_full",
  "budget_exceeded",
  "busy",
];

/** WebSocket close codes the server uses, with the client's expected reaction in the README. */
export const CLOSE = {
  /** The client said `bye`; nothing to do. */
  NORMAL: 1000,
  /** A binary message arrived; the protocol is text only. Do not reconnect with the same code. */
  UNSUPPORTED_DATA: 1003,
  /** Rate limit kept being exceeded after the `rate_limited` error. Back off, then reconnect. */
  POLICY_VIOLATION: 1008,
  /** A frame exceeded the size limit. */
  MESSAGE_TOO_BIG: 1009,
  /** The server failed. Reconnect with backoff. */
  INTERNAL_ERROR: 1011,
  /** The server restarts or is evicted. Reconnect (resume) at once. */
  SERVICE_RESTART: 1012,
  /** The session connected again on another socket; this one is stale. Do not reconnect it. */
  REPLACED: 4000,
  /** No `hello` came in time. */
  HELLO_TIMEOUT: 4001,
  /** Bad version, bad room id or a frame before `hello`: a client bug. */
  BAD_REQUEST: 4400,
  /** The room's verifier did not match the proof: wrong room key. */
  ADMISSION_REFUSED: 4403,
  /** The room is full. */
  ROOM_FULL: 4409,
  /** This address has too many rooms open, or spent its storage budget (`budget_exceeded`). Retry later. */
  TOO_MANY_ROOMS: 4429,
  /** The socket's send queue stayed over its bound: resume with `since` at once (nothing is lost). */
  SLOW_CONSUMER: 4008,
  /**
   * The deployment's storage is full (`storage_full`): the room cannot be created now; or the server is
   * `busy` with hellos. Retry later, with backoff.
   */
  TRY_AGAIN_LATER: 1013,
} as const;

/** One of the close codes above. */
export type CloseCode = typeof CLOSE[keyof typeof CLOSE];
