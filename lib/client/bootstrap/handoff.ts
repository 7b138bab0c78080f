/**
 * The island's side of the bootstrap (`script.ts`): takes what the inline
 * script left in its global slot, once, for the room being opened. The socket
 * goes to the signal socket to adopt, with the hello the script sent on it and
 * how many of its frames the script has answered; the keys become the room's
 * cipher and admission; the member key pair the script proved (the stored one,
 * or one it made) becomes the room's identity when none is stored. Anything
 * missing or unusable is simply not handed over, and the client core does that
 * part itself as it did before the bootstrap existed.
 * @module
 */
import { encodeBase64Url } from "../../protocol/ids.ts";
import { helloProof } from "../../protocol/admission.ts";
import { type RoomAdmission, RoomCipher } from "../crypto.ts";
import type { AdoptedSocket, HelloData } from "../signal_socket.ts";
import { BOOTSTRAP_SLOT, BOOTSTRAP_STORED_FLAG } from "./slot.ts";

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
  /** [admission key bytes, stored room state, session token, member key pair], unless WebCrypto threw at once. */
  p?: unknown;
  /** The hello frame in force on the socket (sent in its URL or as a frame), if the script sent one. */
  s?: unknown;
  /** How many of `f`, from the first, the script has answered (a challenge, a `verifier_required`). */
  a?: unknown;
  /** Set when the island takes the socket: from then on the script sends nothing and opens nothing. */
  t?: unknown;
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
  /**
   * The member key pair the bootstrap proves (or will prove) in its hello: the stored one, or one it made because
   * none was stored. Undefined when it has none (the core makes one).
   */
  memberKeys(): Promise<CryptoKeyPair | undefined>;
  /** Closes the socket unless it was taken: the room will not open after all. */
  discard(): void;
}

/** Where the slot lives: the page's global object, or a stand-in in tests. */
export type BootstrapScope = Record<string, unknown>;

function isSocket(value: unknown): value is WebSocket {
  return typeof value === "object" && value !== null && typeof (value as WebSocket).send === "function" &&
    typeof (value as WebSocket).close === "function" && typeof (value as WebSocket).readyState === "number";
}

/** The hello the script sent, as the signal socket keeps it (without `type` and `v`); undefined when none. */
function helloOf(frame: unknown): HelloData | undefined {
  if (typeof frame !== "object" || frame === null) return undefined;
  const { type, v: _v, ...data } = frame as Record<string, unknown>;
  if (type !== "hello" || typeof data.proof !== "string") return undefined;
  return data as unknown as HelloData;
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
  if (slot.r !== room) {
    slot.t = 1;
    if (isSocket(slot.w) && slot.w.readyState <= 1) slot.w.close(1000, "another room");
    return undefined;
  }
  const frames = Array.isArray(slot.f) ? slot.f : [];
  const derived = slot.k as Promise<[CryptoKey, ArrayBuffer]> | undefined;
  const prepared = slot.p as Promise<[ArrayBuffer, unknown, unknown, CryptoKeyPair]> | undefined;
  let taken = false;
  return {
    takeSocket() {
      if (taken) return undefined;
      taken = true;
      // From here the script leaves the socket alone (and opens none if it has not yet): the adopter answers.
      slot.t = 1;
      const ws = isSocket(slot.w) ? slot.w : undefined;
      if (!ws) return undefined;
      const answered = typeof slot.a === "number" && slot.a > 0 ? slot.a : 0;
      // The bootstrap keeps pushing into `frames` until the adopter replaces its handler, in the same task.
      return {
        ws,
        frames: frames.filter((data): data is string => typeof data === "string"),
        hello: helloOf(slot.s),
        answered,
      };
    },
    async memberKeys() {
      if (!prepared || typeof prepared.then !== "function") return undefined;
      try {
        const pair = (await prepared)[3];
        return pair?.privateKey instanceof CryptoKey && pair.publicKey instanceof CryptoKey ? pair : undefined;
      } catch {
        return undefined;
      }
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
      if (taken) return;
      taken = true;
      slot.t = 1;
      if (isSocket(slot.w) && slot.w.readyState <= 1) slot.w.close(1000, "not used");
    },
  };
}

/**
 * Whether this browser keeps rooms (IndexedDB), as {@link markStored} noted: false on a first visit, and where
 * `localStorage` is missing or refused. Never throws.
 */
export function keepsRooms(storage: Pick<Storage, "getItem"> | undefined): boolean {
  try {
    return storage?.getItem(BOOTSTRAP_STORED_FLAG) != null;
  } catch {
    return false;
  }
}

/**
 * Notes in `localStorage` that this browser keeps rooms (IndexedDB), so the next room page's bootstrap waits for
 * IndexedDB to read the room's state. Without the note it assumes a first visit and does not wait. Never throws.
 */
export function markStored(storage: Pick<Storage, "getItem" | "setItem"> | undefined): void {
  try {
    if (storage && storage.getItem(BOOTSTRAP_STORED_FLAG) === null) storage.setItem(BOOTSTRAP_STORED_FLAG, "1");
  } catch {
    // Storage refused: the next bootstrap does not wait for IndexedDB, and a stored key pair, if any, is found later.
  }
}
