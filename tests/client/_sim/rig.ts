/**
 * A test rig for the courier: fake time, a real signer, recording transports
 * that check every frame against the server's size limit, and a pump that
 * wires several couriers into a perfect network.
 * @module
 */
import {
  Courier,
  type CourierEvent,
  type CourierOptions,
  type DirectLink,
  type MessageSigner,
  type Packet,
  parseDirectAck,
  plainCodec,
  type WireMessage,
} from "../../../lib/client/courier/mod.ts";
import { MemoryStore } from "../../../lib/client/store_memory.ts";
import type { Store } from "../../../lib/client/store.ts";
import type { TimerId, Timers } from "../../../lib/client/timer_set.ts";
import { MAX_FRAME_BYTES, utf8Length } from "../../../lib/protocol/validate.ts";
import { newMember } from "./signers.ts";

/** The room of every rig. */
export const ROOM = "testroomtestroomtestro";
/** The rigs' re-send interval. */
export const RESEND_MS = 1_000;

/** Fake time: timers fire only when the test advances the clock. */
export class FakeTime implements Timers {
  /** Current time. */
  now = 1_700_000_000_000;
  #next = 1;
  #timers = new Map<number, { at: number; fn: () => void }>();

  /** Like `setTimeout`. */
  setTimeout(fn: () => void, ms: number): TimerId {
    const id = this.#next++;
    this.#timers.set(id, { at: this.now + ms, fn });
    return id as unknown as TimerId;
  }

  /** Like `clearTimeout`. */
  clearTimeout(id: TimerId): void {
    this.#timers.delete(id as unknown as number);
  }

  /** Timers waiting. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Moves time on, firing due timers in order. */
  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let first: [number, { at: number; fn: () => void }] | undefined;
      for (const item of this.#timers) if (item[1].at <= end && (!first || item[1].at < first[1].at)) first = item;
      if (!first) break;
      this.#timers.delete(first[0]);
      this.now = first[1].at;
      first[1].fn();
    }
    this.now = end;
  }
}

/** One transport message a rig's courier sent. */
export interface Sent {
  /** Path. */
  kind: "chat" | "signal" | "direct";
  /** Receiving session (chat: only for direct messages). */
  to?: string;
  /** Chat frame id. */
  id?: string;
  /** A chat frame only for the room log (its receivers had it over DataChannels). */
  p2p?: true;
  /** The packet, for a whole payload (undefined for a part). */
  packet?: Packet;
  /** The transport message. */
  payload: string;
}

/** Decodes a whole plain payload (or a plain ack of a DataChannel); undefined for a part. */
export function decode(payload: string): Packet | undefined {
  if (payload.startsWith("_")) return undefined;
  const ack = parseDirectAck(payload);
  if (ack) return ack.volatile ? { t: "ack", ids: ack.ids, volatile: true } : { t: "ack", ids: ack.ids };
  return plainCodec.decode(payload, "") as Packet;
}

/** A plain payload of a packet (as a peer would send it). */
export function payloadOf(packet: Packet | Record<string, unknown>): string {
  return plainCodec.encode(packet as Packet, "") as string;
}

/** The frame text the shell would send for a transport message. */
export function frameOf(sent: Sent): string {
  if (sent.kind === "chat") {
    return JSON.stringify(
      sent.to === undefined
        ? { type: "chat", id: sent.id, data: sent.payload }
        : { type: "chat", id: sent.id, to: sent.to, data: sent.payload },
    );
  }
  if (sent.kind === "signal") {
    return JSON.stringify({ type: "signal", to: sent.to, data: { k: "courier", p: sent.payload } });
  }
  return sent.payload;
}

/** Options of a rig. */
export interface RigOptions {
  /** Shared fake time. */
  time?: FakeTime;
  /** The store (shared by two tabs of one member). */
  store?: Store;
  /** The member (shared by two tabs). */
  signer?: MessageSigner;
  /** Courier option overrides. */
  extra?: Partial<CourierOptions>;
}

/** A courier with recording transports. */
export class Rig {
  /** The store. */
  readonly store: Store;
  /** Time. */
  readonly time: FakeTime;
  /** The member. */
  readonly signer: MessageSigner;
  /** Everything sent and not yet taken. */
  readonly sent: Sent[] = [];
  /** Frames that would have been over the server's limit. */
  readonly oversize: number[] = [];
  /** Every event. */
  readonly events: CourierEvent[] = [];
  /** The courier (after {@link load}). */
  courier!: Courier;
  /** Its options. */
  options: CourierOptions;

  private constructor(time: FakeTime, store: Store, signer: MessageSigner, extra: Partial<CourierOptions>) {
    this.time = time;
    this.store = store;
    this.signer = signer;
    let counter = 0;
    const record = (sent: Sent) => {
      const bytes = utf8Length(frameOf(sent));
      if (bytes > MAX_FRAME_BYTES) this.oversize.push(bytes);
      this.sent.push(sent);
    };
    this.options = {
      room: ROOM,
      store,
      signer,
      codec: plainCodec,
      timing: { resendIntervalMs: RESEND_MS },
      now: () => time.now,
      timers: time,
      randomBytes: (count) => {
        const bytes = new Uint8Array(count);
        bytes[0] = ++counter;
        bytes[1] = Math.floor(Math.random() * 256);
        bytes[2] = Math.floor(Math.random() * 256);
        bytes[3] = Math.floor(Math.random() * 256);
        return bytes;
      },
      relay: {
        sendChat: (id, to, payload, p2p) =>
          record({ kind: "chat", id, to, payload, packet: decode(payload), ...p2p ? { p2p: true } : {} }),
        sendSignal: (to, payload) => record({ kind: "signal", to, payload, packet: decode(payload) }),
      },
      ...extra,
    };
  }

  /** A rig with a new member (or the given one). */
  static async create(options: RigOptions = {}): Promise<Rig> {
    const signer = options.signer ?? await newMember(ROOM);
    return new Rig(options.time ?? new FakeTime(), options.store ?? new MemoryStore(), signer, options.extra ?? {});
  }

  /** The member id. */
  get member(): string {
    return this.signer.member;
  }

  /** Loads (or reloads) the courier from the store. */
  async load(): Promise<Courier> {
    this.courier = await Courier.load(this.options);
    this.courier.subscribe((event) => this.events.push(event));
    return this.courier;
  }

  /** A link that records what goes over it; `open` false makes `send` refuse. */
  link(peer: string): DirectLink & { open: boolean } {
    const link = {
      open: true,
      send: (payload: string) => {
        if (!link.open) return false;
        const sent: Sent = { kind: "direct", to: peer, payload, packet: decode(payload) };
        if (utf8Length(payload) > MAX_FRAME_BYTES) this.oversize.push(utf8Length(payload));
        this.sent.push(sent);
        return true;
      },
    };
    return link;
  }

  /** Takes what was sent so far. */
  take(): Sent[] {
    return this.sent.splice(0);
  }

  /** Waits for every async step. */
  async settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await this.courier.settled();
  }

  /** Refusals seen, by reason. */
  rejections(): string[] {
    return this.events.flatMap((e) => e.type === "rejected" ? [e.reason] : []);
  }

  /** Errors seen. */
  errors(): string[] {
    return this.events.flatMap((e) => e.type === "error" ? [`${e.context}: ${e.error}`] : []);
  }
}

/** The msg packets among sent messages. */
export function msgs(sent: Sent[]): Sent[] {
  return sent.filter((s) => s.packet?.t === "msg");
}

/** A message's fields without its signature, to compare with expectations. */
export function unsigned(m: WireMessage): Omit<WireMessage, "pk" | "sig"> {
  const { pk: _pk, sig: _sig, ...rest } = m;
  return rest;
}

let logSeq = 0;

/** Wires couriers to each other through their recorded sends, delivering everything (a perfect network). */
export async function pump(rigs: Record<string, Rig>, rounds = 40): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    let moved = false;
    for (const [name, rig] of Object.entries(rigs)) {
      await rig.settle();
      for (const sent of rig.take()) {
        moved = true;
        const targets = sent.to !== undefined ? [sent.to] : Object.keys(rigs).filter((other) => other !== name);
        const seq = sent.kind === "chat" ? ++logSeq + 1_000 : 0;
        for (const target of targets) {
          const receiver = rigs[target]?.courier;
          if (!receiver) continue;
          if (sent.kind === "chat") receiver.receiveChat({ from: name, id: sent.id!, seq, data: sent.payload });
          else if (sent.kind === "signal") receiver.receiveSignal(name, sent.payload);
          else receiver.receiveDirect(name, sent.payload);
        }
      }
    }
    if (!moved) return;
  }
}

/** Two loaded rigs, ann and bob, on one clock, each on the relay with the other online, their joining exchanged. */
export async function relayedPair(time: FakeTime): Promise<{ rigs: { ann: Rig; bob: Rig }; ann: Rig; bob: Rig }> {
  const rigs = { ann: await Rig.create({ time }), bob: await Rig.create({ time }) };
  for (const rig of Object.values(rigs)) await rig.load();
  const { ann, bob } = rigs;
  ann.courier.relayUp({ peer: "ann", peers: [rosterOf("bob", bob)] });
  bob.courier.relayUp({ peer: "bob", peers: [rosterOf("ann", ann)] });
  await pump(rigs);
  return { rigs, ann, bob };
}

/** The roster entry of a rig as peer `id`. */
export function rosterOf(id: string, rig: Rig, presence: "online" | "away" = "online") {
  return { id, presence, member: rig.member };
}
