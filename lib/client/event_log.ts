/**
 * The client's event log: the newest structured events for the
 * diagnostics view, with the seed's console names so its troubleshooting
 * advice ("look for ICE connection state: connected") still applies.
 * Printed to the console only when enabled (the page passes `?debug=1`).
 * @module
 */

/** The seed's event names (and ours), one place so the UI and tests agree on spelling. */
export const EVENTS = {
  /** The client core started. */
  INITIALIZED: "P2P Service initialized",
  /** A WebSocket connect began. */
  WS_CONNECTING: "WebSocket connecting",
  /** The WebSocket opened and the server welcomed us. */
  WS_CONNECTED: "WebSocket connected",
  /** The WebSocket closed (detail: code, reason). */
  WS_CLOSED: "WebSocket closed",
  /** No pong in time: the socket is presumed dead. */
  WS_DEAD: "WebSocket liveness timeout",
  /** A reconnect or P2P retry was scheduled (detail: what, attempt, delay). */
  RETRY_SCHEDULED: "Retry scheduled",
  /** A network event: online, offline, visible, hidden, connection change. */
  NETWORK_CHANGED: "Network changed",
  /** The path to a peer changed (detail: peer, from, to). */
  PATH_CHANGED: "Path changed",
  /** P2P setup timed out; the relay carries on. */
  P2P_TIMEOUT: "P2P setup timeout",
  /** An ICE restart was started. */
  ICE_RESTART: "ICE restart",
  /** A DataChannel opened. */
  DATA_CHANNEL_OPEN: "DataChannel open",
  /** A DataChannel closed. */
  DATA_CHANNEL_CLOSED: "DataChannel closed",
  /** An unacknowledged message was sent again. */
  MESSAGE_RESENT: "Message re-sent",
  /** A message failed to decrypt or authenticate and was dropped. */
  MESSAGE_REJECTED: "Message rejected",
  /** The server sent an error frame. */
  SERVER_ERROR: "Server error",
} as const;

/** One of the fixed event names. */
export type EventName = typeof EVENTS[keyof typeof EVENTS];

/** The seed's ICE state line, e.g. "ICE connection state: connected". */
export function iceStateEvent(state: string): string {
  return `ICE connection state: ${state}`;
}

/** One logged event. */
export interface LogEvent {
  /** When, in ms on the log's clock. */
  t: number;
  /** The event name: one of {@link EVENTS}, or an ICE state line. */
  name: string;
  /** Structured detail (peer, attempt, delay...), JSON-friendly. */
  detail?: Record<string, unknown>;
}

/** Where events are printed when enabled: `console` or a fake in tests. */
export interface ConsoleSink {
  /** Prints one line with its detail. */
  log(...data: unknown[]): void;
}

/** Options of an {@link EventLog}. */
export interface EventLogOptions {
  /** Events kept; older ones are dropped. Enough for a few minutes of a bad network. */
  capacity?: number;
  /** Print each event to the sink (the page enables it with `?debug=1`). */
  console?: boolean;
  /** Where to print; `globalThis.console` by default. */
  sink?: ConsoleSink;
  /** Clock for `t`; injectable for tests. */
  now?: () => number;
}

/** Default ring size. */
export const DEFAULT_EVENT_CAPACITY = 500;

/** The newest events, up to a capacity, with listeners. */
export class EventLog {
  /** Kept events, oldest first (a few hundred: dropping the oldest by `shift` costs nothing worth a ring buffer). */
  #kept: LogEvent[] = [];
  #capacity: number;
  #total = 0;
  #console: boolean;
  #sink: ConsoleSink;
  #now: () => number;
  #listeners = new Set<(event: LogEvent) => void>();

  /** Creates an empty log. */
  constructor(options: EventLogOptions = {}) {
    const capacity = options.capacity ?? DEFAULT_EVENT_CAPACITY;
    if (!(capacity >= 1)) throw new RangeError(`event log capacity must be at least 1, got ${capacity}`);
    this.#capacity = Math.floor(capacity);
    this.#console = options.console ?? false;
    this.#sink = options.sink ?? globalThis.console;
    this.#now = options.now ?? Date.now;
  }

  /** Events currently kept. */
  get size(): number {
    return this.#kept.length;
  }

  /** Events ever logged, including dropped ones: the view uses it to know something changed. */
  get total(): number {
    return this.#total;
  }

  /** Records an event, notifies listeners, and prints it when enabled. Returns the event. */
  add(name: string, detail?: Record<string, unknown>): LogEvent {
    const event: LogEvent = detail === undefined ? { t: this.#now(), name } : { t: this.#now(), name, detail };
    if (this.#kept.push(event) > this.#capacity) this.#kept.shift();
    this.#total++;
    if (this.#console) {
      if (detail === undefined) this.#sink.log(`[parley] ${name}`);
      else this.#sink.log(`[parley] ${name}`, detail);
    }
    for (const listener of this.#listeners) listener(event);
    return event;
  }

  /** Kept events, oldest first. */
  entries(): LogEvent[] {
    return [...this.#kept];
  }

  /** Calls `listener` on every new event; returns unsubscribe. A listener that throws is not hidden. */
  subscribe(listener: (event: LogEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /** Turns console printing on or off (the diagnostics view may toggle it). */
  setConsole(enabled: boolean): void {
    this.#console = enabled;
  }

  /** Drops every kept event (totals keep counting). */
  clear(): void {
    this.#kept = [];
  }
}
