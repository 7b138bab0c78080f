/**
 * A discrete-event simulation of a Parley room for the courier's property
 * test: a fake clock and timers, a simulated server (room log with seq and
 * epoch, `accepted`, presence and roster with members, resume with backlog
 * after `since`, log resets), simulated DataChannels, and faulty paths that
 * drop, duplicate, reorder and delay transport messages (parts included),
 * flap, and reload peers (each courier rebuilt from its store).
 *
 * Schedules also bring: a second tab of one member (two couriers sharing a
 * store and a key), a hostile member (forged authors, future times, a maxed
 * clock counter, huge counts, part floods, garbage, re-used ids), stores whose writes
 * throw or that go non-durable for a while, and messages far larger than a
 * frame. One seed gives one schedule; the same seed replays it exactly.
 * @module
 */
import {
  Courier,
  type DirectLink,
  type MessageSigner,
  type Packet,
  type PayloadCodec,
  plainCodec,
} from "../../../lib/client/courier/mod.ts";
import type { TimerId, Timers } from "../../../lib/client/timer_set.ts";
import { MAX_FRAME_BYTES, utf8Length } from "../../../lib/protocol/validate.ts";
import { Prng } from "../../support/prng.ts";
import { FaultyStore } from "./faulty_store.ts";
import { type Attack, ATTACKS, craft } from "./hostile.ts";
import { cachedVerify, pooledMember } from "./signers.ts";
import { mixedBody, worstBody } from "./texts.ts";

const ROOM = "simroomsimroomsimroom0";
/** Latency of control frames (welcome, presence): reliable and in order, as on one TCP connection. */
const CONTROL_MS = 1;
/** How long after healing the simulation may run before it counts as not quiescent. */
const QUIESCENCE_LIMIT_MS = 600_000;
/** A dropped session can resume this long; then its peer has left (longer than any outage of a schedule). */
const RESUME_WINDOW_MS = 60_000;
/** How long the server holds an `accepted` back for an ack to carry it (it does so for half the frames). */
const ACCEPT_HOLD_MS = 500;

/** How a path mistreats transport messages. */
interface Faults {
  drop: number;
  dup: number;
  minDelay: number;
  maxDelay: number;
}

/** Knobs of one simulated run. */
export interface SimOptions {
  /** The seed of the schedule. */
  seed: number;
  /** Courier re-send interval; Infinity disables the timer (mutation check). */
  resendIntervalMs?: number;
  /** Whether couriers re-send on path changes (mutation check turns it off). */
  resendOnPathChange?: boolean;
  /** Receives a line per simulated happening, to debug a failing seed. */
  trace?: (line: string) => void;
}

/** What a run found. */
export interface SimResult {
  /** The seed, for replay. */
  seed: number;
  /** Property violations; empty when the run passed. */
  problems: string[];
  /** Sessions (tabs) in the room. */
  peers: number;
  /** Messages written. */
  messages: number;
  /** Simulated events processed. */
  events: number;
  /** Simulated time at quiescence, ms. */
  simMs: number;
  /** Sum of courier re-sends over all peers and reloads. */
  resent: number;
  /** Duplicates dropped over all peers. */
  duplicates: number;
  /** What the schedule did, to show the test is not vacuous. */
  faults: FaultTally;
}

/** Counts of the faults a schedule injected. */
export interface FaultTally {
  /** Transport messages dropped. */
  dropped: number;
  /** Transport messages delivered twice. */
  duplicated: number;
  /** Relay disconnections. */
  relayDrops: number;
  /** DataChannels opened. */
  linkOpens: number;
  /** DataChannels closed. */
  linkCloses: number;
  /** Peers reloaded from their store. */
  reloads: number;
  /** Peers that left for good. */
  leaves: number;
  /** Sessions that expired into a new peer id. */
  expiries: number;
  /** Second tabs of a member (sharing store and key). */
  secondTabs: number;
  /** Hostile injections. */
  attacks: number;
  /** Payloads, packets or messages refused by honest couriers. */
  refusals: number;
  /** Store writes that threw. */
  storeFailures: number;
  /** Stretches where a store was not durable. */
  volatileStretches: number;
  /** Messages larger than one frame. */
  bigMessages: number;
  /** Transport messages that were parts of a split payload. */
  parts: number;
  /** Room log resets (new epoch). */
  logResets: number;
}

/** A tally with every count at zero. */
export function emptyFaultTally(): FaultTally {
  return {
    dropped: 0,
    duplicated: 0,
    relayDrops: 0,
    linkOpens: 0,
    linkCloses: 0,
    reloads: 0,
    leaves: 0,
    expiries: 0,
    secondTabs: 0,
    attacks: 0,
    refusals: 0,
    storeFailures: 0,
    volatileStretches: 0,
    bigMessages: 0,
    parts: 0,
    logResets: 0,
  };
}

/** A binary min-heap of events by (time, insertion order). */
class Agenda {
  #heap: { t: number; seq: number; fn: () => unknown }[] = [];
  #seq = 0;
  #cancelled = new Set<number>();
  now = 0;

  get size(): number {
    return this.#heap.length;
  }

  at(t: number, fn: () => unknown): number {
    const item = { t: Math.max(t, this.now), seq: ++this.#seq, fn };
    const heap = this.#heap;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
    return item.seq;
  }

  cancel(seq: number): void {
    this.#cancelled.add(seq);
  }

  pop(): { t: number; fn: () => unknown } | undefined {
    const heap = this.#heap;
    while (heap.length) {
      const top = heap[0];
      const last = heap.pop()!;
      if (heap.length) {
        heap[0] = last;
        let i = 0;
        for (;;) {
          const l = 2 * i + 1;
          const r = l + 1;
          let m = i;
          if (l < heap.length && before(heap[l], heap[m])) m = l;
          if (r < heap.length && before(heap[r], heap[m])) m = r;
          if (m === i) break;
          [heap[i], heap[m]] = [heap[m], heap[i]];
          i = m;
        }
      }
      if (this.#cancelled.delete(top.seq)) continue;
      this.now = top.t;
      return top;
    }
    return undefined;
  }
}

function before(a: { t: number; seq: number }, b: { t: number; seq: number }): boolean {
  return a.t < b.t || (a.t === b.t && a.seq < b.seq);
}

interface LogEntry {
  seq: number;
  from: string;
  id: string;
  to?: string;
  data: string;
}

interface ServerPeer {
  token: string;
  online: boolean;
  client: SimPeer | null;
  epoch: number;
  member: string;
}

/** One simulated tab: a store that survives reloads (shared with a sibling tab), and the courier of the moment. */
class SimPeer {
  readonly index: number;
  readonly store: FaultyStore;
  readonly signer: MessageSigner;
  readonly tab: string;
  readonly hostile: boolean;
  /** Another tab of the same member, sharing store and key. */
  sibling: SimPeer | undefined;
  courier: Courier | null = null;
  peerId: string | undefined;
  token: string | undefined;
  relay: "down" | "connecting" | "up" = "down";
  epoch = 0;
  joined = false;
  reloading = false;
  /** Said `bye`: gone for good. */
  left = false;
  /** Times each message id was handed to the UI as new, over all courier instances. */
  readonly shown = new Map<string, number>();
  /** Messages shown and then forgotten by a reload before their store write succeeded. */
  readonly repeatable = new Set<string>();
  readonly errors: string[] = [];
  resent = 0;
  duplicates = 0;
  rejected = 0;

  constructor(index: number, store: FaultyStore, signer: MessageSigner, hostile: boolean) {
    this.index = index;
    this.store = store;
    this.signer = signer;
    this.tab = "t" + index;
    this.hostile = hostile;
  }

  get member(): string {
    return this.signer.member;
  }

  /** Moves the counters of the courier of the moment into the totals. */
  bank(): void {
    if (!this.courier) return;
    this.resent += this.courier.counters.resent;
    this.duplicates += this.courier.counters.duplicates;
    this.rejected += this.courier.counters.rejected;
  }
}

/** Runs one seeded schedule to quiescence and checks the courier's properties. */
export async function simulate(options: SimOptions): Promise<SimResult> {
  const rng = new Prng(options.seed);
  const agenda = new Agenda();
  const timers: Timers = {
    setTimeout: (fn, ms) => agenda.at(agenda.now + ms, fn) as unknown as TimerId,
    clearTimeout: (id) => agenda.cancel(id as unknown as number),
  };
  const tally = emptyFaultTally();
  const honestCount = rng.chance(0.5) ? 2 : 3;
  const secondTab = rng.chance(0.25);
  const hostileOn = rng.chance(0.25);
  const storeFaults = rng.chance(0.25);
  const bigOn = rng.chance(0.25);
  const chaosMs = rng.int(8_000, 25_000);
  const makeFaults = (): Faults => {
    const minDelay = CONTROL_MS + 1 + rng.int(0, 20);
    return {
      drop: rng.chance(0.2) ? 0 : rng.between(0, 0.35),
      dup: rng.chance(0.3) ? 0 : rng.between(0, 0.2),
      minDelay,
      maxDelay: minDelay + rng.int(0, 600),
    };
  };
  let relayFaults = makeFaults();
  let directFaults = makeFaults();
  let healed = false;
  // Courier knobs varied per schedule: async payload codec (like WebCrypto), small bursts, small history batches.
  const asyncCodec = rng.chance(0.3);
  const resendBurst = rng.chance(0.3) ? rng.int(1, 3) : undefined;
  const historyBatchBytes = rng.chance(0.3) ? rng.int(1, 400) : undefined;
  // Half the worlds coalesce acks (a burst waits and goes together), half send each at once.
  const ackCoalesceMs = rng.chance(0.5) ? rng.int(1, 200) : 0;
  // Like the real cipher, payloads are bound to their sender: decoding as coming from anyone else fails.
  const seal = (packet: unknown, sender: string) =>
    plainCodec.encode({ sender, packet } as unknown as Packet, "") as string;
  const open = (payload: string, from: string) => {
    const { sender, packet } = plainCodec.decode(payload, from) as { sender: string; packet: Packet };
    if (sender !== from) throw new Error(`payload sealed by ${sender} arrived from ${from}`);
    return packet;
  };
  const codec: PayloadCodec = asyncCodec
    ? {
      encode: (packet, sender) => Promise.resolve(seal(packet, sender)),
      decode: (payload, from) => Promise.resolve(open(payload, from)),
    }
    : { encode: seal, decode: open };

  // ---- members, tabs and stores ---------------------------------------------------
  const verified = new Map<string, Promise<boolean>>();
  const peers: SimPeer[] = [];
  const addPeer = async (member: number, hostile: boolean, share?: SimPeer) => {
    const signer = share?.signer ?? cachedVerify(await pooledMember(ROOM, member), verified);
    const peer = new SimPeer(peers.length, share?.store ?? new FaultyStore(), signer, hostile);
    if (share) {
      peer.sibling = share;
      share.sibling = peer;
      tally.secondTabs++;
    }
    peers.push(peer);
    return peer;
  };
  for (let i = 0; i < honestCount; i++) await addPeer(i, false);
  if (secondTab) await addPeer(0, false, peers[0]);
  const hostile = hostileOn ? await addPeer(7, true) : undefined;
  const hostileIds = new Set<string>();
  if (storeFaults) {
    const rate = rng.between(0.05, 0.3);
    for (const peer of peers) if (!peer.hostile) peer.store.failWrite = () => !healed && rng.chance(rate);
  }

  const trace = options.trace;
  const say = (line: string) => trace?.(`${agenda.now.toFixed(0).padStart(6)} ${line}`);
  const what = (payload: string) => {
    if (!trace) return "";
    if (payload.startsWith("_")) return `part ${payload.slice(1, 12)} ${payload.slice(12, 16)}`;
    if (payload.startsWith("a")) return `plain ack ${payload.slice(1, 200)}`;
    let packet: Record<string, unknown>;
    try {
      packet = (plainCodec.decode(payload, "") as { packet: Record<string, unknown> }).packet;
    } catch {
      return "garbage";
    }
    const m = packet.m as { id: string } | undefined;
    const ms = packet.ms as { id: string }[] | undefined;
    const ids = packet.ids as string[] | undefined;
    return `${packet.t} ${m?.id ?? ""}${ms ? ms.slice(0, 20).map((x) => x?.id).join(",") : ""}${
      ids ? ids.slice(0, 20).join(",") : ""
    }${packet.have ? " have " + JSON.stringify(packet.have).slice(0, 200) : ""}`;
  };
  let events = 0;
  const problems: string[] = [];

  /** Checks the frame a transport message makes against the server's limit. */
  const measure = (frame: string, payload: string) => {
    if (payload.startsWith("_")) tally.parts++;
    const bytes = utf8Length(frame);
    if (bytes > MAX_FRAME_BYTES) problems.push(`a frame of ${bytes} bytes would be closed with 1009`);
  };

  /** Schedules `fn` per the path's faults: maybe dropped, maybe twice, after a random delay (so reordered). */
  const carry = (faults: Faults, fn: () => void) => {
    if (rng.chance(faults.drop)) {
      tally.dropped++;
      return;
    }
    const copies = rng.chance(faults.dup) ? 2 : 1;
    if (copies === 2) tally.duplicated++;
    for (let i = 0; i < copies; i++) agenda.at(agenda.now + rng.between(faults.minDelay, faults.maxDelay), fn);
  };

  // ---- server ---------------------------------------------------------------
  let log: LogEntry[] = [];
  let nextSeq = 1;
  let logEpoch = "e0";
  const sessions = new Map<string, string>();
  const serverPeers = new Map<string, ServerPeer>();
  let nextPeer = 0;

  const control = (peer: SimPeer, epoch: number, fn: () => void) => {
    agenda.at(agenda.now + CONTROL_MS, () => {
      if (peer.epoch === epoch && peer.relay !== "down") fn();
    });
  };
  const toClient = (peer: SimPeer, epoch: number, fn: (courier: Courier) => void) => {
    carry(relayFaults, () => {
      if (peer.epoch === epoch && peer.relay === "up" && peer.courier) fn(peer.courier);
    });
  };
  const announce = (id: string, state: "joined" | "online" | "away" | "left", member: string) => {
    for (const [other, entry] of serverPeers) {
      if (other === id || !entry.online || !entry.client) continue;
      const client = entry.client;
      control(client, entry.epoch, () => {
        say(`${client.index} presence ${id} ${state}`);
        client.courier?.presence(id, state, member);
      });
    }
  };
  const serverHello = (
    peer: SimPeer,
    epoch: number,
    token: string | undefined,
    since: number,
    clientEpoch: string | undefined,
  ) => {
    let id = token === undefined ? undefined : sessions.get(token);
    if (id !== undefined && !healed && rng.chance(0.1)) {
      // The session expired while the peer was away: its old identity leaves, and it joins as a new peer.
      say(`${peer.index} session of ${id} expired`);
      tally.expiries++;
      sessions.delete(token!);
      serverPeers.delete(id);
      announce(id, "left", peer.member);
      for (const other of peers) if (other !== peer) closeLink(peer, other);
      id = undefined;
    }
    const resumed = id !== undefined;
    if (!resumed) {
      id = "peer" + ++nextPeer;
      token = "token" + nextPeer;
      sessions.set(token, id);
      if (peer.hostile) hostileIds.add(id);
    }
    const entry: ServerPeer = { token: token!, online: true, client: peer, epoch, member: peer.member };
    serverPeers.set(id!, entry);
    announce(id!, resumed ? "online" : "joined", peer.member);
    const roster = [...serverPeers].filter(([other]) => other !== id).map(([other, e]) => ({
      id: other,
      presence: e.online ? "online" as const : "away" as const,
      member: e.member,
    }));
    const last = nextSeq - 1;
    // A new epoch: the log started over, so serve it from its start; beyond the end: from the end.
    const after = clientEpoch !== undefined && clientEpoch !== logEpoch ? 0 : Math.min(since, last);
    const bounds = { first: log[0]?.seq ?? nextSeq, last, epoch: logEpoch };
    const peerId = id!;
    const sessionToken = token!;
    control(peer, epoch, () => {
      // A new identity: channels built for the old one go (as the shell rebuilds its peer links).
      if (peer.peerId !== peerId) { for (const other of peers) if (other !== peer) closeLink(peer, other); }
      peer.relay = "up";
      peer.peerId = peerId;
      peer.token = sessionToken;
      peer.joined = true;
      say(
        `${peer.index} welcome as ${peerId} since ${since}/${clientEpoch} log ${JSON.stringify(bounds)} roster ${
          JSON.stringify(roster)
        }`,
      );
      peer.courier!.relayUp({ peer: peerId, peers: roster, log: bounds });
    });
    for (const item of log) {
      if (item.seq <= after) continue;
      if (item.to !== undefined && item.to !== peerId && item.from !== peerId) continue;
      const frame = { from: item.from, id: item.id, data: item.data, seq: item.seq };
      toClient(peer, epoch, (courier) => {
        say(`${peer.index} backlog chat ${frame.seq} from ${frame.from}: ${what(frame.data)}`);
        courier.receiveChat(frame);
      });
    }
  };
  /** `accepted` held back for an ack to carry, by sender and id: [seq, the sender's socket epoch]. */
  const heldAccepted = new Map<string, [number, number]>();
  /** The hub's `#chat`: logged, `accepted` to the sender, relayed live to the room, to `to`, or (`p2p`) to nobody. */
  const serverChat = (from: string, id: string, to: string | undefined, data: string, p2p: boolean) => {
    const entry = serverPeers.get(from)!;
    const seq = nextSeq++;
    log.push({ seq, from, id, to, data });
    const sender = entry.client!;
    const epoch = entry.epoch;
    if (rng.chance(0.5)) {
      const key = from + " " + id;
      heldAccepted.set(key, [seq, epoch]);
      agenda.at(agenda.now + ACCEPT_HOLD_MS, () => {
        if (heldAccepted.get(key)?.[0] !== seq) return;
        heldAccepted.delete(key);
        toClient(sender, epoch, (courier) => courier.accepted(id, seq));
      });
    } else {
      toClient(sender, epoch, (courier) => courier.accepted(id, seq));
    }
    for (const [other, target] of serverPeers) {
      if (p2p || other === from || !target.online || !target.client) continue;
      if (to !== undefined && to !== other) continue;
      const client = target.client;
      toClient(client, target.epoch, (courier) => {
        say(`${client.index} chat ${seq} from ${from}: ${what(data)}`);
        courier.receiveChat({ from, id, data, seq });
      });
    }
  };
  const serverSignal = (from: string, to: string, data: string) => {
    const target = serverPeers.get(to);
    if (!target?.online || !target.client) return;
    const client = target.client;
    toClient(client, target.epoch, (courier) => {
      say(`${client.index} signal from ${from}: ${what(data)}`);
      courier.receiveSignal(from, data);
    });
  };
  const serverAck = (from: string, to: string, ids: string[], volatile: boolean) => {
    const target = serverPeers.get(to);
    if (!target?.online || !target.client) return;
    const client = target.client;
    // The sender's held `accepted` of these ids rides on the ack (only for its current socket).
    const acc = ids.map((id) => {
      const held = heldAccepted.get(to + " " + id);
      if (!held || held[1] !== target.epoch) return 0;
      heldAccepted.delete(to + " " + id);
      return held[0];
    });
    toClient(client, target.epoch, (courier) => {
      say(`${client.index} ack from ${from}: ${ids.join(",")}${volatile ? " volatile" : ""} acc ${acc.join(",")}`);
      ids.forEach((id, i) => acc[i] > 0 && courier.accepted(id, acc[i]));
      courier.receiveAck(from, ids, volatile);
    });
  };
  const serverDrop = (peer: SimPeer) => {
    for (const [id, entry] of serverPeers) {
      if (entry.client !== peer || !entry.online) continue;
      entry.online = false;
      entry.client = null;
      announce(id, "away", entry.member);
      const epoch = entry.epoch;
      agenda.at(agenda.now + RESUME_WINDOW_MS, () => {
        if (serverPeers.get(id) !== entry || entry.online || entry.epoch !== epoch) return;
        serverPeers.delete(id);
        sessions.delete(entry.token);
        announce(id, "left", entry.member);
      });
    }
  };

  // ---- clients ----------------------------------------------------------------
  const fromClient = (peer: SimPeer, fn: (id: string) => void) => {
    const epoch = peer.epoch;
    const id = peer.peerId!;
    carry(relayFaults, () => {
      const entry = serverPeers.get(id);
      if (peer.epoch === epoch && entry?.online && entry.client === peer && entry.epoch === epoch) fn(id);
    });
  };

  const connect = (peer: SimPeer) => {
    if (peer.relay !== "down" || peer.reloading || peer.left) return;
    peer.epoch++;
    peer.relay = "connecting";
    const epoch = peer.epoch;
    const since = peer.courier!.since;
    const clientEpoch = peer.courier!.epoch;
    const token = peer.token;
    agenda.at(agenda.now + CONTROL_MS, () => {
      if (peer.epoch === epoch) serverHello(peer, epoch, token, since, clientEpoch);
    });
  };
  const disconnect = (peer: SimPeer) => {
    if (peer.relay === "down") return;
    const wasUp = peer.relay === "up";
    tally.relayDrops++;
    say(`${peer.index} relay down`);
    peer.epoch++;
    peer.relay = "down";
    if (wasUp) peer.courier?.relayDown();
    serverDrop(peer);
  };

  // DataChannels, one per pair.
  const pairs = new Map<string, { open: boolean; epoch: number }>();
  const pairOf = (a: SimPeer, b: SimPeer) => {
    const key = Math.min(a.index, b.index) + "-" + Math.max(a.index, b.index);
    let pair = pairs.get(key);
    if (!pair) pairs.set(key, pair = { open: false, epoch: 0 });
    return pair;
  };
  const directTo = (from: SimPeer, to: SimPeer, payload: string): boolean => {
    const pair = pairOf(from, to);
    if (!pair.open) return false;
    const epoch = pair.epoch;
    const fromId = from.peerId!;
    carry(directFaults, () => {
      if (!pair.open || pair.epoch !== epoch) return;
      say(`${to.index} direct from ${fromId}: ${what(payload)}`);
      to.courier?.receiveDirect(fromId, payload);
    });
    return true;
  };
  const linkFor = (from: SimPeer, to: SimPeer, epoch: number): DirectLink => {
    const pair = pairOf(from, to);
    return {
      send(payload) {
        if (!pair.open || pair.epoch !== epoch) return false;
        measure(payload, payload);
        return directTo(from, to, payload);
      },
    };
  };
  const openLink = (a: SimPeer, b: SimPeer) => {
    const pair = pairOf(a, b);
    if (pair.open || !a.courier || !b.courier || a.reloading || b.reloading || !a.peerId || !b.peerId) return;
    if (a.left || b.left) return;
    if (!a.joined || !b.joined) return;
    pair.open = true;
    tally.linkOpens++;
    const epoch = ++pair.epoch;
    say(`link ${a.index}-${b.index} open`);
    a.courier.linkOpened(b.peerId, linkFor(a, b, epoch));
    b.courier.linkOpened(a.peerId, linkFor(b, a, epoch));
  };
  const closeLink = (a: SimPeer, b: SimPeer) => {
    const pair = pairOf(a, b);
    if (!pair.open) return;
    pair.open = false;
    pair.epoch++;
    tally.linkCloses++;
    say(`link ${a.index}-${b.index} closed`);
    a.courier?.linkClosed(b.peerId!);
    b.courier?.linkClosed(a.peerId!);
  };

  const build = async (peer: SimPeer) => {
    const courier = await Courier.load({
      room: ROOM,
      store: peer.store,
      signer: peer.signer,
      tab: peer.tab,
      codec,
      resendBurst,
      historyBatchBytes,
      timing: { resendIntervalMs: options.resendIntervalMs ?? 1_000, ackCoalesceMs },
      resendOnPathChange: options.resendOnPathChange ?? true,
      now: () => agenda.now,
      timers,
      randomBytes: (count) => rng.bytes(count),
      relay: {
        sendChat(id, to, payload, p2p) {
          if (peer.relay !== "up") return;
          const frame = to ? { type: "chat", id, to, data: payload } : { type: "chat", id, data: payload };
          measure(JSON.stringify(p2p ? { ...frame, p2p: true } : frame), payload);
          fromClient(peer, (from) => serverChat(from, id, to, payload, p2p === true));
        },
        sendSignal(to, payload) {
          if (peer.relay !== "up") return;
          measure(JSON.stringify({ type: "signal", to, data: { k: "courier", p: payload } }), payload);
          fromClient(peer, (from) => serverSignal(from, to, payload));
        },
        sendAck(to, ids, volatile) {
          if (peer.relay !== "up") return;
          fromClient(peer, (from) => serverAck(from, to, ids, volatile));
        },
      },
    });
    courier.subscribe((event) => {
      if (event.type === "received") peer.shown.set(event.message.id, (peer.shown.get(event.message.id) ?? 0) + 1);
      else if (event.type === "error") peer.errors.push(`${event.context}: ${event.error}`);
      else if (event.type === "rejected" && !hostileIds.has(event.from)) {
        peer.errors.push(`rejected from ${event.from}: ${event.reason} ${event.detail ?? ""}`);
      }
    });
    peer.courier = courier;
  };

  const leave = (peer: SimPeer) => {
    if (!peer.joined || peer.left || !peer.courier) return;
    for (const other of peers) if (other !== peer) closeLink(peer, other);
    const id = peer.peerId!;
    disconnect(peer);
    const entry = serverPeers.get(id);
    if (entry) {
      serverPeers.delete(id);
      sessions.delete(entry.token);
      announce(id, "left", entry.member);
    }
    tally.leaves++;
    say(`${peer.index} leaves`);
    peer.left = true;
    peer.bank();
  };

  const reload = async (peer: SimPeer) => {
    if (peer.reloading || !peer.courier || peer.left) return;
    for (const other of peers) if (other !== peer) closeLink(peer, other);
    disconnect(peer);
    tally.reloads++;
    say(`${peer.index} reloads`);
    peer.bank();
    peer.courier.close();
    peer.courier = null;
    peer.reloading = true;
    peer.joined = false;
    // A message whose store write never succeeded was never sent either: the reload forgets it.
    for (const w of written) {
      if (w.author === peer && !(await peer.store.getMessage(ROOM, w.id))) lost.add(w.id);
    }
    // One shown but not yet stored (its write failed) is shown again when it comes again.
    for (const id of peer.shown.keys()) if (!(await peer.store.getMessage(ROOM, id))) peer.repeatable.add(id);
    await build(peer);
    peer.reloading = false;
    if (!healed && rng.chance(0.3)) return; // comes back offline; a later flap or the heal reconnects it
    agenda.at(agenda.now + rng.int(10, 2_000), () => connect(peer));
  };

  // ---- the schedule -------------------------------------------------------------
  for (const peer of peers) await build(peer);
  const written: { id: string; author: SimPeer; to?: SimPeer; toId?: string }[] = [];
  /** Valid but odd messages a hostile member injected: anyone may hold them, as their author's. */
  const optional = new Map<string, string>();
  /** Messages no one may ever show. */
  const forbidden = new Set<string>();
  /** Messages a reload forgot before they were ever stored (their store writes failed). */
  const lost = new Set<string>();
  for (const peer of peers) {
    const joinAt = peer.index === 0 ? rng.int(0, 2_000) : rng.int(0, chaosMs);
    agenda.at(joinAt, () => connect(peer));
    const sends = rng.int(1, 5);
    for (let i = 0; i < sends; i++) {
      const at = rng.int(0, chaosMs);
      const big = bigOn && rng.chance(0.3);
      const body = big
        ? (rng.chance(0.2) ? worstBody(65_536) : mixedBody(rng.int(20_000, 65_536), options.seed + i))
        : `m${peer.index}.${i}`;
      if (big) tally.bigMessages++;
      agenda.at(at, async () => {
        if (peer.left || !peer.courier) return;
        // Some messages go to one peer only (a direct message), the rest to the room.
        const others = peers.filter((other) => other !== peer && other.peerId !== undefined && !other.left);
        const to = others.length && rng.chance(0.15) ? others[rng.int(0, others.length - 1)] : undefined;
        const message = await peer.courier.send(body, to?.peerId);
        written.push({ id: message.id, author: peer, to, toId: to?.peerId });
        say(`${peer.index} writes ${message.id}${to ? " to " + to.peerId : ""} (${body.length} chars)`);
      });
    }
    const flaps = rng.int(0, 4);
    for (let i = 0; i < flaps; i++) {
      const at = rng.int(0, chaosMs);
      const down = rng.int(100, 6_000);
      agenda.at(at, () => {
        if (healed || peer.relay === "down" || peer.left) return;
        disconnect(peer);
        agenda.at(agenda.now + down, () => connect(peer));
      });
    }
  }
  for (let a = 0; a < peers.length; a++) {
    for (let b = a + 1; b < peers.length; b++) {
      const toggles = rng.int(0, 6);
      for (let i = 0; i < toggles; i++) {
        agenda.at(rng.int(0, chaosMs), () => {
          if (healed) return;
          if (pairOf(peers[a], peers[b]).open) closeLink(peers[a], peers[b]);
          else openLink(peers[a], peers[b]);
        });
      }
    }
  }
  if (honestCount === 3 && rng.chance(0.3)) {
    const leaver = peers[rng.int(0, peers.length - 1)];
    agenda.at(rng.int(0, chaosMs), () => leave(leaver));
  }
  if (rng.chance(0.5)) {
    const reloads = rng.int(1, 2);
    for (let i = 0; i < reloads; i++) {
      const peer = peers[rng.int(0, peers.length - 1)];
      agenda.at(rng.int(0, chaosMs), () => reload(peer));
    }
  }
  if (rng.chance(0.2)) {
    // The server lost its room log (a new epoch) and restarted: every socket drops and comes back.
    agenda.at(rng.int(0, chaosMs), () => {
      tally.logResets++;
      log = [];
      nextSeq = 1;
      logEpoch = "e" + tally.logResets;
      say(`log reset to epoch ${logEpoch}`);
      for (const peer of peers) {
        if (peer.relay === "down" || peer.left) continue;
        disconnect(peer);
        agenda.at(agenda.now + rng.int(50, 2_000), () => connect(peer));
      }
    });
  }
  if (rng.chance(0.2)) {
    const peer = peers[rng.int(0, honestCount - 1)];
    const from = rng.int(0, chaosMs);
    const until = from + rng.int(500, 8_000);
    tally.volatileStretches++;
    agenda.at(from, () => {
      say(`${peer.index} store not durable`);
      peer.store.isDurable = false;
    });
    agenda.at(Math.min(until, chaosMs), () => {
      say(`${peer.index} store durable again`);
      peer.store.isDurable = true;
    });
  }
  if (hostile) {
    const attacks = rng.int(3, 10);
    for (let i = 0; i < attacks; i++) {
      agenda.at(rng.int(0, chaosMs), async () => {
        if (hostile.relay !== "up" || !hostile.peerId || hostile.left) return;
        const targets = peers.filter((p) => p !== hostile && p.joined && !p.left && p.peerId);
        if (!targets.length) return;
        const target = targets[rng.int(0, targets.length - 1)];
        const victim = peers[rng.int(0, honestCount - 1)];
        const kind = ATTACKS[rng.int(0, ATTACKS.length - 1)];
        const others = hostile.courier?.messages.filter((m) => m.author !== hostile.member) ?? [];
        const seen = others.length ? others[rng.int(0, others.length - 1)].id : undefined;
        const attack: Attack = await craft(kind, hostile.signer, { member: victim.member, seen }, agenda.now, rng);
        tally.attacks++;
        if (attack.valid) optional.set(attack.valid.id, attack.valid.author);
        for (const id of attack.forbidden ?? []) forbidden.add(id);
        say(`hostile ${hostile.peerId} tries ${kind} on ${target.peerId}`);
        const payloads = [...(attack.raw ?? []), ...(attack.packets ?? []).map((p) => seal(p, hostile.peerId!))];
        for (const payload of payloads) {
          // The server closes a socket sending a frame over its limit (1009): such a frame reaches nobody by relay.
          const fits = utf8Length(payload) < MAX_FRAME_BYTES - 200;
          const isMsg = (attack.packets?.[0] as { t?: string } | undefined)?.t === "msg" && !attack.raw;
          if (isMsg && fits && rng.chance(0.5)) {
            const id = (attack.packets![0] as { m: { id: string } }).m.id;
            fromClient(hostile, (from) => serverChat(from, id, undefined, payload, false));
          } else if (!directTo(hostile, target, payload) && fits) {
            fromClient(hostile, (from) => serverSignal(from, target.peerId!, payload));
          }
        }
      });
    }
  }
  agenda.at(chaosMs, () => {
    healed = true;
    say("heal");
    const calm = (f: Faults): Faults => ({ ...f, drop: 0, dup: 0 });
    relayFaults = calm(relayFaults);
    directFaults = calm(directFaults);
    for (const peer of peers) peer.store.isDurable = true;
    for (const peer of peers) connect(peer);
  });

  // ---- run to quiescence --------------------------------------------------------
  for (;;) {
    const event = agenda.pop();
    if (!event) break;
    if (event.t > chaosMs + QUIESCENCE_LIMIT_MS) {
      problems.push(`no quiescence ${QUIESCENCE_LIMIT_MS} ms after healing`);
      for (const peer of peers) problems.push(`peer ${peer.index}: ${JSON.stringify(peer.courier?.snapshot())}`);
      break;
    }
    events++;
    const out = event.fn();
    if (out instanceof Promise) await out;
    for (const peer of peers) await peer.courier?.settled();
  }

  // ---- properties -----------------------------------------------------------------
  const ids = new Set(written.map((w) => w.id));
  if (ids.size !== written.length) problems.push(`message ids collide: ${ids.size} ids for ${written.length} messages`);
  const staying = peers.filter((peer) => !peer.left);
  // A peer that left may have taken messages nobody received with it; whatever any staying peer holds must reach all.
  const expected = written.filter((w) =>
    !lost.has(w.id) && (!w.author.left || staying.some((other) => other.courier!.status(w.id) !== undefined))
  );
  for (const peer of peers) if (peer.left) peer.courier!.close();
  // A direct message to an identity that is gone (left, or session expired) cannot be delivered; at most once still holds.
  const undeliverable = (w: (typeof written)[number]) => w.to !== undefined && (w.to.left || w.to.peerId !== w.toId);
  const authorOf = new Map(written.map((w) => [w.id, w.author.member]));
  let reference: string[] | null = null;
  for (const peer of staying) {
    const courier = peer.courier!;
    const name = `peer ${peer.index} (${peer.peerId})`;
    const mine = expected.filter((w) => w.to === undefined || w.to === peer || w.author === peer);
    const shown = courier.messages.map((m) => m.id);
    const stored = (await peer.store.listMessages(ROOM)).map((m) => m.id);
    if (new Set(shown).size !== shown.length) problems.push(`${name} shows a message twice`);
    if (peer.sibling) {
      // Two tabs share the store: it holds what either tab holds.
      if (shown.some((id) => !stored.includes(id))) problems.push(`${name} shows a message its store lacks`);
    } else if (shown.join() !== stored.join()) problems.push(`${name}: store and courier disagree`);
    const missing = mine.filter((w) => !shown.includes(w.id) && !undeliverable(w));
    if (missing.length) problems.push(`${name} lacks ${missing.length} of ${mine.length} messages`);
    // A second tab shares the store, and with it the direct messages its sibling tab received or wrote.
    const sibling = (id: string) =>
      peer.sibling !== undefined &&
      written.some((w) => w.id === id && (w.to === peer.sibling || w.author === peer.sibling));
    const extra = shown.filter((id) => !mine.some((w) => w.id === id) && !optional.has(id) && !sibling(id));
    if (extra.length) problems.push(`${name} holds ${extra.length} messages it should not: ${extra.slice(0, 3)}`);
    for (const message of courier.messages) {
      if (forbidden.has(message.id)) problems.push(`${name} shows a refused message ${message.id}`);
      const author = authorOf.get(message.id) ?? optional.get(message.id);
      if (author !== undefined && message.author !== author) {
        problems.push(`${name} shows ${message.id} as written by ${message.author}, not ${author}`);
      }
      const own = message.author === peer.member;
      if (own !== (message.status !== "received")) problems.push(`${name} shows ${message.id} as ${message.status}`);
    }
    const roomOrder = courier.messages.filter((m) => m.to === undefined && !optional.has(m.id)).map((m) => m.id);
    if (reference && reference.join() !== roomOrder.join()) {
      const at = roomOrder.findIndex((id, i) => id !== reference![i]);
      const order = (id: string | undefined) => courier.messages.find((m) => m.id === id)?.order;
      problems.push(
        `${name} shows another order than the others: at ${at} ${roomOrder[at]} (${order(roomOrder[at])}) ` +
          `instead of ${reference[at]} (${order(reference[at])}), ${roomOrder.length} vs ${reference.length}`,
      );
    }
    reference ??= roomOrder;
    for (const w of mine) {
      const times = peer.shown.get(w.id) ?? 0;
      const sameMember = w.author.member === peer.member;
      // A second tab may find a message its sibling stored when it (re)loads the shared store.
      const fromStore = peer.sibling !== undefined && times === 0;
      const again = peer.repeatable.has(w.id) && times > 1;
      if (!sameMember && times !== 1 && !(undeliverable(w) && times === 0) && !fromStore && !again) {
        problems.push(`${name} was handed message ${w.id} ${times} times`);
      }
      if (sameMember && times !== 0) problems.push(`${name} was handed its own member's message ${w.id} as new`);
      if (w.author !== peer || undeliverable(w)) continue;
      const status = courier.status(w.id);
      if (status !== "delivered") problems.push(`${name}: own message ${w.id} ends "${status}"`);
      const record = await peer.store.getMessage(ROOM, w.id);
      if (record?.status !== "delivered") problems.push(`${name}: own message ${w.id} stored as "${record?.status}"`);
    }
    const outbox = [];
    for (const entry of await peer.store.listOutbox(ROOM)) {
      if (written.some((w) => w.id === entry.id && (undeliverable(w) || w.author.left))) continue;
      // A second tab that took the entry in may have written it back after the first removed it: the next load
      // drops an entry of a delivered message.
      if (peer.sibling && (await peer.store.getMessage(ROOM, entry.id))?.status === "delivered") continue;
      outbox.push(entry);
    }
    if (outbox.length) {
      const who = (id: string) => written.find((w) => w.id === id)?.author.index;
      problems.push(`${name} keeps ${outbox.length} outbox entries: ${outbox.map((e) => `${e.id} by ${who(e.id)}`)}`);
    }
    const errors = peer.errors.filter((e) => !(storeFaults && e.includes("(injected)")));
    problems.push(...errors.map((e) => `${name} error: ${e}`));
    peer.bank();
    courier.close();
  }
  for (const peer of peers) {
    tally.storeFailures += peer.store.failures;
    if (!peer.hostile) tally.refusals += peer.rejected;
  }
  return {
    seed: options.seed,
    problems,
    peers: peers.length,
    messages: written.length,
    events,
    simMs: agenda.now,
    resent: peers.reduce((sum, p) => sum + p.resent, 0),
    duplicates: peers.reduce((sum, p) => sum + p.duplicates, 0),
    faults: tally,
  };
}
