/**
 * The Parley signaling protocol, shared by server and client (no Deno-only
 * APIs here). See README.md for the wire format.
 * @module
 */
export { PROTOCOL_VERSION, SUPPORTED_VERSIONS } from "./version.ts";
export { CLOSE, ERROR_CODES } from "./codes.ts";
export type { CloseCode, ErrorCode } from "./codes.ts";
export type * from "./frames.ts";
export {
  encodeBase64Url,
  isRoomId,
  newRoomId,
  PAYLOAD_PATTERN,
  randomId,
  ROOM_ID_BYTES,
  ROOM_ID_PATTERN,
  SECRET_PATTERN,
  SHORT_ID_PATTERN,
} from "./ids.ts";
export { isTooBig, MAX_ACK_IDS, MAX_FRAME_BYTES, parseClientFrame, utf8Length } from "./validate.ts";
export type { FrameError, ParsedFrame, ParseResult } from "./validate.ts";
export {
  ADMISSION_INFO,
  admissionKey,
  checkHelloProof,
  checkMemberProof,
  helloProof,
  KEY43_PATTERN,
  MEMBER_KEY_PATTERN,
  MEMBER_SIG_PATTERN,
  memberIdOf,
  memberProof,
  newNonce,
} from "./admission.ts";
