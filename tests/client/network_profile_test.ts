import { assert, assertEquals } from "@std/assert";
import {
  browserEnvironment,
  type ConnectionLike,
  DESKTOP_TIMINGS,
  detectFacts,
  MOBILE_TIMINGS,
  type NetworkChange,
  type NetworkEnvironment,
  profileFor,
  QUIET_FACTOR,
  SAVE_DATA_CANDIDATE_POOL,
  SLOW_LINK_FACTOR,
  watchNetwork,
} from "../../lib/client/network_profile.ts";

const DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36";
const ANDROID_UA =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Mobile Safari/537.36";
const IPHONE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1";

function env(options: {
  ua?: string;
  hint?: boolean;
  coarse?: boolean;
  connection?: ConnectionLike;
  hidden?: boolean;
  onLine?: boolean;
} = {}): NetworkEnvironment {
  return {
    navigator: {
      userAgent: options.ua ?? DESKTOP_UA,
      userAgentData: options.hint === undefined ? undefined : { mobile: options.hint },
      connection: options.connection,
      onLine: options.onLine,
    },
    matchMedia: (query) => ({ matches: query === "(pointer: coarse)" && options.coarse === true }),
    document: { visibilityState: options.hidden ? "hidden" : "visible" },
  };
}

Deno.test("a desktop gets the desktop numbers, with the seed's 15 s P2P timeout and pool of 10", () => {
  const profile = profileFor(env());
  assertEquals(profile.facts.mobile, false);
  const { facts: _facts, ...timings } = profile;
  assertEquals(timings, { ...DESKTOP_TIMINGS });
  assertEquals(profile.p2pSetupTimeoutMs, 15_000);
  assertEquals(profile.iceCandidatePoolSize, 10);
  assertEquals(profile.reconnectBaseMs, 1_000);
  assertEquals(profile.relayHoldMs, 0);
});

Deno.test("a phone gets the mobile numbers, however it is detected", async (t) => {
  const cases: [string, NetworkEnvironment][] = [
    ["client hints say mobile", env({ hint: true })],
    ["an Android user agent", env({ ua: ANDROID_UA })],
    ["an iPhone user agent", env({ ua: IPHONE_UA })],
    ["a coarse pointer (iPad in desktop mode)", env({ coarse: true })],
    ["a cellular link on a laptop", env({ connection: { type: "cellular" } })],
  ];
  for (const [name, environment] of cases) {
    await t.step(name, () => {
      const profile = profileFor(environment);
      assert(profile.facts.mobile);
      assertEquals(profile.p2pSetupTimeoutMs, 10_000);
      assertEquals(profile.reconnectBaseMs, MOBILE_TIMINGS.reconnectBaseMs);
      assertEquals(profile.livenessTimeoutMs, 2_500);
      assertEquals(profile.iceDisconnectedGraceMs, 2_000);
    });
  }
  await t.step("the mobile numbers are faster than the desktop ones", () => {
    assert(MOBILE_TIMINGS.reconnectCapMs < DESKTOP_TIMINGS.reconnectCapMs);
    assert(MOBILE_TIMINGS.heartbeatIntervalMs < DESKTOP_TIMINGS.heartbeatIntervalMs);
    assert(MOBILE_TIMINGS.livenessTimeoutMs < DESKTOP_TIMINGS.livenessTimeoutMs);
  });
  await t.step("the cellular link and the device are reported apart", () => {
    const facts = detectFacts(env({ connection: { type: "cellular" } }));
    assertEquals([facts.mobileDevice, facts.cellular, facts.mobile], [false, true, true]);
  });
});

Deno.test("a 2G link stretches round-trip timeouts and keeps the backoff", () => {
  for (const effectiveType of ["2g", "slow-2g"]) {
    const profile = profileFor(env({ ua: ANDROID_UA, connection: { effectiveType } }));
    assert(profile.facts.slow);
    assertEquals(profile.livenessTimeoutMs, MOBILE_TIMINGS.livenessTimeoutMs * SLOW_LINK_FACTOR);
    assertEquals(profile.heartbeatTimeoutMs, MOBILE_TIMINGS.heartbeatTimeoutMs * SLOW_LINK_FACTOR);
    assertEquals(profile.connectTimeoutMs, MOBILE_TIMINGS.connectTimeoutMs * SLOW_LINK_FACTOR);
    assertEquals(profile.ackTimeoutMs, MOBILE_TIMINGS.ackTimeoutMs * SLOW_LINK_FACTOR);
    assertEquals(profile.reconnectBaseMs, MOBILE_TIMINGS.reconnectBaseMs);
    assertEquals(profile.reconnectCapMs, MOBILE_TIMINGS.reconnectCapMs);
  }
  assertEquals(profileFor(env({ connection: { effectiveType: "4g" } })).facts.slow, false);
});

Deno.test("save-data slows the heartbeat and gathers fewer candidates", () => {
  const profile = profileFor(env({ connection: { saveData: true } }));
  assert(profile.facts.saveData);
  assertEquals(profile.heartbeatIntervalMs, DESKTOP_TIMINGS.heartbeatIntervalMs * QUIET_FACTOR);
  assertEquals(profile.iceCandidatePoolSize, SAVE_DATA_CANDIDATE_POOL);
  assertEquals(profile.p2pSetupTimeoutMs, DESKTOP_TIMINGS.p2pSetupTimeoutMs);
});

Deno.test("a hidden tab slows the heartbeat only", () => {
  const profile = profileFor(env({ ua: ANDROID_UA, hidden: true }));
  assert(profile.facts.hidden);
  assertEquals(profile.heartbeatIntervalMs, MOBILE_TIMINGS.heartbeatIntervalMs * QUIET_FACTOR);
  assertEquals(profile.livenessTimeoutMs, MOBILE_TIMINGS.livenessTimeoutMs);
});

Deno.test("overrides replace single numbers (the seed-policy baseline waits for P2P)", () => {
  const profile = profileFor(env({ ua: ANDROID_UA }), { relayHoldMs: 10_000 });
  assertEquals(profile.relayHoldMs, 10_000);
  assertEquals(profile.p2pSetupTimeoutMs, 10_000);
});

Deno.test("an empty environment is an online, visible desktop", () => {
  const facts = detectFacts({});
  assertEquals(facts, {
    mobileDevice: false,
    cellular: false,
    mobile: false,
    slow: false,
    saveData: false,
    hidden: false,
    online: true,
  });
  assertEquals(detectFacts(env({ onLine: false })).online, false);
  assertEquals(typeof browserEnvironment(), "object");
});

class FakeConnection extends EventTarget implements ConnectionLike {
  type = "wifi";
  effectiveType = "4g";
  saveData = false;
}

Deno.test("watching reports online, offline, visibility and link changes until unsubscribed", async (t) => {
  const win = new EventTarget();
  const doc = Object.assign(new EventTarget(), { visibilityState: "visible" });
  const connection = new FakeConnection();
  const environment: NetworkEnvironment = {
    navigator: { userAgent: DESKTOP_UA, connection },
    window: win,
    document: doc,
  };
  const seen: NetworkChange[] = [];
  const unsubscribe = watchNetwork(environment, (change) => seen.push(change));
  await t.step("each event is reported with a fresh profile", () => {
    win.dispatchEvent(new Event("offline"));
    win.dispatchEvent(new Event("online"));
    doc.visibilityState = "hidden";
    doc.dispatchEvent(new Event("visibilitychange"));
    doc.visibilityState = "visible";
    doc.dispatchEvent(new Event("visibilitychange"));
    connection.type = "cellular";
    connection.dispatchEvent(new Event("change"));
    assertEquals(seen.map((c) => c.reason), ["offline", "online", "hidden", "visible", "connection"]);
    assertEquals(seen[2].profile.facts.hidden, true);
    assertEquals(seen[3].profile.facts.hidden, false);
    assertEquals(seen[4].profile.facts.cellular, true);
    assertEquals(seen[4].profile.p2pSetupTimeoutMs, MOBILE_TIMINGS.p2pSetupTimeoutMs);
  });
  await t.step("after unsubscribe nothing is reported", () => {
    unsubscribe();
    unsubscribe();
    win.dispatchEvent(new Event("online"));
    doc.dispatchEvent(new Event("visibilitychange"));
    connection.dispatchEvent(new Event("change"));
    assertEquals(seen.length, 5);
  });
});

Deno.test("watching works without a connection object or a document", () => {
  const win = new EventTarget();
  const seen: string[] = [];
  const unsubscribe = watchNetwork({ window: win }, (change) => seen.push(change.reason));
  win.dispatchEvent(new Event("online"));
  unsubscribe();
  win.dispatchEvent(new Event("online"));
  assertEquals(seen, ["online"]);
});
