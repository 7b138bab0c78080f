/**
 * Fuzz test of the signaling server (issue 3): thousands of malformed,
 * oversized, wrong-typed and hostile frames and query strings against a real
 * server on 127.0.0.1. Each must get the documented answer (error code and,
 * where the protocol closes, close code); the server must stay up; and two
 * peers chatting in another room meanwhile must lose nothing.
 *
 * Seeded: the seed is printed; replay with `FUZZ_SEED=<seed>`. The number of
 * cases scales with `FUZZ_CASES` (default 12,000).
 *
 * Frames that keep the connection open (every validation error after the
 * welcome) are multiplexed, hundreds per connection, and matched to answers by
 * order; cases that close the connection each get their own.
 * @module
 */
import { assert, assertEquals } from "@std/assert";
import {
  admissionKey,
  CLOSE,
  type ErrorCode,
  helloProof,
  PROTOCOL_VERSION,
  SUPPORTED_VERSIONS,
} from "../../lib/protocol/mod.ts";
import { encodeFrame, OPCODE, RawSocket } from "../bench/load/raw_socket.ts";
import { ServerProcess } from "../support/server_process.ts";
import { Prng } from "../support/prng.ts";
import { TEST_ROOM_KEY } from "../support/signal_test_client.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? crypto.getRandomValues(new Uint32Array(1))[0]);
const TOTAL_CASES = Number(Deno.env.get("FUZZ_CASES") ?? "12000");
/** Share of cases that close their connection (each costs a connection). */
const CLOSING_SHARE = 0.1;
/** Frames per multiplexed connection. */
const FRAMES_PER_CONNECTION = 500;
/** Connections in flight at once for closing cases. */
const CONCURRENCY = 24;
/** Chat frames each peer of the parallel pair sends. */
const CHAT_MESSAGES = 300;
/** Hang guard for any single wait (not a timing assertion). */
const WAIT_MS = 15_000;
const MAX_FRAME = 64 * 1024;
const ENCODER = new TextEncoder();

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const NASTY = [
  "+",
  "/",
  "=",
  " ",
  ".",
  "~",
  "%",
  "\u0000",
  "\n",
  "é",
  "\u202e",
  "\ud83d\ude00",
  "\ud800",
  '"',
  "\\",
  "<",
];
const KNOWN_TYPES = ["hello", "chat", "signal", "ack", "ping", "bye", "ice"];

/** Picks cases from a seeded random source. */
class Gen {
  readonly rand: () => number;
  constructor(seed: number) {
    const source = new Prng(seed);
    this.rand = () => source.next();
  }
  int(max: number): number {
    return Math.floor(this.rand() * max);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }
  b64(min: number, max: number): string {
    const len = min + this.int(max - min + 1);
    let s = "";
    for (let i = 0; i < len; i++) s += B64URL[this.int(64)];
    return s;
  }
  /** A string that is not 1-64 base64url characters. */
  badShortId(): unknown {
    switch (this.int(7)) {
      case 0:
        return "";
      case 1:
        return this.b64(65, 200);
      case 2:
        return this.b64(1, 20) + this.pick(NASTY) + this.b64(0, 20);
      case 3:
        return this.int(1000);
      case 4:
        return null;
      case 5:
        return [this.b64(1, 10)];
      default:
        return { id: this.b64(1, 10) };
    }
  }
  /** A value that is not 22-128 base64url characters (token, proof). */
  badSecret(): unknown {
    switch (this.int(5)) {
      case 0:
        return this.b64(0, 21);
      case 1:
        return this.b64(129, 300);
      case 2:
        return this.b64(10, 40) + this.pick(NASTY) + this.b64(10, 40);
      case 3:
        return this.pick([0, null, true, 1e22]);
      default:
        return [this.b64(22, 30)];
    }
  }
  /** Any JSON value. */
  value(depth = 0): unknown {
    switch (this.int(depth > 2 ? 5 : 7)) {
      case 0:
        return null;
      case 1:
        return this.rand() < 0.5;
      case 2:
        return this.pick([0, -1, 1e308, -0, 3.5, 2 ** 53 + 1, this.int(1e9)]);
      case 3:
        return this.b64(0, 30) + this.pick(NASTY);
      case 4:
        return this.b64(0, 10);
      case 5:
        return Array.from({ length: this.int(4) }, () => this.value(depth + 1));
      default:
        return Object.fromEntries(Array.from({ length: this.int(4) }, () => [this.b64(1, 8), this.value(depth + 1)]));
    }
  }
  /** A field name no frame has. */
  extraKey(): string {
    return this.pick(["__proto__", "constructor", "from", "seq", "at", "prototype", "toString", "x" + this.b64(1, 8)]);
  }
}

/** A frame sent on a joined connection that must be answered, in order, by `expect`. */
interface OpenCase {
  label: string;
  text?: string;
  bytes?: Uint8Array;
  /** An error code, `pong:<n>` for a valid ping, or `ice` for a valid ice request (answered, or `rate_limited`). */
  expect: ErrorCode | `pong:${number}` | "ice";
}

/** A case that ends its connection. */
interface ClosingCase {
  label: string;
  /** Request target. */
  path: string;
  /** Extra request headers. */
  headers?: Record<string, string>;
  /** Send a valid hello first and wait for the welcome. */
  join: boolean;
  /** Send a hello proving the test key over the challenge (with its verifier), these fields added or replaced. */
  hello?: Record<string, unknown>;
  /** Bytes to send once open (after the welcome when `join`). */
  send: Uint8Array[];
  /** HTTP refusal expected instead of an upgrade: status and error code. */
  http?: { status: number; code: ErrorCode };
  /** Error codes accepted in the error frame before the close (empty: no error frame required). */
  codes: ErrorCode[];
  /** Close codes accepted. */
  close: number[];
}

/** Sets an own field, even `__proto__`, so JSON.stringify writes it as a hostile client would. */
function setField(target: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  return target;
}

function text(label: string, value: unknown, expect: OpenCase["expect"]): OpenCase {
  return { label, text: typeof value === "string" ? value : JSON.stringify(value), expect };
}

/** One case for a joined connection. */
function openCase(g: Gen, i: number): OpenCase {
  switch (g.int(19)) {
    case 0: { // not JSON
      let s = "";
      const alphabet = '{}[]":,0123456789abcdefnulltrue \\\n\t' + NASTY.join("");
      for (let k = g.int(80) + 1; k > 0; k--) s += alphabet[g.int(alphabet.length)];
      try {
        JSON.parse(s);
        s = "{" + s;
      } catch { /* not JSON: what we want */ }
      return text("not JSON", s, "bad_frame");
    }
    case 1: // JSON, not an object
      return text("non-object", g.pick([g.int(100), "chat", [], [{ type: "chat" }], null, true, 1.5]), "bad_frame");
    case 2: // type missing or not a string
      return text(
        "bad type",
        { type: g.pick([undefined, 1, null, ["chat"], { chat: 1 }, true]), to: "a" },
        "bad_frame",
      );
    case 3: { // unknown type
      let type = g.pick(["CHAT", "chat ", " ping", "welcome", "accepted", "error", "__proto__", "constructor", ""]);
      if (g.rand() < 0.5) type = g.b64(1, 12);
      if (KNOWN_TYPES.includes(type)) type += "x";
      return text("unknown type", { type, data: g.value() }, "unknown_type");
    }
    case 4: { // chat with one field wrong
      const frame: Record<string, unknown> = { type: "chat", id: g.b64(1, 64), data: g.b64(1, 200) };
      if (g.rand() < 0.5) frame.to = g.b64(1, 64);
      const which = g.int(4);
      if (which === 0) frame.id = g.rand() < 0.2 ? undefined : g.badShortId();
      else if (which === 1) {
        frame.data = g.pick([undefined, "", g.b64(1, 20) + g.pick(NASTY), 5, { a: 1 }, [g.b64(1, 5)]]);
      } else if (which === 2) frame.to = g.badShortId();
      else setField(frame, g.extraKey(), g.value());
      return text("bad chat", frame, "bad_frame");
    }
    case 5: { // signal with one field wrong
      const frame: Record<string, unknown> = { type: "signal", to: g.b64(1, 64), data: g.value() };
      const which = g.int(3);
      if (which === 0) frame.to = g.rand() < 0.2 ? undefined : g.badShortId();
      else if (which === 1) delete frame.data;
      else setField(frame, g.extraKey(), g.value());
      return text("bad signal", frame, "bad_frame");
    }
    case 6: // well-formed signal to nobody
      return text("signal to a stranger", { type: "signal", to: g.b64(1, 64), data: g.value() }, "unknown_peer");
    case 7: { // hello after the welcome
      const v = g.pick([1, 2, 0, -1]);
      if (g.rand() < 0.3) {
        return text("hello with v not a number", { type: "hello", v: g.pick(["1", null, [1]]) }, "bad_version");
      }
      return text("second hello", { type: "hello", v }, "hello_required");
    }
    case 8: // ping with a bad n
      return text("bad ping", { type: "ping", n: g.pick(["1", null, [], {}, true]) }, "bad_frame");
    case 9: // valid ping: answered in order with its n
      return text("ping", { type: "ping", n: i }, `pong:${i}`);
    case 10: // bye with baggage: refused, not obeyed
      return text("bad bye", setField({ type: "bye" }, g.extraKey(), g.value()), "bad_frame");
    case 11: { // deep nesting
      // Kept under the 64 KiB frame limit: bigger is the oversized case's job.
      const depth = 1000 + g.int(9_000);
      const s = g.rand() < 0.5
        ? "[".repeat(depth) + "]".repeat(depth)
        : '{"type":"chat","a":' + '{"a":'.repeat(depth) + "1" +
          "}".repeat(depth + 1);
      return text("deep nesting", s, "bad_frame");
    }
    case 12: { // big but within the limit
      const s = JSON.stringify({
        type: "chat",
        id: g.b64(1, 10),
        data: g.b64(10, 20) + "!" + "A".repeat(40_000 + g.int(20_000)),
      });
      return text("large invalid chat", s, "bad_frame");
    }
    case 13: { // a bad frame split into WebSocket fragments: reassembled, then refused
      const whole = ENCODER.encode(JSON.stringify({ type: "signal", to: g.badShortId(), data: g.value() }));
      const cut = 1 + g.int(whole.length - 1);
      const bytes = new Uint8Array([
        ...encodeFrame(OPCODE.TEXT, whole.subarray(0, cut), false),
        ...encodeFrame(OPCODE.CONTINUATION, whole.subarray(cut)),
      ]);
      return { label: "fragmented bad signal", bytes, expect: "bad_frame" };
    }
    case 15: // a valid ice request: the servers, or rate_limited once the session's allowance is spent
      return text("ice", { type: "ice" }, "ice");
    case 16: // ice with baggage
      return text("bad ice", setField({ type: "ice" }, g.extraKey(), g.value()), "bad_frame");
    case 17: { // ack with one field wrong
      const frame: Record<string, unknown> = { type: "ack", to: g.b64(1, 64), ids: [g.b64(1, 64)], mac: g.b64(11, 43) };
      const which = g.int(5);
      if (which === 0) frame.to = g.rand() < 0.2 ? undefined : g.badShortId();
      else if (which === 1) frame.ids = g.pick([undefined, [], [g.badShortId()], g.b64(1, 9), Array(401).fill("m")]);
      else if (which === 2) frame.mac = g.pick([undefined, g.b64(0, 10), g.b64(44, 60), g.b64(11, 20) + g.pick(NASTY)]);
      else if (which === 3) frame.volatile = g.pick([false, 1, "true", null]);
      else setField(frame, g.extraKey(), g.value());
      return text("bad ack", frame, "bad_frame");
    }
    case 18: // well-formed ack to nobody
      return text(
        "ack to a stranger",
        { type: "ack", to: g.b64(1, 64), ids: [g.b64(1, 64)], mac: g.b64(11, 43) },
        "unknown_peer",
      );
    default: // a number JSON.parse turns into Infinity
      return text("1e999 ping", '{"type":"ping","n":1e999}', "bad_frame");
  }
}

function validRoom(g: Gen): string {
  return g.b64(22, 40);
}

/** One case that ends its connection. */
function closingCase(g: Gen): ClosingCase {
  const room = validRoom(g);
  const ok = `/api/signal?v=${PROTOCOL_VERSION}&room=${room}`;
  const base = { headers: undefined, join: false, send: [] as Uint8Array[] };
  switch (g.int(14)) {
    case 0: { // bad version in the query
      const v = g.pick([
        "",
        "0",
        "1",
        "3",
        "999",
        "-1",
        "abc",
        "1.5",
        "NaN",
        "Infinity",
        "%00",
        "v1",
        "1;2",
        "x".repeat(300),
      ]);
      assert(!SUPPORTED_VERSIONS.includes(Number(v)) || v === "");
      const path = g.rand() < 0.2 ? `/api/signal?room=${room}` : `/api/signal?v=${v}&room=${room}`;
      return { ...base, label: "bad v in query", path, codes: ["bad_version"], close: [CLOSE.BAD_REQUEST] };
    }
    case 1: { // bad room in the query
      const bad = g.pick([
        "",
        g.b64(1, 21),
        g.b64(65, 300),
        g.b64(10, 30) + "%2F" + g.b64(10, 30),
        g.b64(10, 30) + "+" + g.b64(10, 30),
        g.b64(22, 30) + "%00",
        "%F0%9F%98%80".repeat(10),
        "..%2F..%2F" + g.b64(22, 22),
        "<script>" + g.b64(22, 22),
      ]);
      const path = g.rand() < 0.2
        ? `/api/signal?v=${PROTOCOL_VERSION}`
        : `/api/signal?v=${PROTOCOL_VERSION}&room=${bad}`;
      return { ...base, label: "bad room in query", path, codes: ["bad_room"], close: [CLOSE.BAD_REQUEST] };
    }
    case 2: // garbage before hello
      return {
        ...base,
        label: "garbage before hello",
        path: ok,
        send: [encodeFrame(OPCODE.TEXT, ENCODER.encode(g.pick(["hello", "{", "[]", "null", '{"type":5}'])))],
        codes: ["bad_frame"],
        close: [CLOSE.BAD_REQUEST],
      };
    case 3: // another frame before hello
      return {
        ...base,
        label: "frame before hello",
        path: ok,
        send: [
          encodeFrame(OPCODE.TEXT, ENCODER.encode(g.pick(['{"type":"ping"}', '{"type":"bye"}', '{"type":"ice"}']))),
        ],
        codes: ["hello_required"],
        close: [CLOSE.BAD_REQUEST],
      };
    case 4: // hello with a wrong version
      return {
        ...base,
        label: "hello with a wrong version",
        path: ok,
        send: [
          encodeFrame(
            OPCODE.TEXT,
            ENCODER.encode(JSON.stringify({ type: "hello", v: g.pick([0, 1, 3, "2", null, 1.5]) })),
          ),
        ],
        codes: ["bad_version"],
        close: [CLOSE.BAD_REQUEST],
      };
    case 5: { // hello with malformed token, proof, verifier, member or since
      const field = g.pick(["token", "proof", "verifier", "member", "since", "extra"]);
      const value = field === "since"
        ? g.pick([-1, 1.5, "3", null])
        : field === "extra"
        ? 1
        : field === "member"
        ? g.pick([g.b64(87, 87), { key: g.b64(87, 87) }, { key: g.b64(86, 86), sig: g.b64(86, 86) }, null, []])
        : g.badSecret();
      const frame = setField({ type: "hello", v: PROTOCOL_VERSION }, field, value);
      return {
        ...base,
        label: `hello with a bad ${field}`,
        path: ok,
        send: [encodeFrame(OPCODE.TEXT, ENCODER.encode(JSON.stringify(frame)))],
        codes: ["bad_frame"],
        close: [CLOSE.BAD_REQUEST],
      };
    }
    case 6: { // binary, before or after the welcome
      const join = g.rand() < 0.5;
      const payload = Uint8Array.from({ length: 1 + g.int(2000) }, () => g.int(256));
      return {
        ...base,
        label: `binary frame ${join ? "after welcome" : "before hello"}`,
        path: ok,
        join,
        send: [encodeFrame(OPCODE.BINARY, payload)],
        codes: ["binary_refused"],
        close: [CLOSE.UNSUPPORTED_DATA],
      };
    }
    case 7: { // oversized text, before or after the welcome
      const join = g.rand() < 0.5;
      const size = MAX_FRAME + 1 + g.int(200_000);
      const body = '{"type":"chat","id":"a","data":"' + "A".repeat(size) + '"}';
      return {
        ...base,
        label: `oversized frame ${join ? "after welcome" : "before hello"}`,
        path: ok,
        join,
        send: [encodeFrame(OPCODE.TEXT, ENCODER.encode(body))],
        codes: ["too_big"],
        close: [CLOSE.MESSAGE_TOO_BIG],
      };
    }
    case 8: // not a WebSocket request, or a foreign origin
      if (g.rand() < 0.5) {
        return {
          ...base,
          label: "foreign origin",
          path: ok,
          headers: { Origin: "https://evil.example" },
          http: { status: 403, code: "origin_refused" },
          codes: [],
          close: [],
        };
      }
      return {
        ...base,
        label: "not an upgrade",
        path: ok,
        headers: { "X-No-Upgrade": "1" },
        http: { status: 426, code: "not_websocket" },
        codes: [],
        close: [],
      };
    case 9: { // broken WebSocket framing: the runtime drops the connection (1006), or closes 1002/1007
      const frame = encodeFrame(OPCODE.TEXT, ENCODER.encode('{"type":"ping"}'));
      const variant = g.int(5);
      if (variant === 0) frame[0] = 0x80 | (3 + g.int(5)); // reserved data opcode
      else if (variant === 1) frame[0] = 0x81 | (0x10 << g.int(3)); // RSV bit without an extension
      const bytes = variant === 2
        ? encodeFrame(OPCODE.TEXT, new Uint8Array([0x22, 0xff, 0xfe, 0x22])) // invalid UTF-8
        : variant === 3
        ? encodeFrame(OPCODE.CONTINUATION, ENCODER.encode("{}")) // continuation without a start
        : variant === 4
        ? encodeFrame(OPCODE.PING, ENCODER.encode("x"), false) // fragmented control frame
        : frame;
      return {
        ...base,
        label: "broken framing",
        path: ok,
        join: g.rand() < 0.5,
        send: [bytes],
        codes: [],
        close: [1002, 1006, 1007],
      };
    }
    case 11: // a proof made with another key (or a stale nonce): refused
      return {
        ...base,
        label: "hello with a wrong proof",
        path: ok,
        hello: { proof: g.b64(43, 43) },
        codes: ["admission_refused"],
        close: [CLOSE.ADMISSION_REFUSED],
      };
    case 12: // a member key that is no P-256 point, or a signature that does not verify
      return {
        ...base,
        label: "hello with a forged member",
        path: ok,
        hello: { member: { key: g.rand() < 0.5 ? "BA" + g.b64(85, 85) : g.b64(87, 87), sig: g.b64(86, 86) } },
        codes: ["bad_frame"],
        close: [CLOSE.BAD_REQUEST],
      };
    default: { // hello then a valid bye: the documented clean end
      return {
        ...base,
        label: "bye",
        path: ok,
        join: true,
        send: [encodeFrame(OPCODE.TEXT, ENCODER.encode('{"type":"bye"}'))],
        codes: [],
        close: [CLOSE.NORMAL],
      };
    }
  }
}

/** A socket whose received text frames can be awaited in order. */
class Inbox {
  frames: string[] = [];
  #waiter: (() => void) | null = null;
  push = (text: string): void => {
    this.frames.push(text);
    this.#waiter?.();
  };
  /** Waits until at least `n` frames arrived (or the hang guard fires). */
  async atLeast(n: number, socket?: RawSocket): Promise<void> {
    const deadline = Date.now() + WAIT_MS;
    while (this.frames.length < n) {
      if (socket?.closed) {
        throw new Error(`socket closed (${socket.closeCode}) after ${this.frames.length}/${n} frames`);
      }
      if (Date.now() > deadline) throw new Error(`waited ${WAIT_MS} ms for frame ${n}, have ${this.frames.length}`);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiter = resolve;
        timer = setTimeout(resolve, 100);
      });
      clearTimeout(timer);
      this.#waiter = null;
    }
  }
}

/** Opens a socket in `room` with a hello and returns it after the welcome. */
async function join(port: number, room: string, inbox: Inbox): Promise<{ socket: RawSocket; peer: string }> {
  const socket = await RawSocket.open({
    hostname: "127.0.0.1",
    port,
    path: `/api/signal?v=${PROTOCOL_VERSION}&room=${room}`,
    onText: inbox.push,
  });
  if (!(socket instanceof RawSocket)) throw new Error(`upgrade refused: ${socket.status} ${socket.body}`);
  socket.sendText(JSON.stringify(await provenHello(room, inbox, socket)));
  await inbox.atLeast(1, socket);
  const welcome = JSON.parse(inbox.frames.shift()!);
  assertEquals(welcome.type, "welcome");
  return { socket, peer: welcome.peer };
}

/** Takes the challenge (the first frame) and returns a hello proving the test key over it, with its verifier. */
async function provenHello(room: string, inbox: Inbox, socket: RawSocket): Promise<Record<string, unknown>> {
  await inbox.atLeast(1, socket);
  const challenge = JSON.parse(inbox.frames.shift()!);
  assertEquals(challenge.type, "challenge");
  const verifier = await admissionKey(TEST_ROOM_KEY, room);
  return { type: "hello", v: PROTOCOL_VERSION, proof: await helloProof(verifier, room, challenge.nonce), verifier };
}

function describe(c: { label: string; text?: string }): string {
  return `${c.label}: ${(c.text ?? "").slice(0, 120)}`;
}

/** Runs the cases of one joined connection and checks each answer. */
async function runOpenBatch(port: number, g: Gen, cases: OpenCase[]): Promise<void> {
  const inbox = new Inbox();
  const { socket } = await join(port, validRoom(g), inbox);
  try {
    for (const c of cases) socket.sendBytes(c.bytes ?? encodeFrame(OPCODE.TEXT, ENCODER.encode(c.text!)));
    try {
      await inbox.atLeast(cases.length, socket);
    } catch (error) {
      const at = inbox.frames.length;
      throw new Error(`${(error as Error).message}; next case ${describe(cases[at] ?? { label: "none" })}`);
    }
    for (let i = 0; i < cases.length; i++) {
      const answer = JSON.parse(inbox.frames[i]);
      const expect = cases[i].expect;
      if (expect === "ice") {
        assert(answer.type === "ice" || answer.code === "rate_limited", `${describe(cases[i])}: ${inbox.frames[i]}`);
      } else if (expect.startsWith("pong:")) {
        assertEquals(answer, { type: "pong", n: Number(expect.slice(5)) }, describe(cases[i]));
      } else {
        assertEquals(answer.type, "error", describe(cases[i]));
        assertEquals(answer.code, expect, describe(cases[i]));
        assertEquals(typeof answer.message, "string");
      }
    }
    assert(!socket.closed, "the connection stays open after error frames");
  } finally {
    socket.abort();
    await socket.settled();
  }
}

/** Runs one closing case and checks the answer and the close code. */
async function runClosing(port: number, c: ClosingCase): Promise<void> {
  const inbox = new Inbox();
  const headers = c.http?.status === 426 ? undefined : c.headers;
  if (c.http?.status === 426) {
    const res = await fetch(`http://127.0.0.1:${port}${c.path}`);
    const body = await res.json();
    assertEquals(res.status, 426, c.label);
    assertEquals(body.error.code, c.http.code, c.label);
    return;
  }
  const socket = await RawSocket.open({
    hostname: "127.0.0.1",
    port,
    path: c.path,
    headers,
    onText: inbox.push,
  });
  if (!(socket instanceof RawSocket)) {
    assert(c.http, `${c.label}: unexpected refusal ${socket.status} ${socket.body}`);
    assertEquals(socket.status, c.http.status, c.label);
    assertEquals(JSON.parse(socket.body).error.code, c.http.code, c.label);
    return;
  }
  try {
    assert(!c.http, `${c.label}: upgraded, expected HTTP ${c.http?.status}`);
    const room = new URL(c.path, "http://x").searchParams.get("room")!;
    if (c.join) {
      socket.sendText(JSON.stringify(await provenHello(room, inbox, socket)));
      await inbox.atLeast(1, socket);
      const first = JSON.parse(inbox.frames.shift()!);
      assertEquals(first.type, "welcome", `${c.label}: ${JSON.stringify(first)}`);
    }
    if (c.hello) socket.sendText(JSON.stringify({ ...await provenHello(room, inbox, socket), ...c.hello }));
    for (const bytes of c.send) socket.sendBytes(bytes);
    const deadline = Date.now() + WAIT_MS;
    while (!socket.closed) {
      if (Date.now() > deadline) throw new Error(`${c.label} (${c.path.slice(0, 80)}): not closed after ${WAIT_MS} ms`);
      await new Promise((r) => setTimeout(r, 10));
    }
    const errors = inbox.frames.map((f) => JSON.parse(f)).filter((f) => f.type === "error");
    if (c.codes.length > 0) {
      assertEquals(
        errors.length,
        1,
        `${c.label} (${c.path.slice(0, 80)}): one error frame, got ${inbox.frames.join(" ")}`,
      );
      assert(c.codes.includes(errors[0].code), `${c.label}: code ${errors[0].code}, expected ${c.codes}`);
    } else {
      assertEquals(errors.length, 0, `${c.label}: no error frame`);
    }
    const closeCode = socket.closeCode;
    assert(c.close.includes(closeCode), `${c.label} (${c.path.slice(0, 80)}): close ${closeCode}, expected ${c.close}`);
  } finally {
    socket.abort();
    await socket.settled();
  }
}

/** Two peers chatting in their own room: every message delivered once, in order, and acknowledged. */
class ChatPair {
  #port: number;
  #room: string;
  #a!: { socket: RawSocket; peer: string; inbox: Inbox };
  #b!: { socket: RawSocket; peer: string; inbox: Inbox };
  #sent = 0;

  constructor(port: number, room: string) {
    this.#port = port;
    this.#room = room;
  }

  async open(): Promise<void> {
    const ia = new Inbox();
    const a = await join(this.#port, this.#room, ia);
    this.#a = { ...a, inbox: ia };
    const ib = new Inbox();
    const b = await join(this.#port, this.#room, ib);
    this.#b = { ...b, inbox: ib };
  }

  /** Sends the next message from each side, until `CHAT_MESSAGES` each. */
  step(): void {
    if (this.#sent >= CHAT_MESSAGES) return;
    const n = this.#sent++;
    this.#a.socket.sendText(`{"type":"chat","id":"a${n}","data":"fromA${n}"}`);
    this.#b.socket.sendText(`{"type":"chat","id":"b${n}","to":"${this.#a.peer}","data":"fromB${n}"}`);
  }

  get done(): boolean {
    return this.#sent >= CHAT_MESSAGES;
  }

  /** Waits for everything and checks order, uniqueness, sender stamping and acks. */
  async verify(): Promise<void> {
    while (!this.done) this.step();
    for (
      const [self, other, mine, theirs] of [
        [this.#a, this.#b, "a", "b"],
        [this.#b, this.#a, "b", "a"],
      ] as const
    ) {
      const frames = () => self.inbox.frames.map((f) => JSON.parse(f));
      const deadline = Date.now() + WAIT_MS;
      while (
        frames().filter((f) => f.type === "chat").length < CHAT_MESSAGES ||
        frames().filter((f) => f.type === "accepted").length < CHAT_MESSAGES
      ) {
        if (Date.now() > deadline) throw new Error(`chat pair: ${mine} is missing frames`);
        await new Promise((r) => setTimeout(r, 20));
      }
      const all = frames();
      const chats = all.filter((f) => f.type === "chat");
      assertEquals(chats.map((f) => f.id), Array.from({ length: CHAT_MESSAGES }, (_, i) => `${theirs}${i}`));
      assert(chats.every((f) => f.from === other.peer), "the server stamps the sender");
      const acks = all.filter((f) => f.type === "accepted");
      assertEquals(acks.map((f) => f.id), Array.from({ length: CHAT_MESSAGES }, (_, i) => `${mine}${i}`));
      const errors = all.filter((f) => f.type === "error");
      assertEquals(errors, [], "the chatting pair gets no errors");
    }
  }

  async close(): Promise<void> {
    for (const side of [this.#a, this.#b]) {
      if (!side) continue;
      side.socket.abort();
      await side.socket.settled();
    }
  }
}

Deno.test("the signal server survives fuzzed frames and query strings, answers each as documented, and loses no chat", async (t) => {
  console.log(`fuzz seed ${SEED} (replay with FUZZ_SEED=${SEED})`);
  const g = new Gen(SEED);
  const server = await ServerProcess.start({
    env: {
      // The limits are not under test here (signal_limits_test covers them): the fuzzer must not trip them.
      RATE_CONN: "1000000000",
      RATE_CONN_BURST: "1000000000",
      RATE_ADDR: "1000000000",
      RATE_ADDR_BURST: "1000000000",
      RATE_CONN_BYTES: "1000000000000",
      RATE_CONN_BYTES_BURST: "1000000000000",
      RATE_ADDR_BYTES: "1000000000000",
      RATE_ADDR_BYTES_BURST: "1000000000000",
      MAX_ROOMS_PER_ADDRESS: "1000000",
      NEW_ROOM_RATE_ADDR_BURST: "1000000",
      JOIN_RATE_ADDR_BURST: "1000000",
      ABUSE_STRIKES: "1000000000",
      BUDGET_ADDR_ROOMS: "1000000",
    },
  });
  const pair = new ChatPair(server.port, validRoom(g));
  try {
    await pair.open();
    const closingCount = Math.round(TOTAL_CASES * CLOSING_SHARE);
    const openCount = TOTAL_CASES - closingCount;
    const openCases = Array.from({ length: openCount }, (_, i) => openCase(g, i));
    const closingCases = Array.from({ length: closingCount }, () => closingCase(g));
    const chatTimer = setInterval(() => pair.step(), 2);
    try {
      await t.step(`${openCount} bad frames on joined connections get their error frame, in order`, async () => {
        const batches: OpenCase[][] = [];
        for (let i = 0; i < openCases.length; i += FRAMES_PER_CONNECTION) {
          batches.push(openCases.slice(i, i + FRAMES_PER_CONNECTION));
        }
        // A fixed sub-seed per batch keeps room ids reproducible whatever the scheduling.
        const seeds = batches.map(() => g.int(2 ** 31));
        let next = 0;
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (next < batches.length) {
            const i = next++;
            await runOpenBatch(server.port, new Gen(seeds[i]), batches[i]);
          }
        }));
      });
      await t.step(`${closingCount} closing cases get their error frame and close code`, async () => {
        let next = 0;
        const counts = new Map<string, number>();
        await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
          while (next < closingCases.length) {
            const c = closingCases[next++];
            counts.set(c.label, (counts.get(c.label) ?? 0) + 1);
            await runClosing(server.port, c);
          }
        }));
        console.log(`closing cases: ${[...counts].map(([k, v]) => `${k} ${v}`).join(", ")}`);
      });
    } finally {
      clearInterval(chatTimer);
    }
    await t.step("the pair chatting in parallel lost nothing", async () => {
      await pair.verify();
    });
    await t.step("the server is still up and never logged an uncaught error", async () => {
      const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
      assertEquals(res.status, 200);
      await res.body?.cancel();
      const crashes = server.output.filter((line) => /uncaught|panicked|RangeError|TypeError/i.test(line));
      assertEquals(crashes, []);
    });
  } finally {
    await pair.close();
    await server.stop();
  }
});
