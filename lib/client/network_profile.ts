/**
 * The network profile: what kind of device and network the page runs on, and
 * EVERY timing number of the client in one place. One algorithm everywhere;
 * the profile (mobile, cellular, save-data, slow link, hidden tab) only tunes
 * its numbers. The environment is injected, so tests pass a fake navigator.
 *
 * The seed's numbers (P2P setup timeout 10 s mobile / 15 s desktop, ICE
 * candidate pool 10, retry every 1 s mobile / 2 s desktop) are kept as
 * defaults where they make sense; ours never give up and never make a message
 * wait for P2P.
 * @module
 */

/** The slice of `navigator.connection` (Network Information API) we read. */
export interface ConnectionLike {
  /** Link type: "cellular", "wifi", "ethernet", "none"... (Chromium on Android and ChromeOS only). */
  type?: string;
  /** Measured link quality: "slow-2g", "2g", "3g" or "4g". */
  effectiveType?: string;
  /** The user asked to save data (Data Saver / Lite mode). */
  saveData?: boolean;
  /** Fires `change` when the link changes; absent in fakes that never change. */
  addEventListener?(type: "change", listener: () => void): void;
  /** Pair of `addEventListener`. */
  removeEventListener?(type: "change", listener: () => void): void;
}

/** The slice of `navigator` we read. */
export interface NavigatorLike {
  /** User agent string, the fallback for mobile detection. */
  userAgent?: string;
  /** User-Agent Client Hints: `mobile` is the browser's own answer (Chromium only). */
  userAgentData?: { mobile?: boolean };
  /** Network Information API, where present. */
  connection?: ConnectionLike;
  /** Whether the browser believes it is online. */
  onLine?: boolean;
}

/** Something that dispatches events by name (window, document, or a fake `EventTarget`). */
export interface EventSourceLike {
  /** Subscribes a listener. */
  addEventListener(type: string, listener: () => void): void;
  /** Unsubscribes a listener. */
  removeEventListener(type: string, listener: () => void): void;
}

/** Everything the profile looks at; `browserEnvironment()` fills it from the page. */
export interface NetworkEnvironment {
  /** The navigator (user agent, client hints, connection, onLine). */
  navigator?: NavigatorLike;
  /** `window.matchMedia`, for `(pointer: coarse)`. */
  matchMedia?: (query: string) => { matches: boolean };
  /** The document: its `visibilityState` and `visibilitychange` events. */
  document?: Partial<EventSourceLike> & { visibilityState?: string };
  /** The window: `online` and `offline` events. */
  window?: Partial<EventSourceLike>;
}

/** What the profile found out about the device and link. */
export interface NetworkFacts {
  /** A phone or tablet: client hints `mobile`, a mobile user agent, or a coarse primary pointer. */
  mobileDevice: boolean;
  /** The link is cellular (Network Information `type`), whatever the device. */
  cellular: boolean;
  /** Mobile numbers apply: a mobile device or a cellular link. */
  mobile: boolean;
  /** The link measures as 2G or worse (`effectiveType` "slow-2g" or "2g"). */
  slow: boolean;
  /** The user asked to save data. */
  saveData: boolean;
  /** The tab is hidden: browsers throttle timers, so we poll less and re-check on `visible`. */
  hidden: boolean;
  /** The browser's `navigator.onLine` (true when unknown). */
  online: boolean;
}

/** Every timing number of the client, in milliseconds unless named otherwise. */
export interface NetworkTimings {
  /** Reconnect backoff base: the first retry comes within this (full jitter). Seed: 1 s mobile / 2 s desktop. */
  reconnectBaseMs: number;
  /** Reconnect backoff cap: never wait longer than this between tries, and never give up. */
  reconnectCapMs: number;
  /** A WebSocket still not open after this is abandoned and retried: a half-dead link can hang a connect. */
  connectTimeoutMs: number;
  /**
   * Heartbeat period while a conversation goes on: an app-level ping after this long without a frame
   * from the server, since browsers hide WebSocket pings.
   */
  heartbeatIntervalMs: number;
  /**
   * Heartbeat period once nothing but heartbeats moved for a whole period: fewer radio wake-ups on an
   * idle phone. Below half the server's `WS_IDLE_TIMEOUT` (60 s), so the server never pings a visible
   * client and each idle period costs one wake-up; and below the 30 s carriers keep an idle mapping.
   */
  heartbeatQuietMs: number;
  /** No pong within this after a heartbeat ping means the socket is dead: reconnect. */
  heartbeatTimeoutMs: number;
  /** No pong within this after a network event (online, visible, link change) means dead: found in seconds. */
  livenessTimeoutMs: number;
  /** How long a message may wait for P2P before going by relay: 0 is relay first (the seed waited the setup timeout). */
  relayHoldMs: number;
  /** A peer link not open after this is "not now"; traffic stays on the relay. Seed: 10 s mobile / 15 s desktop. */
  p2pSetupTimeoutMs: number;
  /** Backoff base between P2P attempts after a failure or timeout. */
  p2pRetryBaseMs: number;
  /** Backoff cap between P2P attempts: keep trying, slowly, because networks change. */
  p2pRetryCapMs: number;
  /** ICE `disconnected` this long triggers an ICE restart: it often heals itself within a second or two. */
  iceDisconnectedGraceMs: number;
  /**
   * A DataChannel that carried no chat this long closes, and the next message sent opens it again (the relay
   * carries chat meanwhile). An open one costs a phone about 12 KB and 25 radio wake-ups a minute while idle (ICE
   * consent checks, SCTP heartbeats: 707 KB and 1,500 wake-ups an hour in `bench:wire`'s netlab pair); opening one
   * again costs one ICE and DTLS handshake, a few KB. So phones close after 2 minutes, desktops after 10.
   */
  p2pIdleCloseMs: number;
  /** ICE candidates gathered ahead of the offer. Seed: 10. Fewer with save-data (each costs traffic). */
  iceCandidatePoolSize: number;
  /** Refresh ICE servers this long before their TURN credential expires, so a restart never uses a stale one. */
  iceRefreshMarginMs: number;
  /** An unacknowledged message is re-sent after this, over whichever path works then. */
  resendIntervalMs: number;
  /** An end-to-end ack not seen within this counts the path as suspect (the courier may switch paths). */
  ackTimeoutMs: number;
  /** Acks to one peer within this of the previous one wait and go together: a burst costs one ack frame. */
  ackCoalesceMs: number;
}

/** The profile: facts plus the timings they select. */
export interface NetworkProfile extends NetworkTimings {
  /** What was detected; kept for the diagnostics view. */
  facts: NetworkFacts;
}

/** Desktop on a good link: patient, since these links rarely change under us. */
export const DESKTOP_TIMINGS: Readonly<NetworkTimings> = {
  reconnectBaseMs: 1_000,
  reconnectCapMs: 30_000,
  connectTimeoutMs: 10_000,
  heartbeatIntervalMs: 25_000,
  heartbeatQuietMs: 25_000,
  heartbeatTimeoutMs: 10_000,
  livenessTimeoutMs: 5_000,
  relayHoldMs: 0,
  p2pSetupTimeoutMs: 15_000,
  p2pRetryBaseMs: 5_000,
  p2pRetryCapMs: 60_000,
  iceDisconnectedGraceMs: 3_000,
  p2pIdleCloseMs: 600_000,
  iceCandidatePoolSize: 10,
  iceRefreshMarginMs: 60_000,
  resendIntervalMs: 5_000,
  ackTimeoutMs: 8_000,
  ackCoalesceMs: 50,
};

/** Mobile device or cellular link: NATs rebind and links switch, so detect death fast and retry sooner. */
export const MOBILE_TIMINGS: Readonly<NetworkTimings> = {
  reconnectBaseMs: 500,
  reconnectCapMs: 15_000,
  connectTimeoutMs: 8_000,
  heartbeatIntervalMs: 15_000,
  heartbeatQuietMs: 25_000,
  heartbeatTimeoutMs: 5_000,
  livenessTimeoutMs: 2_500,
  relayHoldMs: 0,
  p2pSetupTimeoutMs: 10_000,
  p2pRetryBaseMs: 5_000,
  p2pRetryCapMs: 60_000,
  iceDisconnectedGraceMs: 2_000,
  p2pIdleCloseMs: 120_000,
  iceCandidatePoolSize: 10,
  iceRefreshMarginMs: 60_000,
  resendIntervalMs: 3_000,
  ackTimeoutMs: 5_000,
  ackCoalesceMs: 50,
};

/** Factor on round-trip-bound timeouts on a 2G link (RTTs of 1-2 s are normal there). */
export const SLOW_LINK_FACTOR = 3;
/** Factor on heartbeat periods with save-data or a hidden tab: fewer wake-ups and bytes. */
export const QUIET_FACTOR = 2;
/** ICE candidate pool size with save-data: gather a few ahead, not ten. */
export const SAVE_DATA_CANDIDATE_POOL = 2;

const MOBILE_UA = /Android|iPhone|iPad|iPod|Mobile|Opera Mini|IEMobile|BlackBerry|Silk|Kindle/i;

/** Reads device and link facts from an environment (all fields optional; unknown means desktop, visible, online). */
export function detectFacts(env: NetworkEnvironment): NetworkFacts {
  const nav = env.navigator ?? {};
  const hinted = nav.userAgentData?.mobile === true;
  const uaMobile = MOBILE_UA.test(nav.userAgent ?? "");
  const coarse = env.matchMedia?.("(pointer: coarse)").matches === true;
  const mobileDevice = hinted || uaMobile || coarse;
  const connection = nav.connection;
  const cellular = connection?.type === "cellular";
  const effective = connection?.effectiveType;
  return {
    mobileDevice,
    cellular,
    mobile: mobileDevice || cellular,
    slow: effective === "2g" || effective === "slow-2g",
    saveData: connection?.saveData === true,
    hidden: env.document?.visibilityState === "hidden",
    online: nav.onLine !== false,
  };
}

/** Derives timings from facts: mobile or desktop base, then slow-link, save-data and hidden-tab adjustments. */
export function timingsFor(facts: NetworkFacts): NetworkTimings {
  const t: NetworkTimings = { ...(facts.mobile ? MOBILE_TIMINGS : DESKTOP_TIMINGS) };
  if (facts.slow) {
    t.connectTimeoutMs *= SLOW_LINK_FACTOR;
    t.heartbeatTimeoutMs *= SLOW_LINK_FACTOR;
    t.livenessTimeoutMs *= SLOW_LINK_FACTOR;
    t.p2pSetupTimeoutMs *= SLOW_LINK_FACTOR;
    t.resendIntervalMs *= SLOW_LINK_FACTOR;
    t.ackTimeoutMs *= SLOW_LINK_FACTOR;
  }
  if (facts.saveData) {
    t.heartbeatIntervalMs *= QUIET_FACTOR;
    t.heartbeatQuietMs *= QUIET_FACTOR;
    t.iceCandidatePoolSize = SAVE_DATA_CANDIDATE_POOL;
  }
  if (facts.hidden) {
    t.heartbeatIntervalMs *= QUIET_FACTOR;
    t.heartbeatQuietMs *= QUIET_FACTOR;
  }
  return t;
}

/** The profile for an environment; `overrides` replace single numbers (tests, the seed-policy benchmark). */
export function profileFor(env: NetworkEnvironment, overrides: Partial<NetworkTimings> = {}): NetworkProfile {
  const facts = detectFacts(env);
  return { ...timingsFor(facts), ...overrides, facts };
}

/** The page's own environment (globals), or an empty one under Deno. */
export function browserEnvironment(): NetworkEnvironment {
  const g = globalThis as unknown as {
    navigator?: NavigatorLike;
    matchMedia?: (query: string) => { matches: boolean };
    document?: NetworkEnvironment["document"];
    addEventListener?: EventSourceLike["addEventListener"];
    removeEventListener?: EventSourceLike["removeEventListener"];
  };
  return {
    navigator: g.navigator,
    matchMedia: typeof g.matchMedia === "function" ? (query) => g.matchMedia!(query) : undefined,
    document: g.document,
    window: typeof g.addEventListener === "function" ? (g as EventSourceLike) : undefined,
  };
}

/** Why the network may have changed: each one should reset backoff and probe liveness (except offline/hidden). */
export type NetworkChangeReason = "online" | "offline" | "visible" | "hidden" | "connection";

/** A network event and the profile recomputed at that moment. */
export interface NetworkChange {
  /** What happened. */
  reason: NetworkChangeReason;
  /** The profile after the event. */
  profile: NetworkProfile;
}

/** Calls `onChange` on `online`, `offline`, `visibilitychange` and Network Information `change`; returns unsubscribe. */
export function watchNetwork(
  env: NetworkEnvironment,
  onChange: (change: NetworkChange) => void,
  overrides: Partial<NetworkTimings> = {},
): () => void {
  const emit = (reason: NetworkChangeReason) => onChange({ reason, profile: profileFor(env, overrides) });
  const onOnline = () => emit("online");
  const onOffline = () => emit("offline");
  const onVisibility = () => emit(env.document?.visibilityState === "hidden" ? "hidden" : "visible");
  const onConnection = () => emit("connection");
  const win = env.window;
  const doc = env.document;
  const connection = env.navigator?.connection;
  win?.addEventListener?.("online", onOnline);
  win?.addEventListener?.("offline", onOffline);
  doc?.addEventListener?.("visibilitychange", onVisibility);
  connection?.addEventListener?.("change", onConnection);
  let subscribed = true;
  return () => {
    if (!subscribed) return;
    subscribed = false;
    win?.removeEventListener?.("online", onOnline);
    win?.removeEventListener?.("offline", onOffline);
    doc?.removeEventListener?.("visibilitychange", onVisibility);
    connection?.removeEventListener?.("change", onConnection);
  };
}
