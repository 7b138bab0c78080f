/**
 * The WebSocket to the signaling server, kept alive for as long as the page
 * is open: it answers the server's challenge with a hello (registering a new
 * room's verifier when asked), resumes its session with the token, asks for
 * ICE servers over the socket, reconnects forever with
 * full-jitter backoff, retries at once when the network comes back or the
 * tab becomes visible, and checks liveness after a network change so a dead
 * socket on a switched network is found in seconds. Its first connection may
 * adopt a socket the page opened before the client core loaded (the room
 * page's inline bootstrap), replaying the frames that socket received meanwhile.
 * @module
 */
import { type ReadonlySignal, signal } from "@preact/signals-core";
import {
  type ClientFrame,
  CLOSE,
  type IceServersFrame,
  type MemberProof,
  PROTOCOL_VERSION,
  type ServerFrame,
  type WelcomeFrame,
} from "../protocol/mod.ts";
import { Backoff } from "./backoff.ts";
import type { NetworkChangeReason, NetworkTimings } from "./network_profile.ts";
import { GLOBAL_TIMERS, type Timers, TimerSet } from "./timer_set.ts";

/** Where the socket stands, for the connection area of the UI. */
export type SocketState =
  | { kind: "connecting" }
  | { kind: "connected" }
  | { kind: "reconnecting"; nextAttemptAt: number; attempt: number }
  | { kind: "offline" }
  | { kind: "refused"; code: number; reason: string };

/** What the socket says in its `hello`, built afresh for every connection's challenge nonce. */
export interface HelloData {
  /** Session token from the last welcome, to resume the same peer id. */
  token?: string;
  /** The highest room log position this client has seen. */
  since?: number;
  /** The log epoch `since` counts in (`welcome.log.epoch`): a reset log then serves from its start. */
  epoch?: string;
  /** The admission proof over this connection's nonce. */
  proof: string;
  /** base64url(A): sent only when the server asks (`verifier_required`), to register a new room. */
  verifier?: string;
  /** Proof of the member key over the nonce, when the client has one. */
  member?: MemberProof;
}

/** A WebSocket opened before this class was loaded (the page's bootstrap), with the text frames it received since. */
export interface AdoptedSocket {
  /** The socket, connecting or open; one that is closing or closed is not adopted. */
  ws: WebSocket;
  /** Text frames received before adoption, oldest first (the server's `challenge` among them). */
  frames: readonly string[];
  /** The hello in force on the socket, sent by whoever opened it (in its URL or as a frame); kept for `verifier_required`. */
  hello?: HelloData;
  /** How many of `frames`, from the first, were answered already (a challenge, a `verifier_required`): not again. */
  answered?: number;
}

/** The timing numbers the socket uses, from the network profile. */
export type SignalSocketTimings = Pick<
  NetworkTimings,
  | "reconnectBaseMs"
  | "reconnectCapMs"
  | "connectTimeoutMs"
  | "heartbeatIntervalMs"
  | "heartbeatQuietMs"
  | "heartbeatTimeoutMs"
  | "livenessTimeoutMs"
>;

/** Options of a signal socket. */
export interface SignalSocketOptions {
  /** The signaling URL, e.g. `wss://host/api/signal?v=2&room=...`. */
  url: string;
  /** Creates a WebSocket: the browser's, or a fake in tests. */
  createWebSocket(url: string): WebSocket;
  /** Admission and resume data for the `hello` answering the challenge `nonce`; may be async (it signs). */
  hello(nonce: string): HelloData | Promise<HelloData>;
  /**
   * A socket already opened for this URL, taken at the first connect only: adopted when still connecting or open,
   * else (or when absent) the socket opens its own.
   */
  adopt?(): AdoptedSocket | undefined;
  /** Called for every frame from the server, the `welcome` included. */
  onFrame(frame: ServerFrame): void;
  /** Timing numbers from the network profile. */
  timings: SignalSocketTimings;
  /** Whether the browser believes it is online (`navigator.onLine`). */
  isOnline?(): boolean;
  /** Timers; default to the global ones. */
  timers?: Timers;
  /** The clock, for `nextAttemptAt`. */
  now?(): number;
  /** Random source for backoff jitter. */
  random?(): number;
  /** Structured event sink for the diagnostics log. */
  log?(name: string, detail?: Record<string, unknown>): void;
}

/** Close codes after which reconnecting cannot help: the user must act. */
const FATAL_CLOSES = new Set<number>([
  CLOSE.ADMISSION_REFUSED,
  CLOSE.BAD_REQUEST,
  CLOSE.UNSUPPORTED_DATA,
  CLOSE.REPLACED,
]);

/** WebSocket close code of an endpoint going away, e.g. `deno serve` stopping on SIGTERM. */
const GOING_AWAY = 1001;

/** Builds the signaling URL for a page at `origin`. */
export function signalUrl(origin: string, room: string): string {
  const url = new URL("/api/signal", origin);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  url.searchParams.set("v", String(PROTOCOL_VERSION));
  url.searchParams.set("room", room);
  return url.href;
}

/** A pending `ice` request: one at a time, shared by every caller. */
interface IceRequest {
  promise: Promise<IceServersFrame>;
  resolve(frame: IceServersFrame): void;
  reject(error: Error): void;
}

/** A self-healing connection to the signaling server. */
export class SignalSocket {
  #options: SignalSocketOptions;
  #timers: TimerSet<"retry" | "connect" | "heartbeat" | "deadline">;
  #now: () => number;
  #backoff: Backoff;
  #ws: WebSocket | null = null;
  #welcomed = false;
  #stopped = true;
  /** When a frame other than a heartbeat last went either way: the heartbeat is quieter once that is long ago. */
  #lastTraffic = 0;
  /** The hello sent on the current socket, kept to send again with `verifier` when the server asks. */
  #hello: HelloData | null = null;
  #ice: IceRequest | null = null;
  /** Whether the first connect has asked for a socket to adopt (only it may). */
  #adoptAsked = false;
  #state = signal<SocketState>({ kind: "connecting" });

  /** Where the socket stands. */
  readonly state: ReadonlySignal<SocketState> = this.#state;

  /** Creates the socket; call `start()` to connect. */
  constructor(options: SignalSocketOptions) {
    this.#options = options;
    this.#timers = new TimerSet(options.timers ?? GLOBAL_TIMERS);
    this.#now = options.now ?? Date.now;
    this.#backoff = new Backoff({
      baseMs: options.timings.reconnectBaseMs,
      capMs: options.timings.reconnectCapMs,
      random: options.random,
      now: this.#now,
    });
  }

  /** Whether the server has welcomed this connection, so frames can be sent. */
  get connected(): boolean {
    return this.#welcomed;
  }

  /** Connects, and keeps connecting until `stop()`. */
  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#connect();
  }

  /** Sends a frame; false when not connected (the caller keeps it for later). */
  send(frame: ClientFrame): boolean {
    const ws = this.#ws;
    if (!this.#welcomed || !ws || ws.readyState !== 1) return false;
    ws.send(JSON.stringify(frame));
    this.#lastTraffic = this.#now();
    return true;
  }

  /**
   * Asks the server for ICE servers (frame `ice`; sent at the next welcome when
   * not connected). Callers share one pending request and bound the wait
   * themselves (IceConfig does): it settles with the answer, or rejects on `stop()`.
   */
  requestIce(): Promise<IceServersFrame> {
    if (this.#stopped) return Promise.reject(new Error("the signal socket is stopped"));
    if (!this.#ice) {
      let resolve!: (frame: IceServersFrame) => void;
      let reject!: (error: Error) => void;
      const promise = new Promise<IceServersFrame>((res, rej) => (resolve = res, reject = rej));
      this.#ice = { promise, resolve, reject };
    }
    this.#send({ type: "ice" });
    return this.#ice.promise;
  }

  #send(frame: ClientFrame): void {
    const ws = this.#ws;
    if (this.#welcomed && ws && ws.readyState === 1) ws.send(JSON.stringify(frame));
  }

  /** Reacts to a network event from the profile's watcher. */
  networkEvent(reason: NetworkChangeReason): void {
    if (this.#stopped) return;
    this.#log("Network event", { reason });
    if (reason === "hidden") return;
    if (reason === "offline") {
      if (!this.#welcomed) this.#setOffline();
      return;
    }
    if (this.#welcomed) {
      // The socket may be dead on the old network without knowing it: ask now.
      this.#checkLiveness(this.#options.timings.livenessTimeoutMs);
    } else {
      this.retryNow();
    }
  }

  /** Skips the wait and reconnects now (the "Retry now" button, `online`, a visible tab). */
  retryNow(): void {
    if (this.#stopped || this.#welcomed) return;
    this.#backoff.reset();
    this.#timers.clear("retry");
    if (this.#ws && this.#ws.readyState === 0) return;
    this.#connect();
  }

  /** Closes the socket and stops reconnecting. */
  stop(): void {
    this.#stopped = true;
    this.#timers.clearAll();
    const ws = this.#ws;
    this.#ws = null;
    this.#welcomed = false;
    this.#ice?.reject(new Error("the signal socket is stopped"));
    this.#ice = null;
    if (ws) {
      this.#detach(ws);
      if (ws.readyState <= 1) ws.close(CLOSE.NORMAL, "bye");
    }
  }

  #connect(): void {
    this.#timers.clear("retry");
    const previous = this.#ws;
    if (previous) {
      this.#detach(previous);
      if (previous.readyState <= 1) previous.close(CLOSE.NORMAL, "reconnecting");
    }
    this.#welcomed = false;
    this.#state.value = { kind: "connecting" };
    this.#log("WebSocket connecting");
    const adopted = this.#takeAdopted();
    let ws: WebSocket;
    if (adopted) {
      ws = adopted.ws;
    } else {
      try {
        ws = this.#options.createWebSocket(this.#options.url);
      } catch (error) {
        this.#log("WebSocket failed to start", { error: String(error) });
        this.#scheduleReconnect();
        return;
      }
    }
    this.#ws = ws;
    this.#timers.set("connect", this.#options.timings.connectTimeoutMs, () => {
      this.#log("WebSocket connect timed out");
      this.#drop(ws);
    });

    this.#hello = adopted?.hello ?? null;
    // Frames of an adopted socket that its opener already answered: replayed to the client, not answered again.
    let answered = adopted?.answered ?? 0;
    // The hello waits for the server's challenge: its proof is bound to the challenge's nonce.
    const onMessage = (event: Pick<MessageEvent, "data">) => {
      const replied = answered > 0;
      if (replied) answered--;
      if (typeof event.data !== "string") return;
      let frame: ServerFrame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        this.#log("Unreadable frame from server");
        return;
      }
      this.#alive();
      switch (frame.type) {
        case "challenge":
          if (!this.#welcomed && !replied && typeof frame.nonce === "string") void this.#sayHello(ws, frame.nonce);
          return;
        case "error":
          if (frame.code === "verifier_required" && !this.#welcomed) {
            if (!replied) this.#registerRoom(ws);
            return;
          }
          break;
        case "ice":
          this.#ice?.resolve(frame);
          this.#ice = null;
          return;
        case "welcome":
          this.#onWelcome(frame);
          break;
        case "pong":
          return;
      }
      this.#lastTraffic = this.#now();
      this.#options.onFrame(frame);
    };
    ws.onmessage = onMessage;
    ws.onclose = (event: CloseEvent) => {
      if (ws !== this.#ws) return;
      this.#log("WebSocket closed", { code: event.code, reason: event.reason });
      this.#ws = null;
      this.#welcomed = false;
      this.#timers.clear("connect");
      this.#timers.clear("heartbeat");
      this.#timers.clear("deadline");
      if (this.#stopped) return;
      if (FATAL_CLOSES.has(event.code)) {
        this.#state.value = { kind: "refused", code: event.code, reason: event.reason };
        return;
      }
      // A restarting server (1012, or 1001 from a runtime that shuts down by itself)
      // wants us back at once, on whichever instance answers.
      if (event.code === CLOSE.SERVICE_RESTART || event.code === GOING_AWAY) this.#backoff.reset();
      // A slow consumer (4008) resumes at once: `since` brings what it had not read.
      if (event.code === CLOSE.SLOW_CONSUMER) this.#backoff.reset();
      this.#scheduleReconnect();
    };
    ws.onerror = () => {
      // A close event always follows; the reconnect is scheduled there.
    };
    // Frames the adopted socket received before these handlers, in order; no newer one can come in between.
    for (const data of adopted?.frames ?? []) {
      if (this.#ws !== ws) break;
      onMessage({ data });
    }
  }

  /** The socket to adopt at the first connect, if one is still usable; it is asked once. */
  #takeAdopted(): AdoptedSocket | undefined {
    if (this.#adoptAsked) return undefined;
    this.#adoptAsked = true;
    const adopted = this.#options.adopt?.();
    if (!adopted) return undefined;
    // CONNECTING (0) or OPEN (1): ours now. CLOSING or CLOSED: it failed before we came; open our own.
    if (adopted.ws.readyState > 1) {
      this.#log("Bootstrap socket already closed", { readyState: adopted.ws.readyState });
      return undefined;
    }
    this.#log("WebSocket adopted", { state: adopted.ws.readyState, frames: adopted.frames.length });
    return adopted;
  }

  /** Answers the challenge: builds the hello for its nonce and sends it, unless this socket was left meanwhile. */
  async #sayHello(ws: WebSocket, nonce: string): Promise<void> {
    let hello: HelloData;
    try {
      hello = await this.#options.hello(nonce);
    } catch (error) {
      this.#log("Hello could not be built", { error: String(error) });
      this.#drop(ws);
      return;
    }
    if (ws !== this.#ws || ws.readyState !== 1 || this.#welcomed) return;
    this.#hello = hello;
    const { verifier: _verifier, ...first } = hello;
    ws.send(JSON.stringify({ type: "hello", v: PROTOCOL_VERSION, ...first }));
  }

  /** The room is new: the same hello again, now with the verifier that registers it. */
  #registerRoom(ws: WebSocket): void {
    const hello = this.#hello;
    if (ws !== this.#ws || ws.readyState !== 1 || !hello?.verifier) {
      this.#log("Server asked for a verifier the client does not have");
      return;
    }
    this.#log("Registering a new room");
    ws.send(JSON.stringify({ type: "hello", v: PROTOCOL_VERSION, ...hello }));
  }

  #onWelcome(welcome: WelcomeFrame): void {
    this.#timers.clear("connect");
    this.#welcomed = true;
    this.#hello = null;
    this.#backoff.reset();
    this.#state.value = { kind: "connected" };
    this.#log("WebSocket connected", { peer: welcome.peer, resumed: welcome.resumed });
    this.#lastTraffic = this.#now();
    this.#scheduleHeartbeat();
    // An ICE request made while the socket was down goes out now.
    if (this.#ice) this.#send({ type: "ice" });
  }

  // Any frame proves the socket alive; a missing answer to a ping proves it dead.
  #alive(): void {
    this.#timers.clear("deadline");
    if (this.#welcomed) this.#scheduleHeartbeat();
  }

  /**
   * The next heartbeat: a period after the last frame from the server (any frame proves the socket
   * alive, so a busy socket never pings), the quiet period once only heartbeats moved for a whole
   * active period. Pings and pongs themselves are the smallest frames there are.
   */
  #scheduleHeartbeat(): void {
    const { heartbeatIntervalMs, heartbeatQuietMs } = this.#options.timings;
    const quiet = this.#now() - this.#lastTraffic >= heartbeatIntervalMs;
    this.#timers.set("heartbeat", quiet ? Math.max(heartbeatIntervalMs, heartbeatQuietMs) : heartbeatIntervalMs, () => {
      this.#checkLiveness(this.#options.timings.heartbeatTimeoutMs);
    });
  }

  #checkLiveness(timeoutMs: number): void {
    const ws = this.#ws;
    if (!ws || !this.#welcomed) return;
    if (this.#timers.has("deadline")) return;
    ws.send('{"type":"ping"}');
    this.#timers.set("deadline", timeoutMs, () => {
      this.#log("WebSocket dead: no pong", { afterMs: timeoutMs });
      // Skip the backoff: the server is likely fine, the path to it changed.
      this.#backoff.reset();
      this.#drop(ws);
    });
  }

  // Abandons a socket that cannot be trusted, without waiting for its close handshake.
  #drop(ws: WebSocket): void {
    if (ws !== this.#ws) return;
    this.#detach(ws);
    if (ws.readyState <= 1) ws.close(CLOSE.NORMAL, "dead");
    this.#ws = null;
    this.#welcomed = false;
    this.#timers.clear("connect");
    this.#timers.clear("heartbeat");
    this.#timers.clear("deadline");
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    if (this.#options.isOnline?.() === false) {
      this.#setOffline();
      return;
    }
    const delay = this.#backoff.next();
    this.#state.value = {
      kind: "reconnecting",
      nextAttemptAt: this.#backoff.nextAttemptAt!,
      attempt: this.#backoff.attempt,
    };
    this.#log("Retry scheduled", { what: "websocket", inMs: delay });
    this.#timers.set("retry", delay, () => this.#connect());
  }

  #setOffline(): void {
    this.#state.value = { kind: "offline" };
    // `online` usually wakes us; the capped retry covers browsers that never say so.
    this.#timers.set("retry", this.#options.timings.reconnectCapMs, () => this.#connect());
  }

  #detach(ws: WebSocket): void {
    ws.onopen =
      ws.onmessage =
      ws.onclose =
      ws.onerror =
        null;
  }

  #log(name: string, detail?: Record<string, unknown>): void {
    this.#options.log?.(name, detail);
  }
}
