/**
 * Member identity: per device and room, an ECDSA P-256 key pair from
 * WebCrypto. The private key is non-extractable (page scripts can sign with
 * it, never read it), kept in the {@link Store} (IndexedDB holds CryptoKeys as
 * they are), and in memory only when storage fails. The member id is
 * base64url(first 16 bytes of SHA-256(raw public key)): 22 characters, the
 * same in every tab of one browser, so tabs are sessions of one member.
 *
 * The key signs two things (see CONTRACT "Member identity" and "Signed messages"):
 * - `hello.member`: proof of possession over `"parley-member\n" + room + "\n" + nonce`
 *   (`memberProof` of `lib/protocol/admission.ts`, which the server checks);
 * - every own message, through the courier's signer (`courier/signer.ts`, the one implementation).
 * @module
 */
import type { MemberProof } from "../protocol/frames.ts";
import { memberProof } from "../protocol/mod.ts";
import { generateMemberKeys, keySigner, type MessageSigner } from "./courier/signer.ts";
import type { Store } from "./store.ts";

export { generateMemberKeys, type MessageSigner };

/** This device's identity in one room. */
export interface MemberIdentity {
  /** The room the identity (and its signer) is bound to. */
  readonly room: string;
  /** The member id, 22 base64url chars. */
  readonly member: string;
  /** base64url raw public key (87 chars). */
  readonly publicKey: string;
  /** Whether the key pair is stored (false: it lives in memory and a reload makes a new member). */
  readonly persistent: boolean;
  /** Signs and verifies messages of this room. */
  readonly signer: MessageSigner;
  /** The proof of possession for `hello.member`, over the server's nonce. */
  memberProof(nonce: string): Promise<MemberProof>;
}

/**
 * How the tabs of a first visit agree on one key pair before any is stored (the store of a first visit lives in
 * memory until the room has settled, see `lib/client/mod.ts`): the tab that made the key pair offers it while its
 * store is not durable, and a later tab finds it there instead of making its own. See `key_share.ts`.
 */
export interface KeyShare {
  /** The key pair another tab of this room offers now, if one does. */
  find(): Promise<CryptoKeyPair | undefined>;
  /** Offers this tab's new key pair to later tabs; resolves once the offer can be found. */
  offer(keys: CryptoKeyPair): Promise<void>;
}

/** Runs `fn` while holding an exclusive lock named `name` across tabs (the Web Locks API in browsers). */
export type LockRunner = <T>(name: string, fn: () => Promise<T>) => Promise<T>;

/** Options of {@link loadIdentity}. */
export interface LoadIdentityOptions {
  /** The room id. */
  room: string;
  /** Where the key pair lives (`RoomState.identity`). */
  store: Store;
  /** Serializes get-or-create across tabs, so two tabs opening a new room at once agree on one key. */
  lock?: LockRunner;
  /** Generates a key pair; defaults to {@link generateMemberKeys}. */
  generate?: () => Promise<CryptoKeyPair>;
  /** Told when storage failed and the identity lives in memory only. */
  onStorageError?(error: unknown): void;
  /** Where tabs of a first visit share a key pair that is not stored yet (absent: each tab reads the store only). */
  share?: KeyShare;
}

/** The Web Locks API where the platform has it (browsers), else undefined. */
export function webLocks(): LockRunner | undefined {
  const locks = (globalThis.navigator as { locks?: LockManager } | undefined)?.locks;
  if (!locks || typeof locks.request !== "function") return undefined;
  return <T>(name: string, fn: () => Promise<T>) => locks.request(name, fn) as Promise<T>;
}

/** Whether a stored value is a usable key pair (a record from an older or foreign client is not). */
export function isKeyPair(value: unknown): value is CryptoKeyPair {
  if (typeof value !== "object" || value === null) return false;
  const { privateKey, publicKey } = value as Partial<CryptoKeyPair>;
  return privateKey instanceof CryptoKey && publicKey instanceof CryptoKey &&
    privateKey.type === "private" && publicKey.type === "public" &&
    (privateKey.algorithm as EcKeyAlgorithm).namedCurve === "P-256" &&
    privateKey.usages.includes("sign");
}

/**
 * The room's identity on this device: the stored key pair, or a new one that
 * is stored. When the store cannot read or write it, a key pair in memory
 * serves this page (`persistent: false`); a later load tries the store again.
 */
export async function loadIdentity(options: LoadIdentityOptions): Promise<MemberIdentity> {
  const { room, store } = options;
  const generate = options.generate ?? generateMemberKeys;
  const getOrCreate = async (): Promise<{ keys: CryptoKeyPair; persistent: boolean }> => {
    const saved = (await store.getState(room)).identity;
    if (isKeyPair(saved)) return { keys: saved, persistent: true };
    // Under the lock: a tab of the same first visit that came first has offered its key pair by now.
    const shared = await options.share?.find();
    const keys = shared ?? await generate();
    await store.patchState(room, { identity: keys });
    if (!shared) await options.share?.offer(keys);
    return { keys, persistent: true };
  };
  let found: { keys: CryptoKeyPair; persistent: boolean };
  try {
    found = options.lock ? await options.lock(`parley-identity:${room}`, getOrCreate) : await getOrCreate();
  } catch (error) {
    options.onStorageError?.(error);
    found = { keys: await generate(), persistent: false };
  }
  return await identityFromKeys(room, found.keys, found.persistent);
}

/** An identity over a key pair (generated, stored, or made by a test). */
export async function identityFromKeys(room: string, keys: CryptoKeyPair, persistent = false): Promise<MemberIdentity> {
  const signer = await keySigner(room, keys);
  return {
    room,
    member: signer.member,
    publicKey: signer.publicKey,
    persistent,
    signer,
    memberProof: (nonce) => memberProof(keys, room, nonce),
  };
}
