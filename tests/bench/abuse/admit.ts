/**
 * Admission for the abuse bench and the backpressure test, in one place.
 *
 * Today's protocol (lib/protocol/README.md, "Admission"): `hello.proof` is a
 * static secret derived from the room key; the server keeps SHA-256 of it.
 * The contract's challenge-response (`/work/plan/CONTRACT.md`, "Admission:
 * challenge-response") replaces it: the server opens with
 * `{"type":"challenge","nonce"}` and the proof is an HMAC of that nonce. This
 * module speaks both; `detectAdmission` tells which one a server speaks. When
 * the challenge-response server is merged, the static branch can go.
 * @module
 */
import { encodeBase64Url } from "../../../lib/protocol/ids.ts";
import type { Frame, Wire } from "./wire.ts";
import { PROTOCOL_VERSION } from "../../../lib/protocol/version.ts";

const ENCODER = new TextEncoder();

/** Which admission a server speaks. */
export type AdmissionMode = "static" | "challenge";

/** A room's key as the bench holds it (the `#fragment` of an invite link). */
export interface RoomKey {
  /** The room id. */
  room: string;
  /** The key bytes. */
  key: Uint8Array;
  /** base64url(A): the admission key, which is also the room's verifier (contract) and the static proof (today). */
  admission: string;
  /** A as an HMAC key. */
  hmac: CryptoKey;
}

/** What to put in the hello besides admission. */
export interface HelloExtra {
  /** A session token to resume. */
  token?: string;
  /** The highest log position seen. */
  since?: number;
}

/** Makes a room key and derives A = HKDF-SHA-256(key, salt = room, info = "parley admission v2"). */
export async function roomKey(
  room: string,
  key: Uint8Array = crypto.getRandomValues(new Uint8Array(32)),
): Promise<RoomKey> {
  const ikm = await crypto.subtle.importKey("raw", key as Uint8Array<ArrayBuffer>, "HKDF", false, ["deriveBits"]);
  const bits = new Uint8Array(
    await crypto.subtle.deriveBits(
      { name: "HKDF", hash: "SHA-256", salt: ENCODER.encode(room), info: ENCODER.encode("parley admission v2") },
      ikm,
      256,
    ),
  );
  const hmac = await crypto.subtle.importKey("raw", bits, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return { room, key, admission: encodeBase64Url(bits), hmac };
}

/**
 * Tells which admission the server speaks: a challenge-response server sends its challenge right
 * after the socket opens; today's server says nothing before the hello. Costs one socket and up
 * to `waitMs`.
 */
export async function detectAdmission(open: () => Promise<Wire>, waitMs = 1_000): Promise<AdmissionMode> {
  const wire = await open();
  try {
    await wire.next((frame) => frame.type === "challenge", waitMs);
    return "challenge";
  } catch {
    return "static";
  } finally {
    await wire.abort();
  }
}

/**
 * Sends the hello on a fresh socket and waits for the welcome; returns it, or throws with the
 * server's error. `create`: this socket creates the room (the contract's verifier goes along).
 * Today: hello with the static proof. Challenge-response (after the merge): wait for the
 * challenge, prove with HMAC(A, "parley-hello\n" + room + "\n" + nonce), and add the verifier when
 * creating or when the server answers `verifier_required`.
 */
export async function admit(
  wire: Wire,
  mode: AdmissionMode,
  key: RoomKey,
  extra: HelloExtra = {},
  create = false,
): Promise<Frame> {
  const hello: Record<string, unknown> = { type: "hello", v: PROTOCOL_VERSION, ...extra };
  if (mode === "static") {
    hello.proof = key.admission;
  } else {
    const challenge = await wire.next((frame) => frame.type === "challenge");
    const message = ENCODER.encode(`parley-hello\n${key.room}\n${challenge.nonce as string}`);
    hello.proof = encodeBase64Url(new Uint8Array(await crypto.subtle.sign("HMAC", key.hmac, message)));
    if (create) hello.verifier = key.admission;
  }
  wire.send(hello);
  let answer = await wire.next((frame) => frame.type === "welcome" || frame.type === "error");
  if (answer.type === "error" && answer.code === "verifier_required" && mode === "challenge") {
    wire.send({ ...hello, verifier: key.admission });
    answer = await wire.next((frame) => frame.type === "welcome" || frame.type === "error");
  }
  if (answer.type !== "welcome") throw new Error(`hello refused: ${JSON.stringify(answer)}`);
  return answer;
}
