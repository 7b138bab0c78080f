/**
 * How a load-generator client speaks to each contender of the server bench:
 * where it connects, when it is ready, and how a relayed frame addressed to
 * another client looks. Each relayed frame carries a timestamp marker
 * `QTS<step>_<µs>_` (base64url characters only, so it also fits Parley's
 * opaque chat `data`) inside a string field, which every contender forwards
 * verbatim, so the receiver measures latency without parsing JSON.
 * @module
 */

import { admissionKey, helloProof } from "../../../lib/protocol/admission.ts";
import { RawSocket } from "./raw_socket.ts";
import { PROTOCOL_VERSION } from "../../../lib/protocol/version.ts";

/** Names of the contenders' wire protocols. */
export type ProtocolName = "peerjs" | "bare" | "parley-signal" | "parley-chat";

/** One connected, ready client of a relay pair. */
export interface Endpoint {
  /** The socket. */
  socket: RawSocket;
  /** The id other clients address this one by. */
  id: string;
}

/** Where to connect and how to frame, for one contender. */
export interface ClientProtocol {
  /** Opens one client whose text frames go to `onText`; resolves once the server said it is ready. */
  connect(index: number, onText: (text: string) => void): Promise<Endpoint>;
  /** Opens two clients that can address each other. */
  connectPair(index: number, onText: (text: string) => void): Promise<[Endpoint, Endpoint]>;
  /** The text of one relayed frame from one endpoint to another, carrying `marker`. */
  frame(from: Endpoint, to: Endpoint, marker: string): string;
}

/** Where the contender listens. */
export interface Target {
  /** Loopback address. */
  hostname: string;
  /** Port. */
  port: number;
}

/** An SDP-sized filler, so frames are the size of real signaling traffic (~300 B). */
const FILLER = "v=0 o=- 4611731400430051336 2 IN IP4 127.0.0.1 s=- t=0 0 a=group:BUNDLE 0 " +
  "a=msid-semantic: WMS m=application 9 UDP/DTLS/SCTP webrtc-datachannel c=IN IP4 0.0.0.0 " +
  "a=ice-ufrag:abcd a=ice-pwd:0123456789abcdefghijkl";

/**
 * Opens a socket, sends `greeting` if given (protocols where the client speaks
 * first), and resolves with the server's first text frame; later frames go to `onText`.
 */
export async function openWithHello(
  target: Target,
  path: string,
  onText: (text: string) => void,
  greeting?: string,
): Promise<{ socket: RawSocket; hello: string }> {
  let resolveHello!: (text: string) => void;
  let rejectHello!: (err: Error) => void;
  const hello = new Promise<string>((res, rej) => {
    resolveHello = res;
    rejectHello = rej;
  });
  let first = true;
  const opened = await RawSocket.open({
    hostname: target.hostname,
    port: target.port,
    path,
    onText: (text) => {
      if (first) {
        first = false;
        resolveHello(text);
      } else {
        onText(text);
      }
    },
    onClose: (code, reason) => {
      if (first) rejectHello(new Error(`closed ${code} ${reason} before hello on ${path}`));
    },
  });
  if (!(opened instanceof RawSocket)) {
    throw new Error(`upgrade refused on ${path}: ${opened.status} ${opened.body.slice(0, 200)}`);
  }
  if (greeting !== undefined) opened.sendText(greeting);
  return { socket: opened, hello: await hello };
}

function peerjs(target: Target): ClientProtocol {
  const self: ClientProtocol = {
    async connect(index, onText) {
      const id = `p${index}-${crypto.randomUUID().slice(0, 8)}`;
      const { socket, hello } = await openWithHello(target, `/peerjs?key=peerjs&id=${id}&token=t${index}`, onText);
      if (!hello.includes('"OPEN"')) throw new Error(`PeerServer refused ${id}: ${hello}`);
      return { socket, id };
    },
    async connectPair(index, onText) {
      return [await self.connect(2 * index, onText), await self.connect(2 * index + 1, onText)];
    },
    frame(_from, to, marker) {
      return `{"type":"OFFER","dst":"${to.id}","payload":{"sdp":{"type":"offer","sdp":"${FILLER} ${marker}"},` +
        `"type":"data","connectionId":"dc_bench","label":"bench","reliable":true,"serialization":"json"}}`;
    },
  };
  return self;
}

function bare(target: Target): ClientProtocol {
  const self: ClientProtocol = {
    async connect(index, onText) {
      const id = `b${index}-${crypto.randomUUID().slice(0, 8)}`;
      const { socket } = await openWithHello(target, `/relay?id=${id}`, onText);
      return { socket, id };
    },
    async connectPair(index, onText) {
      return [await self.connect(2 * index, onText), await self.connect(2 * index + 1, onText)];
    },
    // Same frame as PeerServer's, so both do the same parse and serialise.
    frame: (from, to, marker) => peerjs(target).frame(from, to, marker),
  };
  return self;
}

/** Parley: `/api/signal?v=<version>&room=<id>`, the server's challenge, a `hello` proving the room key, then the `welcome` names this peer. */
function parley(target: Target, kind: "signal" | "chat"): ClientProtocol {
  let messageId = 0;
  const self: ClientProtocol = {
    async connect(index, onText) {
      // Pairs share a room; lone clients (idle sockets) get rooms of two as well.
      return await joinRoom(roomFor(Math.floor(index / 2)), onText);
    },
    async connectPair(index, onText) {
      const room = roomFor(index);
      return [await joinRoom(room, onText), await joinRoom(room, onText)];
    },
    frame(_from, to, marker) {
      if (kind === "signal") {
        return `{"type":"signal","to":"${to.id}","data":{"type":"offer","sdp":"${FILLER} ${marker}"}}`;
      }
      return `{"type":"chat","id":"m${messageId++}","to":"${to.id}","data":"${CHAT_FILLER}${marker}"}`;
    },
  };
  async function joinRoom(room: string, onText: (text: string) => void): Promise<Endpoint> {
    let answered!: (text: string) => void;
    const answer = new Promise<string>((resolve) => answered = resolve);
    let first = true;
    const { socket, hello: challenge } = await openWithHello(
      target,
      `/api/signal?v=${PROTOCOL_VERSION}&room=${room}`,
      (text) => {
        if (first) {
          first = false;
          answered(text);
        } else {
          onText(text);
        }
      },
    );
    const { nonce } = JSON.parse(challenge);
    // The verifier goes with the first hello, so a new room costs no extra round trip.
    const verifier = await verifierOf(room);
    socket.sendText(
      JSON.stringify({ type: "hello", v: PROTOCOL_VERSION, proof: await helloProof(verifier, room, nonce), verifier }),
    );
    const text = await answer;
    const welcome = JSON.parse(text);
    if (welcome.type !== "welcome") throw new Error(`Parley refused a join: ${text}`);
    return { socket, id: welcome.peer };
  }
  return self;
}

/** The room key every bench client holds. */
const BENCH_ROOM_KEY = new Uint8Array(32).fill(3);
const verifiers = new Map<string, Promise<string>>();
/** The admission key (= verifier) of a bench room, derived once per room. */
function verifierOf(room: string): Promise<string> {
  let verifier = verifiers.get(room);
  if (!verifier) {
    verifier = admissionKey(BENCH_ROOM_KEY, room);
    verifiers.set(room, verifier);
  }
  return verifier;
}

/** A room id per pair: 22+ base64url characters, distinct per run. */
const RUN = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
function roomFor(pair: number): string {
  return `bench${RUN}r${pair}`.padEnd(22, "0");
}

/** Base64url filler of the same size as `FILLER`, for chat ciphertext. */
const CHAT_FILLER = btoa(FILLER).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "").slice(0, 200);

/** The client protocol of `name` against `target`. */
export function clientProtocol(name: ProtocolName, target: Target): ClientProtocol {
  switch (name) {
    case "peerjs":
      return peerjs(target);
    case "bare":
      return bare(target);
    case "parley-signal":
      return parley(target, "signal");
    case "parley-chat":
      return parley(target, "chat");
  }
}

/** Extracts `[step, ms]` from a frame carrying a marker, or undefined. */
export function readMarker(text: string): [number, number] | undefined {
  const at = text.indexOf("QTS");
  if (at < 0) return undefined;
  const mid = text.indexOf("_", at + 3);
  const end = text.indexOf("_", mid + 1);
  return [Number(text.slice(at + 3, mid)), Number(text.slice(mid + 1, end)) / 1000];
}

/** The marker for `step` sent at time `ms` (performance.now(), whole microseconds). */
export function marker(step: number, ms: number): string {
  return `QTS${step}_${Math.round(ms * 1000)}_`;
}
