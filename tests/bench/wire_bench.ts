/**
 * `deno task bench:wire`: what Parley costs on the wire per delivered chat
 * message, and what keeping a room open costs per idle hour, next to a bare
 * JSON relay, on loopback and then between two real browsers.
 *
 * - Parley: two real room clients (lib/client/room, the code the page runs:
 *   encryption, signatures, courier, acks) in this process against the real
 *   signaling server (lib/server, in its own process); no RTCPeerConnection,
 *   so chat stays on the relay: the chat frame up, the chat frame down, the
 *   receiver's end-to-end `ack` up and down, and `accepted` (alone, or riding
 *   on the ack).
 * - The bare JSON relay: the minimal page's server (tests/bench/minimal_page/):
 *   `{"t":"msg","text"}` up, parsed, stamped with `from`, and sent down. No
 *   ack, no log, no encryption.
 *
 * Counting: every WebSocket frame each client sends and receives (wrapped
 * socket: type, payload and framing bytes), and the kernel's own counters of
 * each client's TCP connection (`ss -ti`: payload bytes and segments both
 * ways, pure ACKs included). Bytes on the wire add 52 bytes of IPv4 and TCP
 * headers (with timestamps) per segment; no link layer. A client's
 * connection is one phone's link, so the sum over both clients is what both
 * phones' radios move.
 *
 * Idle: the clients stay quiet for a shortened window (default 120 s, with
 * the real timers of the client's network profile and the servers' pings),
 * sampled every 250 ms; the numbers per hour are that window extrapolated, and
 * said to be. A radio wake-up is a run of packets after at least
 * {@link WAKE_GAP_MS} of silence on that link.
 *
 * Then, as root (`--no-lab` skips it), the same for a browser pair in the
 * netlab (wire_lab.ts): real Chromium phones, Parley over its DataChannel next
 * to the minimal page, counted by the link meter (link_meter.ts).
 *
 * Writes `wire_results.md` and `wire_results.json` next to this file (or
 * `--out`). It never fails on a number; it prints whether the target held.
 *
 * ```
 * deno task bench:wire                    # 50 messages per size (alone, then in bursts of 10), 120 s idle, then the browser pair (root)
 * deno task bench:wire --messages=20 --idle=40 --lab-idle=30 --out=/tmp/wire
 * deno task bench:wire --no-lab           # loopback only, no root needed
 * ```
 * @module
 */
import { createRoomClient, type RoomClient } from "../../lib/client/room/mod.ts";
import { MemoryStore } from "../../lib/client/store_memory.ts";
import { DESKTOP_TIMINGS, MOBILE_TIMINGS, QUIET_FACTOR } from "../../lib/client/network_profile.ts";
import { newRoomId } from "../../lib/protocol/mod.ts";
import { ServerProcess } from "../support/server_process.ts";
import { until } from "../support/until.ts";
import { type LabIdleClosed, type LabWire, runLabWire } from "./wire_lab.ts";

/** A radio that heard nothing for this long is counted as woken by the next packet. */
export const WAKE_GAP_MS = 1_000;
/** IPv4 (20) + TCP (20) + the timestamps option (12) Linux puts on every segment. */
export const HEADER_BYTES_PER_SEGMENT = 52;
const SAMPLE_MS = 250;
/** Time after a delivery for delayed ACKs (40 ms on Linux) and trailing frames to pass before the next message. */
const SETTLE_MS = 120;
const DEFAULTS = {
  messages: 50,
  idleS: 120,
  labIdleS: 60,
  out: new URL(".", import.meta.url).pathname.replace(/\/$/, ""),
};
/** Messages the browser pair sends (each one goes through Playwright: slower than the client core). */
const LAB_MESSAGES = 20;
const MINIMAL_SERVER = new URL("./minimal_page/server.ts", import.meta.url).pathname;
/** The message bodies measured: a typical chat line and a long one. */
const BODIES: Record<string, string> = {
  "short (34 chars)": "On my way, be there in 10 minutes!",
  "long (280 chars)": ("Running a bit late: the train stopped between stations for twenty minutes and nobody " +
    "said why. I will be at the cafe around half past, order me a tea please, and if you get bored, the " +
    "bookshop next door is open until nine. Sorry again, and thanks for waiting. See you soon, bring the map!")
    .slice(0, 280),
};
/** What is measured per message: each body one at a time, then in bursts (where acks coalesce). */
const CASES: { label: string; body: string; burst: number }[] = [
  ...Object.entries(BODIES).map(([label, body]) => ({ label, body, burst: 1 })),
  ...Object.entries(BODIES).map(([label, body]) => ({ label: `${label}, bursts of 10`, body, burst: 10 })),
];
/** Bytes every encrypted, signed message carries on each leg, whatever the encoding: AES-GCM IV and tag, ECDSA signature. */
const CRYPTO_BYTES = 12 + 16 + 64;
/** A phone's user agent, so the client core picks its mobile timings. */
const MOBILE_ENV = { navigator: { userAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile Safari/537.36" } };

/** Frames of one type: how many, their payload bytes, and their bytes with WebSocket framing. */
interface FrameCount {
  /** How many frames. */
  frames: number;
  /** JSON text bytes. */
  payload: number;
  /** Payload plus the WebSocket frame header (and the client's 4-byte mask). */
  framed: number;
}

/** Frame counts by `"<out|in> <type>"`. */
type Frames = Map<string, FrameCount>;

/** WebSocket frames one client sent and received, by type. */
class FrameTally {
  /** `out chat`, `in accepted`...: count, payload bytes, and bytes with WebSocket framing. */
  readonly byType = new Map<string, FrameCount>();

  /** Counts one frame; `fromClient` frames are masked (4 more bytes). */
  add(direction: "out" | "in", data: unknown): void {
    const text = typeof data === "string" ? data : "";
    const payload = new TextEncoder().encode(text).byteLength;
    const header = 2 + (payload >= 126 ? (payload >= 65_536 ? 8 : 2) : 0) + (direction === "out" ? 4 : 0);
    let type = "?";
    try {
      const frame = JSON.parse(text);
      type = String(frame.type ?? frame.t ?? "?");
    } catch { /* not JSON: counted as "?" */ }
    const key = `${direction} ${type}`;
    const entry = this.byType.get(key) ?? { frames: 0, payload: 0, framed: 0 };
    entry.frames++;
    entry.payload += payload;
    entry.framed += payload + header;
    this.byType.set(key, entry);
  }

  /** A copy of the counts, to subtract later. */
  snapshot(): Frames {
    return new Map([...this.byType].map(([k, v]) => [k, { ...v }]));
  }
}

/** A WebSocket whose every frame is counted in `tally`. */
function countedSocket(url: string, tally: FrameTally): WebSocket {
  const ws = new WebSocket(url);
  const send = ws.send.bind(ws);
  ws.send = (data: string | ArrayBufferLike | Blob | ArrayBufferView) => {
    tally.add("out", data);
    send(data);
  };
  ws.addEventListener("message", (event) => tally.add("in", event.data));
  return ws;
}

/** One TCP connection as the kernel counts it (the client's end). */
interface TcpCount {
  /** Payload bytes sent and received. */
  bytes: number;
  /** Segments sent and received, pure ACKs included. */
  segments: number;
}

/** The client ends of every established TCP connection to `port` on loopback, by local port. */
async function tcpCounters(port: number): Promise<Map<number, TcpCount>> {
  const { stdout } = await new Deno.Command("ss", {
    args: ["-tinH", "state", "established", `( dport = :${port} )`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const result = new Map<number, TcpCount>();
  for (const block of text.split(/\n(?=\S)/)) {
    const local = /^\s*\d+\s+\d+\s+\S+?:(\d+)\s/.exec(block);
    if (!local) continue;
    const field = (name: string) => Number(new RegExp(`\\b${name}:(\\d+)`).exec(block)?.[1] ?? 0);
    result.set(Number(local[1]), {
      bytes: field("bytes_sent") + field("bytes_received"),
      segments: field("segs_out") + field("segs_in"),
    });
  }
  return result;
}

/** What one measured side (Parley or the bare relay) moved, per unit. */
interface Cost {
  /** WebSocket frames (both clients, both directions), per message or per hour. */
  frames: number;
  /** WebSocket payload bytes (the JSON text). */
  payloadBytes: number;
  /** WebSocket bytes with framing (what TCP carries). */
  framedBytes: number;
  /** TCP payload bytes as the kernel counted them. */
  tcpBytes: number;
  /** TCP segments, pure ACKs included: packets on the wire. */
  packets: number;
  /** `tcpBytes` plus IPv4 and TCP headers. */
  wireBytes: number;
}

function costOf(
  frames: Frames,
  tcp: TcpCount,
  per: number,
): Cost {
  const sum = (key: "frames" | "payload" | "framed") => [...frames.values()].reduce((n, v) => n + v[key], 0);
  return {
    frames: sum("frames") / per,
    payloadBytes: sum("payload") / per,
    framedBytes: sum("framed") / per,
    tcpBytes: tcp.bytes / per,
    packets: tcp.segments / per,
    wireBytes: (tcp.bytes + tcp.segments * HEADER_BYTES_PER_SEGMENT) / per,
  };
}

function diffFrames(
  after: Frames,
  before: Frames,
): Frames {
  const out = new Map<string, FrameCount>();
  for (const [key, value] of after) {
    const b = before.get(key) ?? { frames: 0, payload: 0, framed: 0 };
    const d = { frames: value.frames - b.frames, payload: value.payload - b.payload, framed: value.framed - b.framed };
    if (d.frames > 0) out.set(key, d);
  }
  return out;
}

function mergeFrames(
  ...maps: Frames[]
): Frames {
  const out = new Map<string, FrameCount>();
  for (const map of maps) {
    for (const [key, value] of map) {
      const o = out.get(key) ?? { frames: 0, payload: 0, framed: 0 };
      out.set(key, {
        frames: o.frames + value.frames,
        payload: o.payload + value.payload,
        framed: o.framed + value.framed,
      });
    }
  }
  return out;
}

function prefixed(prefix: string, frames: Frames): Frames {
  return new Map([...frames].map(([key, value]) => [`${prefix} ${key}`, value]));
}

function sumTcp(all: Map<number, TcpCount>, ports: readonly number[], minus?: Map<number, TcpCount>): TcpCount {
  let bytes = 0;
  let segments = 0;
  for (const port of ports) {
    const now = all.get(port);
    if (!now) throw new Error(`connection from :${port} is gone (the client reconnected?)`);
    bytes += now.bytes - (minus?.get(port)?.bytes ?? 0);
    segments += now.segments - (minus?.get(port)?.segments ?? 0);
  }
  return { bytes, segments };
}

/** The local ports of the client connections to `port` that are not in `known`. */
async function freshPorts(port: number, known: ReadonlySet<number>, count: number): Promise<number[]> {
  const deadline = performance.now() + 20_000;
  for (;;) {
    const fresh = [...(await tcpCounters(port)).keys()].filter((p) => !known.has(p));
    if (fresh.length === count) return fresh;
    if (performance.now() > deadline) {
      throw new Error(`expected ${count} new connections to :${port}, saw ${fresh.length}`);
    }
    await sleep(20);
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Two clients of one side, each with its frame tally and its TCP connection's local port. */
interface Pair {
  /** Side name for tables. */
  name: string;
  /** The server port the clients connect to. */
  serverPort: number;
  /** Client A (the sender), then client B. */
  tallies: [FrameTally, FrameTally];
  /** Local port of A's connection, then B's. */
  ports: [number, number];
  /** Sends `count` messages from A back to back and resolves once all are delivered (as far as the side knows). */
  deliver(body: string, count: number): Promise<void>;
  /** Closes both clients. */
  close(): void;
}

/** Two real Parley room clients (A on phone timings, B on desktop timings) in one room, relay only. */
async function parleyPair(server: ServerProcess): Promise<Pair> {
  const room = newRoomId();
  const keyBytes = crypto.getRandomValues(new Uint8Array(32));
  const tallies: [FrameTally, FrameTally] = [new FrameTally(), new FrameTally()];
  const open = (tally: FrameTally, mobile: boolean) =>
    createRoomClient({
      origin: server.httpUrl,
      room,
      keyBytes,
      store: new MemoryStore(),
      createWebSocket: (url) => countedSocket(url, tally),
      fetchIce: () => Promise.resolve({ iceServers: [], ttl: 600, expiresAt: Date.now() + 600_000 }),
      env: mobile ? MOBILE_ENV : {},
    });
  const known = new Set((await tcpCounters(server.port)).keys());
  const a = await open(tallies[0], true);
  await until(() => a.connection.value.kind === "connected", { what: "A connected", timeoutMs: 20_000 });
  const [portA] = await freshPorts(server.port, known, 1);
  known.add(portA);
  const b = await open(tallies[1], false);
  const clients: RoomClient[] = [a, b];
  await until(
    () => clients.every((c) => c.connection.value.kind === "connected" && c.peers.value.length === 1),
    { what: "both connected and seeing each other", timeoutMs: 20_000 },
  );
  const [portB] = await freshPorts(server.port, known, 1);
  if (a.profile.heartbeatIntervalMs !== MOBILE_TIMINGS.heartbeatIntervalMs) {
    throw new Error(`client A did not pick the phone's timings (heartbeat ${a.profile.heartbeatIntervalMs} ms)`);
  }
  return {
    name: "Parley",
    serverPort: server.port,
    tallies,
    ports: [portA, portB],
    async deliver(body: string, count: number) {
      const seen = b.messages.value.length;
      await Promise.all(Array.from({ length: count }, () => a.send(body)));
      await until(
        () =>
          b.messages.value.length === seen + count &&
          a.messages.value.slice(-count).every((m) => m.status === "delivered"),
        { what: "the messages delivered", timeoutMs: 20_000, intervalMs: 1 },
      );
    },
    close() {
      for (const c of clients) c.close();
    },
  };
}

/** Two plain WebSocket clients of the bare JSON relay (the minimal page's protocol) in one room. */
async function barePair(server: ServerProcess): Promise<Pair> {
  const room = newRoomId();
  const url = `ws://127.0.0.1:${server.port}/ws?room=${room}`;
  const tallies: [FrameTally, FrameTally] = [new FrameTally(), new FrameTally()];
  const known = new Set((await tcpCounters(server.port)).keys());
  let received = 0;
  let joined = false;
  const a = countedSocket(url, tallies[0]);
  a.onmessage = (event) => JSON.parse(event.data).t === "join" && (joined = true);
  await new Promise((resolve, reject) => {
    a.onopen = resolve;
    a.onerror = reject;
  });
  const [portA] = await freshPorts(server.port, known, 1);
  known.add(portA);
  const b = countedSocket(url, tallies[1]);
  b.onmessage = (event) => JSON.parse(event.data).t === "msg" && received++;
  await until(() => joined, { what: "A sees B join", timeoutMs: 20_000 });
  const [portB] = await freshPorts(server.port, known, 1);
  return {
    name: "bare JSON relay",
    serverPort: server.port,
    tallies,
    ports: [portA, portB],
    async deliver(text: string, count: number) {
      const seen = received;
      for (let i = 0; i < count; i++) a.send(JSON.stringify({ t: "msg", text }));
      await until(() => received === seen + count, { what: "the messages received", timeoutMs: 20_000, intervalMs: 1 });
    },
    close() {
      a.close();
      b.close();
    },
  };
}

/**
 * Per delivered message, over `count` messages sent in groups of `burst` (1: one at a time), each group
 * sent back to back and delivered before the next.
 */
async function perMessage(
  pair: Pair,
  body: string,
  count: number,
  burst = 1,
): Promise<{ cost: Cost; frames: Frames }> {
  for (let i = 0; i < 3; i++) await pair.deliver(body, 1); // warm-up: first-message work, history sync
  await sleep(500);
  const framesBefore = pair.tallies.map((t) => t.snapshot());
  const tcpBefore = await tcpCounters(pair.serverPort);
  for (let sent = 0; sent < count; sent += burst) {
    await pair.deliver(body, Math.min(burst, count - sent));
    await sleep(SETTLE_MS);
  }
  const tcp = sumTcp(await tcpCounters(pair.serverPort), pair.ports, tcpBefore);
  const frames = mergeFrames(
    ...pair.tallies.map((t, i) => prefixed(i === 0 ? "A" : "B", diffFrames(t.snapshot(), framesBefore[i]))),
  );
  return { cost: costOf(frames, tcp, count), frames };
}

/** One client's idle link: what it moved in the window, and how often its radio would have woken. */
interface IdleLink {
  /** Frames by type the client's code sent and received (WebSocket pings of the server are invisible here). */
  frames: Frames;
  /** The kernel's count of the connection in the window. */
  tcp: TcpCount;
  /** Runs of packets after at least {@link WAKE_GAP_MS} of silence. */
  wakeUps: number;
  /** When each run began, seconds into the window (sampled every 250 ms). */
  wakeAtS: number[];
}

/** Watches every client connection of `pairs` for `windowMs` with nothing sent by anyone. */
async function idle(pairs: readonly Pair[], windowMs: number): Promise<IdleLink[][]> {
  const framesBefore = pairs.map((p) => p.tallies.map((t) => t.snapshot()));
  const start = await Promise.all(pairs.map((p) => tcpCounters(p.serverPort)));
  const last = pairs.map((p, i) => p.ports.map((port) => start[i].get(port)!.segments));
  const lastEvent = pairs.map((p) => p.ports.map(() => -Infinity));
  const wakeAt = pairs.map((p) => p.ports.map(() => [] as number[]));
  const began = performance.now();
  while (performance.now() - began < windowMs) {
    await sleep(SAMPLE_MS);
    const t = performance.now();
    const counts = await Promise.all(pairs.map((p) => tcpCounters(p.serverPort)));
    pairs.forEach((pair, i) =>
      pair.ports.forEach((port, j) => {
        const segments = counts[i].get(port)?.segments;
        if (segments === undefined) throw new Error(`${pair.name}: a connection closed while idle`);
        if (segments === last[i][j]) return;
        if (t - lastEvent[i][j] >= WAKE_GAP_MS) wakeAt[i][j].push(Math.round((t - began) / 100) / 10);
        last[i][j] = segments;
        lastEvent[i][j] = t;
      })
    );
  }
  const end = await Promise.all(pairs.map((p) => tcpCounters(p.serverPort)));
  return pairs.map((pair, i) =>
    pair.ports.map((port, j) => ({
      frames: diffFrames(pair.tallies[j].snapshot(), framesBefore[i][j]),
      tcp: sumTcp(end[i], [port], start[i]),
      wakeUps: wakeAt[i][j].length,
      wakeAtS: wakeAt[i][j],
    }))
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Report

/**
 * The least any design with Parley's guarantees could move, next to the bare relay as measured: every
 * message carries an IV, a tag and a signature on both legs (up and down), and "Delivered" needs the
 * receiver's ack to travel back (two more data segments at least, each with its headers). A text
 * protocol also pays base64 on everything encrypted.
 */
function floorAnalysis(bare: Map<string, Cost>): string[] {
  const lines = [
    `Bytes every message must carry, whatever the encoding: AES-GCM IV (12) + tag (16) + ECDSA P-256 signature (64) = ` +
    `${CRYPTO_BYTES} bytes per leg, on the way up and on the way down. The end-to-end ack must come back from the ` +
    `receiver: at least two more data segments (receiver to server, server to sender), ${HEADER_BYTES_PER_SEGMENT} ` +
    "bytes of IPv4 and TCP headers each before any payload. In a WebSocket text protocol (JSON, what Parley and the " +
    "bare relay speak) everything encrypted is also base64: 4/3 of its bytes.",
    "",
    "| body | bare relay (measured) | 1.3x of it | bare + crypto, no ack | + the ack's 2 segments (headers only) | text protocol: + base64, no ack |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const [label, body] of Object.entries(BODIES)) {
    const cost = bare.get(body);
    if (!cost) continue;
    const chars = new TextEncoder().encode(body).length;
    const crypto = cost.wireBytes + 2 * CRYPTO_BYTES;
    const acked = crypto + 2 * HEADER_BYTES_PER_SEGMENT;
    const text = cost.wireBytes + 2 * (Math.ceil((chars + CRYPTO_BYTES) * 4 / 3) - chars);
    const cell = (n: number) => `${fixed(n, 0)} B (${ratio(n, cost.wireBytes)})`;
    lines.push(
      `| ${label} | ${fixed(cost.wireBytes, 0)} B | ${fixed(cost.wireBytes * WIRE_RATIO_TARGET, 0)} B | ` +
        `${cell(crypto)} | ${cell(acked)} | ${cell(text)} |`,
    );
  }
  lines.push(
    "",
    "So for the 34-character message 1.3x cannot be met by any design that encrypts, signs and acknowledges end to end: " +
      "the signature, IV and tag alone, on two legs, are more than the 30% allowance, before a single id or ack byte. " +
      "For the 280-character message the crypto bytes fit the allowance only in a binary protocol, and only if acks " +
      "are shared by many messages (a burst); in a text protocol base64 alone takes it past 1.3x.",
  );
  return lines;
}

/** A table: header, rows, and how many leading text columns. */
interface Table {
  header: string[];
  rows: string[][];
}

function textTable(table: Table): string {
  const lines = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...lines.map((cells) => cells[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])));
  return [
    line(table.header).join(" | "),
    widths.map((w) => "-".repeat(w)).join("-|-"),
    ...table.rows.map((r) => line(r).join(" | ")),
  ].join("\n");
}

function markdownTable(table: Table): string {
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(table.header), line(table.header.map((_, i) => (i === 0 ? "---" : "---:"))), ...table.rows.map(line)]
    .join("\n");
}

function fixed(n: number, digits = 1): string {
  return n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

function ratio(a: number, b: number): string {
  return b > 0 ? `${(a / b).toFixed(2)}x` : "-";
}

/** Parley's bytes on the wire per message, at most this times the bare relay's. */
export const WIRE_RATIO_TARGET = 1.3;

function perMessageTable(parley: Cost, bare: Cost): Table {
  const row = (name: string, key: keyof Cost, digits = 1) => [
    name,
    fixed(parley[key], digits),
    fixed(bare[key], digits),
    ratio(parley[key], bare[key]),
  ];
  return {
    header: ["per delivered message", "Parley", "bare JSON relay", "Parley / bare"],
    rows: [
      row("WebSocket frames", "frames", 2),
      row("JSON text bytes", "payloadBytes"),
      row("WebSocket bytes (with framing)", "framedBytes"),
      row("TCP payload bytes (kernel count)", "tcpBytes"),
      row("packets (TCP segments, ACKs included)", "packets", 2),
      row("bytes on the wire (+ IPv4/TCP headers)", "wireBytes"),
    ],
  };
}

function framesTable(frames: Frames, count: number): Table {
  const rows = [...frames].sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => [
    key,
    fixed(value.frames / count, 2),
    fixed(value.payload / value.frames, 0),
    fixed(value.framed / count, 1),
  ]);
  return {
    header: ["Parley frame (client, direction, type)", "per message", "bytes each (JSON)", "framed bytes per message"],
    rows,
  };
}

/** Per-hour idle numbers of one link, extrapolated from a window. */
interface IdleHour {
  frames: number;
  packets: number;
  wireBytes: number;
  wakeUps: number;
}

function perHour(link: IdleLink, windowMs: number): IdleHour {
  const scale = 3_600_000 / windowMs;
  const frames = [...link.frames.values()].reduce((n, v) => n + v.frames, 0);
  return {
    frames: frames * scale,
    packets: link.tcp.segments * scale,
    wireBytes: (link.tcp.bytes + link.tcp.segments * HEADER_BYTES_PER_SEGMENT) * scale,
    wakeUps: link.wakeUps * scale,
  };
}

function idleTable(columns: { name: string; hour: IdleHour; timer: string }[]): Table {
  const row = (name: string, pick: (h: IdleHour) => string) => [name, ...columns.map((c) => pick(c.hour))];
  return {
    header: ["idle, per hour (one phone's link)", ...columns.map((c) => c.name)],
    rows: [
      row("frames its code sends and receives", (h) => fixed(h.frames, 0)),
      row("packets (TCP segments)", (h) => fixed(h.packets, 0)),
      row("bytes on the wire", (h) => `${fixed(h.wireBytes / 1000, 1)} KB`),
      row(`radio wake-ups (packets after >= ${WAKE_GAP_MS / 1000} s of silence)`, (h) => fixed(h.wakeUps, 0)),
      ["client heartbeat timer", ...columns.map((c) => c.timer)],
    ],
  };
}

function describeFrames(frames: Frames): string {
  return [...frames].map(([key, v]) => `${v.frames} ${key}`).join(", ") || "none";
}

// ---------------------------------------------------------------------------------------------------------------
// Main

interface Args {
  messages: number;
  idleMs: number;
  labIdleMs: number;
  lab: boolean;
  out: string;
}

function parseArgs(args: string[]): Args {
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const unknown = args.filter((a) => !/^--(messages|idle|lab-idle|out)=/.test(a) && a !== "--no-lab");
  if (unknown.length) {
    throw new Error(
      `unknown arguments: ${unknown.join(" ")} (known: --messages= --idle= --lab-idle= --no-lab --out=)`,
    );
  }
  const messages = Number(value("messages") ?? DEFAULTS.messages);
  const idleS = Number(value("idle") ?? DEFAULTS.idleS);
  const labIdleS = Number(value("lab-idle") ?? DEFAULTS.labIdleS);
  if (!Number.isInteger(messages) || messages < 1) throw new Error("--messages must be a positive integer");
  if (!(idleS >= 10) || !(labIdleS >= 10)) throw new Error("--idle and --lab-idle must be at least 10 (seconds)");
  const lab = !args.includes("--no-lab");
  if (lab && Deno.uid() !== 0) {
    throw new Error("the browser pair runs in network namespaces and needs root: run as root, or pass --no-lab");
  }
  return { messages, idleMs: idleS * 1000, labIdleMs: labIdleS * 1000, lab, out: value("out") ?? DEFAULTS.out };
}

/** The loopback part: Parley's client core and the bare relay, per message and idle. */
async function loopback(args: Args, say: (text?: string) => void): Promise<{ markdown: string[]; json: unknown }> {
  const { messages, idleMs } = args;
  const kvDir = await Deno.makeTempDir({ prefix: "parley_wire_" });
  const parleyServer = await ServerProcess.start({ kvPath: `${kvDir}/kv.sqlite3` });
  const bareServer = await ServerProcess.start({ entry: MINIMAL_SERVER });
  const markdown: string[] = [];
  const json: Record<string, unknown> = {};
  try {
    const parley = await parleyPair(parleyServer);
    const bare = await barePair(bareServer);
    try {
      const perBody: Record<string, unknown> = {};
      const bareCosts = new Map<string, Cost>();
      for (const { label, body, burst } of CASES) {
        console.error(`wire: ${messages} messages "${label}" each side...`);
        const p = await perMessage(parley, body, messages, burst);
        const b = await perMessage(bare, body, messages, burst);
        if (burst === 1) bareCosts.set(body, b.cost);
        const table = perMessageTable(p.cost, b.cost);
        const frames = framesTable(p.frames, messages);
        const target = p.cost.wireBytes <= WIRE_RATIO_TARGET * b.cost.wireBytes;
        const verdict = `${target ? "met" : "MISSED"}: Parley's bytes on the wire per message <= ` +
          `${WIRE_RATIO_TARGET}x the bare relay's (measured ${ratio(p.cost.wireBytes, b.cost.wireBytes)})`;
        const how = burst === 1 ? "one at a time" : `in bursts of ${burst}`;
        say(`\n## Per delivered message, body ${label}, ${messages} messages ${how} (loopback)\n`);
        say(textTable(table));
        say(`\n${textTable(frames)}`);
        say(`\n${verdict}`);
        markdown.push(
          `### Per delivered message: ${label}`,
          "",
          markdownTable(table),
          "",
          markdownTable(frames),
          "",
          `- ${verdict}`,
          "",
        );
        perBody[label] = {
          body,
          burst,
          parley: p.cost,
          bare: b.cost,
          parleyFrames: Object.fromEntries(p.frames),
          bareFrames: Object.fromEntries(b.frames),
          targetMet: target,
        };
      }
      json.perMessage = perBody;
      const floor = floorAnalysis(bareCosts);
      say(`\n## The floor\n\n${floor.join("\n")}`);
      markdown.push("### The floor: what the guarantees cost at least", "", ...floor, "");

      console.error(`wire: idle for ${idleMs / 1000} s...`);
      const [[phone, desktop], [bareA]] = await idle([parley, bare], idleMs);
      const scale = 3_600_000 / idleMs;
      const timer = (ms: number) => `every ${ms / 1000} s: ${fixed(3_600_000 / ms, 0)}/h`;
      const heartbeat = (t: typeof MOBILE_TIMINGS) =>
        t.heartbeatIntervalMs === t.heartbeatQuietMs
          ? timer(t.heartbeatQuietMs)
          : `${t.heartbeatIntervalMs / 1000} s talking, idle ${timer(t.heartbeatQuietMs)}`;
      const columns = [
        { name: "Parley, phone timings", hour: perHour(phone, idleMs), timer: heartbeat(MOBILE_TIMINGS) },
        { name: "Parley, desktop timings", hour: perHour(desktop, idleMs), timer: heartbeat(DESKTOP_TIMINGS) },
        { name: "bare JSON relay", hour: perHour(bareA, idleMs), timer: "none" },
      ];
      const table = idleTable(columns);
      const quiet = `With a hidden tab or save-data the client's heartbeat periods are ${QUIET_FACTOR}x longer ` +
        `(idle: phone ${timer(MOBILE_TIMINGS.heartbeatQuietMs * QUIET_FACTOR)}, desktop ` +
        `${timer(DESKTOP_TIMINGS.heartbeatQuietMs * QUIET_FACTOR)}); the server then pings too, after 30 s of silence.`;
      const windowNote = `Measured over ${idleMs / 1000} s of idle with the real timers, extrapolated ` +
        `x${fixed(scale, 0)} to an hour. In the window: Parley phone ${describeFrames(phone.frames)}, radio woke ` +
        `at ${phone.wakeAtS.join(", ")} s; desktop ${describeFrames(desktop.frames)}, woke at ` +
        `${desktop.wakeAtS.join(", ")} s; bare relay ${describeFrames(bareA.frames)}, woke at ` +
        `${bareA.wakeAtS.join(", ")} s. The servers' WebSocket pings are answered by the runtime and show only in ` +
        "packets: Deno pings a socket that sent nothing for half its idle timeout (Parley's `WS_IDLE_TIMEOUT` 60 s, " +
        "so after 30 s: never, while the client pings every 25 s; the bare relay: Deno's default, every 15 s).";
      say(`\n## Idle on loopback: what keeping the room open costs\n`);
      say(textTable(table));
      say(`\n${windowNote}\n${quiet}`);
      markdown.push("### Idle", "", markdownTable(table), "", windowNote, quiet, "");
      json.idle = {
        windowS: idleMs / 1000,
        extrapolation: scale,
        phone: { ...phone, frames: Object.fromEntries(phone.frames), perHour: columns[0].hour },
        desktop: { ...desktop, frames: Object.fromEntries(desktop.frames), perHour: columns[1].hour },
        bare: { ...bareA, frames: Object.fromEntries(bareA.frames), perHour: columns[2].hour },
      };
    } finally {
      parley.close();
      bare.close();
    }
  } finally {
    await parleyServer.stop("SIGTERM");
    await bareServer.stop("SIGTERM");
    await Deno.remove(kvDir, { recursive: true });
  }
  return { markdown, json };
}

/** The browser pair in the netlab: Parley over P2P and the minimal page, counted on the phones' interfaces. */
async function browserPair(args: Args, say: (text?: string) => void): Promise<{ markdown: string[]; json: unknown }> {
  const messages = Math.min(args.messages, LAB_MESSAGES);
  console.error(`wire: browser pair in the lab, ${messages} messages and ${args.labIdleMs / 1000} s idle per page...`);
  const { parley, minimal, idleClosed } = await runLabWire({
    messages,
    idleMs: args.labIdleMs,
    body: Object.values(BODIES)[0],
    wakeGapMs: WAKE_GAP_MS,
  });
  return labReport(parley, minimal, idleClosed, say);
}

/** The browser pair's table and note, from a fresh run or kept from an earlier one (`kept`: when it ran). */
function labReport(
  parley: LabWire,
  minimal: LabWire,
  idleClosed: LabIdleClosed | undefined,
  say: (text?: string) => void,
  kept?: string,
): { markdown: string[]; json: unknown } {
  const messages = parley.messages;
  const windowMs = parley.windowMs;
  const row = (name: string, p: number, m: number, digits: number, unit = "") => [
    name,
    `${fixed(p, digits)}${unit}`,
    `${fixed(m, digits)}${unit}`,
    ratio(p, m),
  ];
  const table: Table = {
    header: ["browser pair, lab LAN, phone timings", "Parley (P2P)", "minimal page", "Parley / minimal"],
    rows: [
      row("per message: bytes on both phones' links", parley.perMessage.bytes, minimal.perMessage.bytes, 0),
      row("per message: packets", parley.perMessage.packets, minimal.perMessage.packets, 1),
      row(
        "idle, one phone, per hour: bytes",
        parley.idlePerHour.bytes / 1000,
        minimal.idlePerHour.bytes / 1000,
        1,
        " KB",
      ),
      row("idle, one phone, per hour: packets", parley.idlePerHour.packets, minimal.idlePerHour.packets, 0),
      row("idle, one phone, per hour: radio wake-ups", parley.idlePerHour.wakeUps, minimal.idlePerHour.wakeUps, 0),
      ...(idleClosed
        ? [
          row(
            "idle with the DataChannel closed: bytes per hour",
            idleClosed.idlePerHour.bytes / 1000,
            minimal.idlePerHour.bytes / 1000,
            1,
            " KB",
          ),
          row(
            "idle with the DataChannel closed: packets",
            idleClosed.idlePerHour.packets,
            minimal.idlePerHour.packets,
            0,
          ),
          row(
            "idle with the DataChannel closed: wake-ups",
            idleClosed.idlePerHour.wakeUps,
            minimal.idlePerHour.wakeUps,
            0,
          ),
        ]
        : []),
    ],
  };
  const note =
    (kept ? `Not re-run this time (\`--no-lab\`): kept from the run of ${kept}, on the code of then. ` : "") +
    `Short body (${Object.keys(BODIES)[0]}), ${messages} messages one at a time; the background rate ` +
    `measured while idle is subtracted per message. Idle: ${windowMs / 1000} s extrapolated ` +
    `x${fixed(3_600_000 / windowMs, 0)}; phone A's radio woke at ${parley.wakeAtS.join(", ")} s (Parley) and ` +
    `${minimal.wakeAtS.join(", ")} s (minimal page). Counted: every TCP and UDP packet between a phone and the ` +
    "lab's addresses, as IP bytes (tests/bench/link_meter.ts; Chromium's own failing DNS lookups are left out). " +
    "In Parley's window the DataChannel's ICE consent checks and SCTP heartbeats come on top of the WebSocket's." +
    (idleClosed
      ? ` The rows "with the DataChannel closed" are Parley pages told to close an idle link after ` +
        `${idleClosed.idleCloseMs / 1000} s (\`CLIENT_P2P_IDLE_MS\`; a phone's default is 2 minutes): measured once ` +
        `both showed "Relay" again, over the same window; phone A's radio woke at ${idleClosed.wakeAtS.join(", ")} s.`
      : "");
  say(`\n## Browser pair in the netlab (real Chromium, LAN profile)${kept ? `, kept from ${kept}` : ""}\n`);
  say(textTable(table));
  say(`\n${note}`);
  return {
    markdown: ["### Browser pair (real Chromium phones in the netlab, LAN)", "", markdownTable(table), "", note, ""],
    json: { parley, minimal, idleClosed },
  };
}

/** Without the lab, the browser pair of the results already in `out` (said to be kept), if there are any. */
async function keptLab(
  out: string,
  say: (text?: string) => void,
): Promise<{ markdown: string[]; json: unknown } | null> {
  try {
    const old = JSON.parse(await Deno.readTextFile(`${out}/wire_results.json`));
    const pair = old.browserPair as
      | { parley: LabWire; minimal: LabWire; idleClosed?: LabIdleClosed; keptFrom?: string }
      | null;
    if (!pair?.parley || !pair?.minimal) return null;
    const when = pair.keptFrom ?? String(old.measuredAt).slice(0, 16).replace("T", " ") + " UTC";
    const report = labReport(pair.parley, pair.minimal, pair.idleClosed, say, when);
    return { ...report, json: { ...pair, keptFrom: when } };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

if (import.meta.main) {
  const args = parseArgs(Deno.args);
  const began = performance.now();
  const say = (text = "") => console.log(text);
  const local = await loopback(args, say);
  const lab = args.lab ? await browserPair(args, say) : await keptLab(args.out, say);
  const runtime = `${((performance.now() - began) / 1000).toFixed(0)} s`;
  say(`\n(runtime ${runtime})`);
  const json = {
    measuredAt: new Date().toISOString(),
    messages: args.messages,
    runtimeS: Math.round((performance.now() - began) / 1000),
    loopback: local.json,
    browserPair: lab?.json ?? null,
  };
  const md = [
    "# Wire economy (`deno task bench:wire`)",
    "",
    `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; ` +
    `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}; runtime ${runtime}.`,
    "",
    "Loopback: two real Parley room clients (`lib/client/room`, the code the page runs: encryption, signatures, " +
    "courier, end-to-end acks) against the real signaling server, relay only (no DataChannel), next to two clients of " +
    "a bare JSON relay (the minimal page's server, `tests/bench/minimal_page/server.ts`: parse, stamp `from`, forward; " +
    'no ack). Each message (or burst of 10, sent back to back) is sent and delivered (Parley: "Delivered" on the ' +
    `sender) before the next, ${SETTLE_MS} ms apart; both clients' connections are counted (one phone's link each). ` +
    "Bytes on the wire are the kernel's TCP " +
    `payload counts (\`ss -ti\`) plus ${HEADER_BYTES_PER_SEGMENT} bytes of IPv4 and TCP headers per segment. A radio ` +
    `wake-up is a run of packets after at least ${WAKE_GAP_MS / 1000} s of silence on that link.`,
    "",
    ...local.markdown,
    ...(lab?.markdown ?? []),
  ].join("\n");
  await Deno.mkdir(args.out, { recursive: true });
  await Deno.writeTextFile(`${args.out}/wire_results.md`, md);
  await Deno.writeTextFile(`${args.out}/wire_results.json`, JSON.stringify(json, null, 2) + "\n");
  const written = [`${args.out}/wire_results.md`, `${args.out}/wire_results.json`];
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", ...written], stdin: "null" }).output();
  if (!fmt.success) throw new Error(`deno fmt failed: ${new TextDecoder().decode(fmt.stderr)}`);
  console.log(`\nwrote ${written.join(", ")}`);
}
