/**
 * Split payloads: a payload larger than one transport message (see
 * {@link MAX_TRANSPORT_BYTES}) travels as numbered parts, on every path alike
 * (relay chat, relay signal, DataChannel), and is reassembled exactly once.
 *
 * A part is base64url text, so it is valid chat `data`:
 * `_` + transfer id (11 chars) + index (2 base36) + count (2 base36) + chunk.
 * A whole payload never starts with `_` (one that would is sent as a single
 * part), so the first character tells them apart. Chunks never split a
 * surrogate pair, so every part is well-formed UTF-16 on its own.
 *
 * The {@link Reassembler} keeps unfinished payloads within bounds on parts,
 * characters (per sender and in total), count and age, so a stranger's
 * garbage cannot grow memory; it remembers finished transfers, so a late
 * duplicate part never assembles a payload twice.
 *
 * Only a page that receives a payload over a frame needs this module, so the
 * wire loads it when the first part arrives (a lazy chunk in the browser);
 * what sending needs (a payload's size, the split) is in `part_size.ts`.
 * @module
 */
import { PART_HEADER_CHARS, PART_MARK, TRANSFER_ID, TRANSFER_ID_CHARS } from "./part_size.ts";
import {
  MAX_ASSEMBLIES,
  MAX_ASSEMBLIES_PER_PEER,
  MAX_ASSEMBLY_CHARS,
  MAX_ASSEMBLY_CHARS_PER_PEER,
  MAX_FINISHED_ASSEMBLIES,
  MAX_PARTS,
  MAX_TRANSPORT_BYTES,
  PART_TTL_MS,
} from "./limits.ts";

export {
  isPart,
  needsParts,
  PART_HEADER_CHARS,
  PART_MARK,
  partFrameId,
  splitPayload,
  TRANSFER_ID_CHARS,
  transportBytes,
} from "./part_size.ts";

const BASE36_PAIR = /^[0-9a-z]{2}$/;

/** One parsed part. */
export interface Part {
  /** The transfer id: one split of one payload. */
  xfer: string;
  /** This part's position, from 0. */
  index: number;
  /** How many parts the payload has. */
  count: number;
  /** This part's slice of the payload. */
  chunk: string;
}

/** Parses a part; null when malformed or beyond the bounds. */
export function parsePart(text: string): Part | null {
  if (typeof text !== "string" || !text.startsWith(PART_MARK) || text.length > MAX_TRANSPORT_BYTES) return null;
  const xfer = text.slice(1, 1 + TRANSFER_ID_CHARS);
  const index = text.slice(1 + TRANSFER_ID_CHARS, 3 + TRANSFER_ID_CHARS);
  const count = text.slice(3 + TRANSFER_ID_CHARS, PART_HEADER_CHARS);
  if (!TRANSFER_ID.test(xfer) || !BASE36_PAIR.test(index) || !BASE36_PAIR.test(count)) return null;
  const part = { xfer, index: parseInt(index, 36), count: parseInt(count, 36), chunk: text.slice(PART_HEADER_CHARS) };
  if (part.count < 1 || part.count > MAX_PARTS || part.index >= part.count) return null;
  return part;
}

/** Bounds and clock of a {@link Reassembler}. */
export interface ReassemblerOptions<T> {
  /** Clock in ms, for the age bound. */
  now: () => number;
  /** Called with the tags of an unfinished payload that was dropped (too old, or evicted by a bound). */
  onDrop: (tags: T[], reason: "expired" | "evicted") => void;
  /** Called with the tags of duplicate parts of a payload that was assembled and dealt with. */
  onDone: (tags: T[]) => void;
  /** Age bound; default {@link PART_TTL_MS}. */
  ttlMs?: number;
  /** Characters held in total; default {@link MAX_ASSEMBLY_CHARS}. */
  maxChars?: number;
  /** Characters held per sender; default {@link MAX_ASSEMBLY_CHARS_PER_PEER}. */
  maxCharsPerPeer?: number;
  /** Unfinished payloads in total; default {@link MAX_ASSEMBLIES}. */
  maxAssemblies?: number;
  /** Unfinished payloads per sender; default {@link MAX_ASSEMBLIES_PER_PEER}. */
  maxAssembliesPerPeer?: number;
}

/** What adding a part did. */
export type AddResult<T> =
  /** The last missing part: the payload, and the tags of every copy of its parts. */
  | { status: "complete"; key: string; payload: string; tags: T[] }
  /** Held, waiting for more parts. */
  | { status: "partial" }
  /** A part already held (its tag joins the payload's), or of a payload already assembled (its tag was released). */
  | { status: "duplicate" }
  /** Contradicts the parts held for the same transfer. */
  | { status: "refused" };

interface Assembly<T> {
  /** The sender. */
  from: string;
  /** Parts expected. */
  count: number;
  /** Parts held, by index. */
  chunks: (string | undefined)[];
  /** How many are held. */
  have: number;
  /** Characters held. */
  chars: number;
  /** When its first part came. */
  started: number;
  /** Tags of every part copy taken in. */
  tags: T[];
}

/** Reassembles split payloads, exactly once each, within bounds. `T` tags parts (e.g. log positions). */
export class Reassembler<T> {
  #o: Required<ReassemblerOptions<T>>;
  #active = new Map<string, Assembly<T>>();
  #finished = new Map<string, { done: boolean; tags: T[] }>();
  #perPeer = new Map<string, { count: number; chars: number }>();
  #chars = 0;

  /** A reassembler with the given bounds. */
  constructor(options: ReassemblerOptions<T>) {
    this.#o = {
      ttlMs: PART_TTL_MS,
      maxChars: MAX_ASSEMBLY_CHARS,
      maxCharsPerPeer: MAX_ASSEMBLY_CHARS_PER_PEER,
      maxAssemblies: MAX_ASSEMBLIES,
      maxAssembliesPerPeer: MAX_ASSEMBLIES_PER_PEER,
      ...options,
    };
  }

  /** Unfinished payloads held. */
  get size(): number {
    return this.#active.size;
  }

  /** Characters held in unfinished payloads. */
  get chars(): number {
    return this.#chars;
  }

  /** Adds a part from `from`; `tag` travels with it until the payload completes or is dropped. */
  add(from: string, part: Part, tag?: T): AddResult<T> {
    const key = from + " " + part.xfer;
    const finished = this.#finished.get(key);
    if (finished) {
      // Its payload is assembled: the tag is dealt with once that payload is.
      if (tag !== undefined) {
        if (finished.done) this.#o.onDone([tag]);
        else finished.tags.push(tag);
      }
      return { status: "duplicate" };
    }
    let assembly = this.#active.get(key);
    if (assembly && assembly.count !== part.count) return { status: "refused" };
    if (assembly?.chunks[part.index] !== undefined) {
      if (tag !== undefined) assembly.tags.push(tag);
      return { status: "duplicate" };
    }
    const size = part.chunk.length;
    if (size > this.#o.maxCharsPerPeer || size > this.#o.maxChars) return { status: "refused" };
    this.#makeRoom(from, size, assembly ? 0 : 1, key);
    if (!assembly) {
      assembly = {
        from,
        count: part.count,
        chunks: new Array(part.count),
        have: 0,
        chars: 0,
        started: this.#o.now(),
        tags: [],
      };
      this.#active.set(key, assembly);
      this.#peer(from).count++;
    }
    assembly.chunks[part.index] = part.chunk;
    assembly.have++;
    assembly.chars += size;
    this.#peer(from).chars += size;
    this.#chars += size;
    if (tag !== undefined) assembly.tags.push(tag);
    if (assembly.have < assembly.count) return { status: "partial" };
    this.#remove(key, assembly);
    this.#finished.set(key, { done: false, tags: [] });
    if (this.#finished.size > MAX_FINISHED_ASSEMBLIES) {
      const [oldest, entry] = this.#finished.entries().next().value!;
      this.#finished.delete(oldest);
      if (!entry.done) this.#o.onDone(entry.tags);
    }
    return { status: "complete", key, payload: assembly.chunks.join(""), tags: assembly.tags };
  }

  /** A completed payload is dealt with: tags of its late duplicate parts are handed to `onDone`. */
  finish(key: string): void {
    const entry = this.#finished.get(key);
    if (!entry || entry.done) return;
    entry.done = true;
    this.#o.onDone(entry.tags.splice(0));
  }

  /** Drops unfinished payloads older than the age bound. */
  sweep(): void {
    const oldest = this.#o.now() - this.#o.ttlMs;
    for (const [key, assembly] of this.#active) {
      if (assembly.started > oldest) continue;
      this.#remove(key, assembly);
      this.#o.onDrop(assembly.tags, "expired");
    }
  }

  /** Drops everything held (a reset); tags are handed back as evicted. */
  clear(): void {
    for (const [key, assembly] of this.#active) {
      this.#remove(key, assembly);
      this.#o.onDrop(assembly.tags, "evicted");
    }
  }

  /** Evicts the oldest payloads (of `from` first) until `chars` more characters and `count` more payloads fit. */
  #makeRoom(from: string, chars: number, count: number, keep: string): void {
    const peer = this.#peer(from);
    const over = () =>
      peer.chars + chars > this.#o.maxCharsPerPeer || peer.count + count > this.#o.maxAssembliesPerPeer;
    const overAll = () => this.#chars + chars > this.#o.maxChars || this.#active.size + count > this.#o.maxAssemblies;
    for (const [key, assembly] of this.#active) {
      if (!over()) break;
      if (assembly.from !== from || key === keep) continue;
      this.#remove(key, assembly);
      this.#o.onDrop(assembly.tags, "evicted");
    }
    // Over the bound for all senders: the sender holding the most unfinished payloads gives up its oldest (the sender
    // of this part first among equals), so senders who each stay within their own bound cannot push out another's.
    while (overAll()) {
      let victim: [string, Assembly<T>] | undefined;
      let most = -1;
      for (const entry of this.#active) {
        if (entry[0] === keep) continue;
        const holds = this.#peer(entry[1].from).count + (entry[1].from === from ? 0.5 : 0);
        if (holds > most) [victim, most] = [entry, holds];
      }
      if (!victim) break;
      this.#remove(victim[0], victim[1]);
      this.#o.onDrop(victim[1].tags, "evicted");
    }
  }

  #peer(from: string): { count: number; chars: number } {
    let peer = this.#perPeer.get(from);
    if (!peer) this.#perPeer.set(from, peer = { count: 0, chars: 0 });
    return peer;
  }

  #remove(key: string, assembly: Assembly<T>): void {
    this.#active.delete(key);
    const peer = this.#peer(assembly.from);
    peer.count--;
    peer.chars -= assembly.chars;
    this.#chars -= assembly.chars;
    if (peer.count === 0) this.#perPeer.delete(assembly.from);
  }
}
