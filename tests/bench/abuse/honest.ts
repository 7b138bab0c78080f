/**
 * Honest members for the abuse bench: pairs that chat in their own rooms,
 * resume like Parley's client (token and `since`, at once after 4008 or a
 * drop), re-send what was not accepted, and measure each message's latency
 * from its first send to its arrival at the partner.
 * @module
 */
import { newRoomId } from "../../../lib/protocol/ids.ts";
import { type AdmissionMode, admit, type RoomKey, roomKey } from "./admit.ts";
import { type Frame, Wire } from "./wire.ts";

/** Options of {@linkcode runHonest}. */
export interface HonestOptions {
  /** Server port on 127.0.0.1. */
  port: number;
  /** Admission the server speaks. */
  mode: AdmissionMode;
  /** Chatting pairs, each in its own room. */
  pairs: number;
  /** Messages per second each member sends. */
  perSecond: number;
  /** How long members send, in ms. */
  durationMs: number;
  /** How long to wait after the last send for stragglers, in ms. */
  drainMs: number;
  /** The client address of member `index` (0, 1 for the first pair...), sent as `X-Forwarded-For`; default none. */
  addressOf?: (index: number) => string;
  /**
   * Messages sent in the first this many ms are delivered and checked for loss but left out of the latency
   * percentiles: the server's code is still warming up (a quiet run has no attack traffic to warm it first); default 0.
   */
  warmupMs?: number;
}

/** What the honest members saw. */
export interface HonestResult {
  /** Messages sent (distinct ids). */
  sent: number;
  /** Messages that reached the partner (distinct ids). */
  received: number;
  /** Sent but never received. */
  lost: number;
  /** Messages whose latency counts (those sent after the warm-up). */
  measured: number;
  /** Latency percentiles from first send to arrival, in ms. */
  p50Ms: number;
  /** 99th percentile, in ms. */
  p99Ms: number;
  /** Worst latency, in ms. */
  maxMs: number;
  /** Reconnects the members had to make, by close code. */
  reconnects: Record<string, number>;
}

const BODY = "h".repeat(300);

/** One honest member: a socket that comes back when it drops. */
class Member {
  readonly name: string;
  #options: HonestOptions;
  #key: RoomKey;
  #address: string | undefined;
  #wire: Wire | null = null;
  #token: string | undefined;
  #since = 0;
  #stopped = false;
  #connecting: Promise<void> | null = null;
  /** Sent and not yet accepted: re-sent after a reconnect. */
  #unaccepted = new Map<string, string>();
  #onChat: (frame: Frame) => void;
  #reconnects: Record<string, number>;

  constructor(
    name: string,
    options: HonestOptions,
    key: RoomKey,
    onChat: (frame: Frame) => void,
    reconnects: Record<string, number>,
    address?: string,
  ) {
    this.name = name;
    this.#options = options;
    this.#key = key;
    this.#address = address;
    this.#onChat = onChat;
    this.#reconnects = reconnects;
  }

  /** Connects (or reconnects) and resumes. */
  connect(create = false): Promise<void> {
    this.#connecting ??= this.#connect(create).finally(() => this.#connecting = null);
    return this.#connecting;
  }

  async #connect(create: boolean): Promise<void> {
    for (let attempt = 0; !this.#stopped; attempt++) {
      try {
        const wire = await Wire.open({ port: this.#options.port, room: this.#key.room, address: this.#address });
        const hello = this.#token === undefined ? { since: this.#since } : { token: this.#token, since: this.#since };
        const welcome = await admit(wire, this.#options.mode, this.#key, hello, create && attempt === 0);
        this.#token = welcome.token as string;
        wire.onFrame = (frame) => this.#frame(frame);
        for (const frame of wire.inbox.splice(0)) this.#frame(frame);
        this.#wire = wire;
        wire.closed.then((code) => {
          if (this.#wire !== wire || this.#stopped) return;
          this.#wire = null;
          this.#reconnects[code] = (this.#reconnects[code] ?? 0) + 1;
          void this.connect();
        });
        for (const text of this.#unaccepted.values()) wire.send(text);
        return;
      } catch {
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 50 * 2 ** attempt)));
      }
    }
  }

  /** Sends one message (kept until accepted). */
  send(id: string): void {
    const text = JSON.stringify({ type: "chat", id, data: BODY });
    this.#unaccepted.set(id, text);
    this.#wire?.send(text);
  }

  /** Stops and closes. */
  async stop(): Promise<void> {
    this.#stopped = true;
    const wire = this.#wire;
    this.#wire = null;
    if (wire) await wire.close();
  }

  #frame(frame: Frame): boolean {
    if (frame.type === "accepted") {
      this.#unaccepted.delete(frame.id as string);
    } else if (frame.type === "chat") {
      this.#since = Math.max(this.#since, frame.seq as number);
      this.#onChat(frame);
    }
    return true;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/** Runs the honest pairs for the given time and reports what they saw. */
export async function runHonest(options: HonestOptions): Promise<HonestResult> {
  const sentAt = new Map<string, number>();
  /** Ids sent during the warm-up: delivered and counted, not timed. */
  const warm = new Set<string>();
  const latencies: number[] = [];
  const received = new Set<string>();
  const reconnects: Record<string, number> = {};
  const members: Member[] = [];
  for (let p = 0; p < options.pairs; p++) {
    const key = await roomKey(newRoomId());
    for (const [i, side] of ["a", "b"].entries()) {
      const name = `p${p}${side}`;
      const member = new Member(
        name,
        options,
        key,
        (frame) => {
          const id = frame.id as string;
          if (received.has(id) || id.startsWith(name + "-")) return; // own frames come back in backlogs
          received.add(id);
          if (!warm.has(id)) latencies.push(performance.now() - sentAt.get(id)!);
        },
        reconnects,
        options.addressOf?.(2 * p + i),
      );
      await member.connect(side === "a");
      members.push(member);
    }
  }
  const interval = 1_000 / options.perSecond;
  const end = performance.now() + options.durationMs;
  const timedFrom = performance.now() + (options.warmupMs ?? 0);
  let n = 0;
  // Members take turns, spread over each interval, so sends do not come in one burst.
  while (performance.now() < end) {
    const tickStart = performance.now();
    for (const member of members) {
      const id = `${member.name}-${++n}`;
      sentAt.set(id, performance.now());
      if (performance.now() < timedFrom) warm.add(id);
      member.send(id);
      await new Promise((resolve) => setTimeout(resolve, interval / members.length));
    }
    const left = interval - (performance.now() - tickStart);
    if (left > 0) await new Promise((resolve) => setTimeout(resolve, left));
  }
  const drainEnd = performance.now() + options.drainMs;
  while (received.size < sentAt.size && performance.now() < drainEnd) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await Promise.all(members.map((member) => member.stop()));
  latencies.sort((a, b) => a - b);
  return {
    sent: sentAt.size,
    received: received.size,
    lost: sentAt.size - received.size,
    measured: sentAt.size - warm.size,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies.length ? latencies[latencies.length - 1] : NaN,
    reconnects,
  };
}
