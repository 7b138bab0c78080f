/**
 * The island's side of the bootstrap (`script.ts`): takes what the inline
 * script left in its global slot, once, for the room being opened. The socket
 * goes to the signal socket to adopt; the keys become the room's cipher and
 * admission. Anything missing or unusable is simply not handed over, and the
 * client core does that part itself as it did before the bootstrap existed.
 * @module
 */
import { encodeBase64Url } from "../../protocol/ids.ts";
import { helloProof } from "../../protocol/admission.ts";
import { type RoomAdmission, RoomCipher } from "../crypto.ts";
import type { AdoptedSocket } from "../signal_socket.ts";
import { BOOTSTRAP_SLOT } from "./slot.ts";

/** What the inline script leaves in its slot (short names: they travel in every page). */
interface SlotContents {
  /** The room id it started for (from the path). */
  r: unknown;
  /** Text frames its socket received. */
  f: unknown;
  /** Its WebSocket, unless creating one threw. */
  w?: unknown;
  /** [AES-GCM key, admission key bytes], unless WebCrypto threw at once. */
  k?: unknown;
}

/** The room's keys, ready before the client core needed them. */
export interface BootstrapKeys {
  /** The room cipher, on the non-extractable AES-GCM key imported from the fragment. */
  cipher: RoomCipher;
  /** The admission key A and the proofs made with it. */
  admission: RoomAdmission;
}

/** The bootstrap's work for one room. */
export interface Bootstrap {
  /** The bootstrap's socket and its frames, once (the signal socket's `adopt`); undefined when there is none. */
  takeSocket(): AdoptedSocket | undefined;
  /** The derived keys; undefined when WebCrypto failed in the bootstrap (the core derives them itself). */
  keys(): Promise<BootstrapKeys | undefined>;
  /** Closes the socket unless it was taken: the room will not open after all. */
  discard(): void;
}

/** Where the slot lives: the page's global object, or a stand-in in tests. */
export type BootstrapScope = Record<string, unknown>;

function isSocket(value: unknown): value is WebSocket {
  return typeof value === "object" && value !== null && typeof (value as WebSocket).send === "function" &&
    typeof (value as WebSocket).close === "function" && typeof (value as WebSocket).readyState === "number";
}

/** The admission of a room whose admission key A is already derived. */
function admissionOf(verifier: string, room: string): RoomAdmission {
  return { verifier, proof: (nonce) => helloProof(verifier, room, nonce) };
}

/**
 * Takes the bootstrap's work for `room` out of its slot (so it is handed over once). Undefined when the page had no
 * bootstrap or it started for another room; a socket of another room is closed.
 */
export function takeBootstrap(
  room: string,
  scope: BootstrapScope = globalThis as BootstrapScope,
): Bootstrap | undefined {
  const slot = scope[BOOTSTRAP_SLOT] as SlotContents | undefined;
  if (slot === undefined) return undefined;
  delete scope[BOOTSTRAP_SLOT];
  if (typeof slot !== "object" || slot === null) return undefined;
  let ws = isSocket(slot.w) ? slot.w : undefined;
  if (slot.r !== room) {
    if (ws && ws.readyState <= 1) ws.close(1000, "another room");
    return undefined;
  }
  const frames = Array.isArray(slot.f) ? slot.f : [];
  const derived = slot.k as Promise<[CryptoKey, ArrayBuffer]> | undefined;
  return {
    takeSocket() {
      const taken = ws;
      ws = undefined;
      if (!taken) return undefined;
      // The bootstrap keeps pushing into `frames` until the adopter replaces its handler, in the same task.
      return { ws: taken, frames: frames.filter((data): data is string => typeof data === "string") };
    },
    async keys() {
      if (!derived || typeof derived.then !== "function") return undefined;
      try {
        const [aes, bits] = await derived;
        return {
          cipher: new RoomCipher(aes, room),
          admission: admissionOf(encodeBase64Url(new Uint8Array(bits)), room),
        };
      } catch {
        // WebCrypto refused in the bootstrap (an insecure context, an old engine): the core tries on its own.
        return undefined;
      }
    },
    discard() {
      const left = ws;
      ws = undefined;
      if (left && left.readyState <= 1) left.close(1000, "not used");
    },
  };
}
