/**
 * A discrete-event simulation of a Parley room for the courier's property
 * test: a fake clock and timers, a simulated server (room log with seq,
 * `accepted`, presence and roster, resume with backlog after `since`),
 * simulated DataChannels, and faulty paths that drop, duplicate, reorder and
 * delay frames, flap, and reload peers (each courier rebuilt from its store).
 * One seed gives one schedule; the same seed replays it exactly.
 * @module
 */
import { Courier, type DirectLink, type Packet, type PayloadCodec, plainCodec } from "../../../lib/client/courier.ts";
import { MemoryStore } from "../../../lib/client/store_memory.ts";
import type { TimerId, Timers } from "../../../lib/client/timer_set.ts";
import { Prng } from "../../support/prng.ts";

const ROOM = "simroomsimroomsimroom0";
/** Latency of control frames (welcome, presence): reliable and in order, as on one TCP connection. */
const CONTROL_MS = 1;
/** How long after healing the simulation may run before it counts as not quiescent. */
const QUIESCENCE_LIMIT_MS = 600_000;
/** A dropped session can resume this long; then its peer has left (longer than any outage of a schedule). */
const RESUME_WINDOW_MS = 60_000;

/** How a path mistreats frames. */
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
  /** Peers in the room. */
  peers: number;
  /** Messages written. */
  messages: number;
  /** Simulated events processed. */
  events: number;
  /** Simulated time at quiescence, ms. */
  simMs: number;
  /** Sum of courier counters over all peers and reloads. */
  resent: number;
  /** Duplicates dropped over all peers. */
  duplicates: number;
  /** What the schedule did to the paths, to show the test is not vacuous. */
  faults: FaultTally;
}

/** Counts of the faults a schedule injected. */
export interface FaultTally {
  /** Frames dropped. */
  dropped: number;
  /** Frames delivered twice. */
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
}

/** One simulated peer: a store that survives reloads, and the courier of the moment. */
class SimPeer {
  readonly index: number;
  readonly store = new MemoryStore();
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
  readonly errors: string[] = [];
  resent = 0;
  duplicates = 0;

  constructor(index: number) {
    this.index = index;
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
  const peerCount = rng.chance(0.5) ? 2 : 3;
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
  const historyBatchChars = rng.chance(0.3) ? rng.int(1, 400) : undefined;
  // Like the real cipher, payloads are bound to their sender: decoding as coming from anyone else fails.
  const seal = (packet: Packet, sender: string) =>
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

  const peers = Array.from({ length: peerCount }, (_, i) => new SimPeer(i));
  const trace = options.trace;
  const say = (line: string) => trace?.(`${agenda.now.toFixed(0).padStart(6)} ${line}`);
  const what = (payload: string) => {
    if (!trace) return "";
    const packet = (plainCodec.decode(payload, "") as { packet: Record<string, unknown> }).packet;
    const m = packet.m as { id: string } | undefined;
    const ms = packet.ms as { id: string }[] | undefined;
    return `${packet.t} ${m?.id ?? ""}${ms ? ms.map((x) => x.id).join(",") : ""}${
      packet.ids ? (packet.ids as string[]).join(",") : ""
    }${packet.have ? " have " + JSON.stringify(packet.have) : ""}`;
  };
  let events = 0;

  /** Schedules `fn` per the path's faults: maybe dropped, maybe twice, after a random delay. */
  const tally = emptyFaultTally();
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
  const log: LogEntry[] = [];
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
  const announce = (id: string, state: "joined" | "online" | "away" | "left") => {
    for (const [other, entry] of serverPeers) {
      if (other === id || !entry.online || !entry.client) continue;
      const client = entry.client;
      control(client, entry.epoch, () => {
        say(`${client.index} presence ${id} ${state}`);
        client.courier?.presence(id, state);
      });
    }
  };
  const serverHello = (peer: SimPeer, epoch: number, token: string | undefined, since: number) => {
    let id = token === undefined ? undefined : sessions.get(token);
    if (id !== undefined && !healed && rng.chance(0.1)) {
      // The session expired while the peer was away: its old identity leaves, and it joins as a new peer.
      say(`${peer.index} session of ${id} expired`);
      tally.expiries++;
      sessions.delete(token!);
      serverPeers.delete(id);
      announce(id, "left");
      for (const other of peers) if (other !== peer) closeLink(peer, other);
      id = undefined;
    }
    const resumed = id !== undefined;
    if (!resumed) {
      id = "peer" + ++nextPeer;
      token = "token" + nextPeer;
      sessions.set(token, id);
    }
    const entry: ServerPeer = { token: token!, online: true, client: peer, epoch };
    serverPeers.set(id!, entry);
    announce(id!, resumed ? "online" : "joined");
    const roster = [...serverPeers].filter(([other]) => other !== id).map(([other, e]) => ({
      id: other,
      presence: e.online ? "online" as const : "away" as const,
    }));
    const peerId = id!;
    const sessionToken = token!;
    control(peer, epoch, () => {
      // A new identity: channels built for the old one go (as the shell rebuilds its peer links).
      if (peer.peerId !== peerId) { for (const other of peers) if (other !== peer) closeLink(peer, other); }
      peer.relay = "up";
      peer.peerId = peerId;
      peer.token = sessionToken;
      peer.joined = true;
      say(`${peer.index} welcome as ${peerId} since ${since} roster ${JSON.stringify(roster)}`);
      peer.courier!.relayUp({ peer: peerId, peers: roster });
      void peer.store.patchState(ROOM, { token: sessionToken });
    });
    for (const item of log) {
      if (item.seq <= since) continue;
      if (item.to !== undefined && item.to !== peerId && item.from !== peerId) continue;
      const frame = { from: item.from, id: item.id, data: item.data, seq: item.seq };
      toClient(peer, epoch, (courier) => {
        say(`${peer.index} backlog chat ${frame.seq} from ${frame.from}: ${what(frame.data)}`);
        courier.receiveChat(frame);
      });
    }
  };
  const serverChat = (from: string, id: string, to: string | undefined, data: string) => {
    const entry = serverPeers.get(from)!;
    const seq = log.length + 1;
    log.push({ seq, from, id, to, data });
    const sender = entry.client!;
    toClient(sender, entry.epoch, (courier) => courier.accepted(id, seq));
    for (const [other, target] of serverPeers) {
      if (other === from || !target.online || !target.client) continue;
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
  const serverDrop = (peer: SimPeer) => {
    for (const [id, entry] of serverPeers) {
      if (entry.client !== peer || !entry.online) continue;
      entry.online = false;
      entry.client = null;
      announce(id, "away");
      const epoch = entry.epoch;
      agenda.at(agenda.now + RESUME_WINDOW_MS, () => {
        if (serverPeers.get(id) !== entry || entry.online || entry.epoch !== epoch) return;
        serverPeers.delete(id);
        sessions.delete(entry.token);
        announce(id, "left");
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
    const token = peer.token;
    agenda.at(agenda.now + CONTROL_MS, () => {
      if (peer.epoch === epoch) serverHello(peer, epoch, token, since);
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
  const linkFor = (from: SimPeer, to: SimPeer, epoch: number): DirectLink => {
    const pair = pairOf(from, to);
    const fromId = from.peerId!;
    return {
      send(payload) {
        if (!pair.open || pair.epoch !== epoch) return false;
        carry(directFaults, () => {
          if (!pair.open || pair.epoch !== epoch) return;
          say(`${to.index} direct from ${fromId}: ${what(payload)}`);
          to.courier?.receiveDirect(fromId, payload);
        });
        return true;
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
      codec,
      resendBurst,
      historyBatchChars,
      timing: { resendIntervalMs: options.resendIntervalMs ?? 1_000 },
      resendOnPathChange: options.resendOnPathChange ?? true,
      now: () => agenda.now,
      timers,
      randomBytes: (count) => rng.bytes(count),
      relay: {
        sendChat(id, to, payload) {
          if (peer.relay !== "up") return;
          fromClient(peer, (from) => serverChat(from, id, to, payload));
        },
        sendSignal(to, payload) {
          if (peer.relay !== "up") return;
          fromClient(peer, (from) => serverSignal(from, to, payload));
        },
      },
    });
    courier.subscribe((event) => {
      if (event.type === "received") peer.shown.set(event.message.id, (peer.shown.get(event.message.id) ?? 0) + 1);
      else if (event.type === "error") peer.errors.push(`${event.context}: ${event.error}`);
      else if (event.type === "rejected") peer.errors.push(`rejected from ${event.from}: ${event.reason}`);
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
      announce(id, "left");
    }
    tally.leaves++;
    say(`${peer.index} leaves`);
    peer.left = true;
    peer.resent += peer.courier.counters.resent;
    peer.duplicates += peer.courier.counters.duplicates;
  };

  const reload = async (peer: SimPeer) => {
    if (peer.reloading || !peer.courier || peer.left) return;
    for (const other of peers) if (other !== peer) closeLink(peer, other);
    disconnect(peer);
    tally.reloads++;
    say(`${peer.index} reloads`);
    const old = peer.courier;
    peer.resent += old.counters.resent;
    peer.duplicates += old.counters.duplicates;
    old.close();
    peer.courier = null;
    peer.reloading = true;
    await build(peer);
    peer.reloading = false;
    const state = await peer.store.getState(ROOM);
    peer.token = state.token;
    if (!healed && rng.chance(0.3)) return; // comes back offline; a later flap or the heal reconnects it
    agenda.at(agenda.now + rng.int(10, 2_000), () => connect(peer));
  };

  // ---- the schedule -------------------------------------------------------------
  for (const peer of peers) await build(peer);
  const written: { id: string; author: SimPeer; to?: SimPeer; toId?: string }[] = [];
  for (const peer of peers) {
    const joinAt = peer.index === 0 ? rng.int(0, 2_000) : rng.int(0, chaosMs);
    agenda.at(joinAt, () => connect(peer));
    const sends = rng.int(1, 5);
    for (let i = 0; i < sends; i++) {
      const at = rng.int(0, chaosMs);
      agenda.at(at, async () => {
        if (peer.left) return;
        // Some messages go to one peer only (a direct message), the rest to the room.
        const others = peers.filter((other) => other !== peer && other.peerId !== undefined && !other.left);
        const to = others.length && rng.chance(0.15) ? others[rng.int(0, others.length - 1)] : undefined;
        const message = await peer.courier!.send(`m${peer.index}.${i}`, to?.peerId);
        written.push({ id: message.id, author: peer, to, toId: to?.peerId });
        say(`${peer.index} writes ${message.id}${to ? " to " + to.peerId : ""} as ${message.author}`);
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
  for (let a = 0; a < peerCount; a++) {
    for (let b = a + 1; b < peerCount; b++) {
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
  if (peerCount === 3 && rng.chance(0.3)) {
    const leaver = peers[rng.int(0, peerCount - 1)];
    agenda.at(rng.int(0, chaosMs), () => leave(leaver));
  }
  if (rng.chance(0.5)) {
    const reloads = rng.int(1, 2);
    for (let i = 0; i < reloads; i++) {
      const peer = peers[rng.int(0, peerCount - 1)];
      agenda.at(rng.int(0, chaosMs), () => reload(peer));
    }
  }
  agenda.at(chaosMs, () => {
    healed = true;
    say("heal");
    const calm = (f: Faults): Faults => ({ ...f, drop: 0, dup: 0 });
    relayFaults = calm(relayFaults);
    directFaults = calm(directFaults);
    for (const peer of peers) connect(peer);
  });

  // ---- run to quiescence --------------------------------------------------------
  const problems: string[] = [];
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
    !w.author.left || staying.some((other) => other.courier!.status(w.id) !== undefined)
  );
  for (const peer of peers) if (peer.left) peer.courier!.close();
  // A direct message to an identity that is gone (left, or session expired) cannot be delivered; at most once still holds.
  const undeliverable = (w: (typeof written)[number]) => w.to !== undefined && (w.to.left || w.to.peerId !== w.toId);
  let reference: string[] | null = null;
  for (const peer of staying) {
    const courier = peer.courier!;
    const name = `peer ${peer.index} (${peer.peerId})`;
    const mine = expected.filter((w) => w.to === undefined || w.to === peer || w.author === peer);
    const shown = courier.messages.map((m) => m.id);
    const stored = (await peer.store.listMessages(ROOM)).map((m) => m.id);
    if (new Set(shown).size !== shown.length) problems.push(`${name} shows a message twice`);
    if (shown.join() !== stored.join()) problems.push(`${name}: store and courier disagree`);
    const missing = mine.filter((w) => !shown.includes(w.id) && !undeliverable(w));
    if (missing.length) problems.push(`${name} lacks ${missing.length} of ${mine.length} messages`);
    const extra = shown.filter((id) => !mine.some((w) => w.id === id));
    if (extra.length) problems.push(`${name} holds ${extra.length} messages it should not`);
    const roomOrder = courier.messages.filter((m) => m.to === undefined).map((m) => m.id);
    if (reference && reference.join() !== roomOrder.join()) {
      problems.push(`${name} shows another order than the others`);
    }
    reference ??= roomOrder;
    for (const w of mine) {
      const times = peer.shown.get(w.id) ?? 0;
      if (w.author !== peer && times !== 1 && !(undeliverable(w) && times === 0)) {
        problems.push(`${name} was handed message ${w.id} ${times} times`);
      }
      if (w.author === peer && times !== 0) problems.push(`${name} was handed its own message ${w.id} as new`);
      if (w.author !== peer || undeliverable(w)) continue;
      const status = courier.status(w.id);
      if (status !== "delivered") problems.push(`${name}: own message ${w.id} ends "${status}"`);
      const record = await peer.store.getMessage(ROOM, w.id);
      if (record?.status !== "delivered") problems.push(`${name}: own message ${w.id} stored as "${record?.status}"`);
    }
    const outbox = (await peer.store.listOutbox(ROOM)).filter((entry) =>
      !written.some((w) => w.id === entry.id && undeliverable(w))
    );
    if (outbox.length) problems.push(`${name} keeps ${outbox.length} outbox entries`);
    problems.push(...peer.errors.map((e) => `${name} error: ${e}`));
    peer.resent += courier.counters.resent;
    peer.duplicates += courier.counters.duplicates;
    courier.close();
  }
  return {
    seed: options.seed,
    problems,
    peers: peerCount,
    messages: written.length,
    events,
    simMs: agenda.now,
    resent: peers.reduce((sum, p) => sum + p.resent, 0),
    duplicates: peers.reduce((sum, p) => sum + p.duplicates, 0),
    faults: tally,
  };
}
