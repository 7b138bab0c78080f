/**
 * Smoke tests of the netlab harness itself, with a minimal WebRTC page instead
 * of the app: real namespaces, real Chromium per phone, real coturn, real
 * impairments. They need root, iproute2, nftables, iptables, Chromium, coturn,
 * a C compiler and libnetfilter-queue-dev, and fail (never skip) without them.
 * Timings are printed, not asserted; the lossy link's RTT floor is asserted
 * because the delay line guarantees it.
 * @module
 */
import { assert, assertEquals, assertGreater, assertLessOrEqual } from "@std/assert";
import type { Browser } from "playwright-core";
import { CHROMIUM_PATH } from "../support/chromium.ts";
import { findExecutable } from "../support/coturn.ts";
import { buildDelayTool } from "./delay_tool.ts";
import {
  checkLabPrerequisites,
  CHROMIUM_NETWORK_SCAN_MS,
  Lab,
  type LabProcess,
  listNamespaces,
  type Phone,
  processAlive,
} from "./lab.ts";
import { PROFILES } from "./profiles.ts";
import { run, sleep } from "./shell.ts";
import {
  smokePeer,
  type SmokePeerOptions,
  type SmokePeerResult,
  smokeReconnect,
  smokeRestart,
  type SmokeRestartResult,
} from "./smoke_peer.ts";

const RELAY_PORT = 8_077;
const RELAY = new URL("./smoke_relay.ts", import.meta.url).pathname;
const CONNECT_TIMEOUT_MS = 20_000;

async function startRelay(lab: Lab): Promise<LabProcess> {
  return await lab.startServer({
    cmd: [
      Deno.execPath(),
      "run",
      "--quiet",
      "--no-config",
      "--allow-net",
      RELAY,
      lab.serverAddress,
      String(RELAY_PORT),
    ],
    port: RELAY_PORT,
  });
}

/** Opens a page per browser on the relay and connects the two; returns [offerer's view, answerer's view]. */
async function connectPair(
  relay: LabProcess,
  browsers: [Browser, Browser],
  room: string,
  peer: Pick<SmokePeerOptions, "iceServers" | "iceTransportPolicy">,
): Promise<[SmokePeerResult, SmokePeerResult]> {
  const pages = await Promise.all(browsers.map((browser) => browser.newPage()));
  try {
    await Promise.all(pages.map((page) => page.goto(relay.url + "/")));
    const signalUrl = `${relay.url.replace("http:", "ws:")}/ws?room=${room}`;
    const roles = ["offerer", "answerer"] as const;
    const settled = await Promise.allSettled(pages.map((page, i) =>
      page.evaluate(smokePeer, {
        ...peer,
        signalUrl,
        role: roles[i],
        message: `hello from ${roles[i]}`,
        timeoutMs: CONNECT_TIMEOUT_MS,
      })
    ));
    const [offerer, answerer] = bothOrThrow(settled);
    return [offerer, answerer];
  } finally {
    await Promise.all(pages.map((page) => page.close()));
  }
}

/** Both peers' results, or one error carrying BOTH peers' logs (one side's failure often starts on the other). */
function bothOrThrow<T>(settled: PromiseSettledResult<T>[]): T[] {
  const failed = settled.flatMap((r, i) => r.status === "rejected" ? [`peer ${i + 1}: ${r.reason}`] : []);
  if (failed.length) {
    for (const [i, r] of settled.entries()) {
      const log = r.status === "fulfilled" ? (r.value as { log?: string[] }).log : undefined;
      if (log) failed.push(`peer ${i + 1} succeeded:\n${log.join("\n")}`);
    }
  }
  if (failed.length) throw new Error(failed.join("\n\n"));
  return settled.map((r) => (r as PromiseFulfilledResult<T>).value);
}

function browsersFor(lab: Lab): Promise<[Browser, Browser]> {
  return Promise.all([lab.launchBrowser(lab.phones[0]), lab.launchBrowser(lab.phones[1])]) as Promise<
    [Browser, Browser]
  >;
}

function report(label: string, results: SmokePeerResult[]): void {
  const open = results.map((r) => `${Math.round(r.openMs)} ms`).join(" / ");
  const relay = results.map((r) => (r.relayGatheredMs === null ? "-" : `${Math.round(r.relayGatheredMs)} ms`)).join(
    " / ",
  );
  const pair = results.map((r) => `${r.local.candidateType}/${r.local.relayProtocol ?? r.local.protocol}`).join(" / ");
  console.log(`  [netlab] ${label}: DataChannel open ${open}; first relay candidate ${relay}; local ${pair}`);
}

Deno.test("the machine has everything the lab needs (root, ip netns, nft, iptables, chromium, coturn, cc)", async () => {
  await checkLabPrerequisites();
  await Deno.stat(CHROMIUM_PATH).catch((error) => {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: apt-get install -y chromium (${error})`);
  });
  await findExecutable("turnserver");
  await buildDelayTool();
});

Deno.test("lan: two phones in their own namespaces open a DataChannel over a host-to-host pair", async () => {
  await using lab = await Lab.create({ phones: 2, profile: "lan" });
  const relay = await startRelay(lab);
  const browsers = await browsersFor(lab);
  const [offerer, answerer] = await connectPair(relay, browsers, "lan", { iceServers: [] });
  report("lan", [offerer, answerer]);
  assertEquals(offerer.received, "hello from answerer");
  assertEquals(answerer.received, "hello from offerer");
  for (const [i, side] of [offerer, answerer].entries()) {
    assertEquals(side.local.candidateType, "host");
    assertEquals(side.local.address, lab.phones[i].address, "the phone's own lab address, not an mDNS name");
    // A check can arrive before the candidate's signaling message: then the peer shows up as prflx, whose
    // address Chromium's stats redact.
    const remote = side.remote;
    const expected = lab.phones[1 - i].address;
    assert(
      (remote.candidateType === "host" && remote.address === expected) ||
        (remote.candidateType === "prflx" && (remote.address === expected || remote.address === "")),
      `remote ${JSON.stringify(remote)}`,
    );
  }
});

Deno.test("network change: a phone moves to a new subnet and an ICE restart moves the same DataChannel there", async () => {
  await using lab = await Lab.create({ phones: 2, profile: "lan" });
  const relay = await startRelay(lab);
  const browsers = await browsersFor(lab);
  const pages = await Promise.all(browsers.map((browser) => browser.newPage()));
  await Promise.all(pages.map((page) => page.goto(relay.url + "/")));
  const signalUrl = `${relay.url.replace("http:", "ws:")}/ws?room=move`;
  const roles = ["offerer", "answerer"] as const;
  const before = await Promise.all(pages.map((page, i) =>
    page.evaluate(smokePeer, {
      signalUrl,
      role: roles[i],
      iceServers: [],
      message: `before from ${roles[i]}`,
      timeoutMs: CONNECT_TIMEOUT_MS,
    })
  ));
  // The answerer (ICE-controlled) moves. When the offerer moves instead, Chromium 156's controlled side often
  // stays on the dead peer-reflexive pair for over 20 s after the restart (3 runs in 5 here): a finding for the
  // app's network-change scenario, not for this harness. NETLAB_MOVE=offerer reproduces it.
  const moved = Deno.env.get("NETLAB_MOVE") === "offerer" ? 0 : 1;
  const other = 1 - moved;
  const oldAddress = lab.phones[moved].address;
  assertEquals(before[moved].local.address, oldAddress);
  const newAddress = await lab.changeAddress(lab.phones[moved]);
  // Chromium's WebRTC rescans interfaces every 2 s; an ICE restart before that gathers the old address.
  await sleep(CHROMIUM_NETWORK_SCAN_MS + 1_000);
  // Like the app: the moved phone re-opens signaling (its TCP connection died with its address), then the
  // offerer restarts ICE.
  await pages[moved].evaluate(smokeReconnect);
  const settled = await Promise.allSettled(pages.map((page, i) =>
    page.evaluate(smokeRestart, {
      role: roles[i],
      oldAddress,
      message: `after from ${roles[i]}`,
      timeoutMs: CONNECT_TIMEOUT_MS,
    })
  ));
  const after: SmokeRestartResult[] = bothOrThrow(settled);
  console.log(
    `  [netlab] network change (${roles[moved]} moves): ${oldAddress} -> ${newAddress}; ICE restart recovered in ` +
      after.map((r) => `${Math.round(r.recoveredMs)} ms`).join(" / "),
  );
  assertEquals(after[moved].local.address, newAddress, "the moved phone now sends from its new address");
  assert([newAddress, ""].includes(after[other].remote.address), 'the other phone sends to it there ("": prflx)');
  assertEquals(after[0].received, "after from answerer", "the same DataChannel carries on");
  assertEquals(after[1].received, "after from offerer");
});

Deno.test("turn-only: phones that cannot reach each other connect through coturn, over UDP and then over TCP", async (t) => {
  await using lab = await Lab.create({ phones: 2, profile: "turn-only" });
  const relay = await startRelay(lab);
  await lab.startCoturn();
  const browsers = await browsersFor(lab);

  await t.step("direct traffic between the phones is really blocked", async () => {
    const ping = await lab.ping(lab.phones[0], { target: lab.phones[1].address, count: 2, intervalS: 0.1 });
    assertEquals(ping.received, 0, ping.output);
    assertEquals((await lab.ping(lab.phones[0], { count: 1 })).received, 1, "the server stays reachable");
  });

  await t.step("with UDP allowed, both ends select a relay candidate reached over UDP", async () => {
    const results = await connectPair(relay, browsers, "turn-udp", { iceServers: await lab.iceServers() });
    report("turn-only (udp)", results);
    for (const side of results) {
      assertEquals(side.local.candidateType, "relay");
      assertEquals(side.local.relayProtocol, "udp");
      assertEquals(side.local.address, lab.serverAddress);
    }
    assertEquals(results[0].received, "hello from answerer");
  });

  await t.step("with UDP blocked too, both ends relay over TURN's TCP transport", async () => {
    for (const phone of lab.phones) await lab.applyProfile(phone, "turn-only-udp-blocked");
    const results = await connectPair(relay, browsers, "turn-tcp", { iceServers: await lab.iceServers() });
    report("turn-only + udp-blocked (tcp)", results);
    for (const side of results) {
      assertEquals(side.local.candidateType, "relay");
      assertEquals(side.local.relayProtocol, "tcp");
    }
    assertEquals(results[1].received, "hello from offerer");
  });
});

Deno.test("lossy-3g: the link has about 300 ms RTT and drops some packets, and WebRTC still connects", async (t) => {
  await using lab = await Lab.create({ phones: 2, profile: "lossy-3g" });

  await t.step("ping to the server: RTT at least 2 x 150 ms, some of 300 packets lost", async () => {
    const ping = await lab.ping(lab.phones[0], { count: 300, intervalS: 0.005 });
    console.log(
      `  [netlab] lossy-3g ping: rtt min/avg/max ${ping.rtt?.min}/${ping.rtt?.avg}/${ping.rtt?.max} ms, ` +
        `loss ${(ping.loss * 100).toFixed(1)}% (${ping.transmitted - ping.received}/${ping.transmitted})`,
    );
    assert(ping.rtt, ping.output);
    assertGreater(ping.rtt.min, 2 * PROFILES["lossy-3g"].delayMs - 1, "the delay line holds every packet");
    assertLessOrEqual(ping.rtt.avg, 1_000, "and does not pile packets up");
    assertGreater(ping.received, 0);
    // 3% of 300: P(no loss) = 0.97^300 < 1e-4; P(more than 12%) is smaller still.
    assertGreater(ping.loss, 0, "some replies are dropped");
    assertLessOrEqual(ping.loss, 0.12);
  });

  await t.step("a DataChannel between two lossy phones opens and carries a message", async () => {
    const relay = await startRelay(lab);
    const results = await connectPair(relay, await browsersFor(lab), "lossy", { iceServers: [] });
    report("lossy-3g", results);
    assertEquals(results[0].received, "hello from answerer");
    assertEquals(results[0].local.candidateType, "host");
  });
});

Deno.test("link cuts, flapping and address changes behave as the scenarios need", async (t) => {
  await using lab = await Lab.create({ phones: 1 });
  const phone: Phone = lab.phones[0];

  await t.step("a cut link drops everything, and comes back", async () => {
    await lab.setLinkUp(phone, false);
    assertEquals((await lab.ping(phone, { count: 2, intervalS: 0.1 })).received, 0);
    await lab.setLinkUp(phone, true);
    assertEquals((await lab.ping(phone, { count: 2, intervalS: 0.1 })).received, 2);
    await lab.cutLink(phone, 50);
    assert(phone.linkUp);
  });

  await t.step("a flapping link loses some pings and passes others", async () => {
    await lab.applyProfile(phone, { ...PROFILES.flaky, flap: { upMs: 150, downMs: 150 } });
    const ping = await lab.ping(phone, { count: 40, intervalS: 0.02 });
    assertGreater(ping.received, 0, ping.output);
    assertGreater(ping.transmitted - ping.received, 0, ping.output);
    await lab.applyProfile(phone, "lan");
    assert(phone.linkUp, "a new profile ends the flapping with the link up");
    assertEquals((await lab.ping(phone, { count: 2, intervalS: 0.1 })).received, 2);
  });

  await t.step("udp-blocked drops UDP but not TCP; no-turn-udp-blocked also drops TCP to coturn", async () => {
    const udp = ["bash", "-c", `echo x > /dev/udp/${lab.serverAddress}/9`];
    const tcpTo = (port: number) => ["bash", "-c", `timeout 1 bash -c 'exec 3<>/dev/tcp/${lab.serverAddress}/${port}'`];
    const listener = await lab.startServer({
      cmd: [
        Deno.execPath(),
        "eval",
        `Deno.serve({ hostname: "${lab.serverAddress}", port: ${lab.turnPort} }, () => new Response("ok"))`,
      ],
      port: lab.turnPort,
    });
    try {
      await lab.applyProfile(phone, "udp-blocked");
      assertEquals((await lab.exec(phone, tcpTo(lab.turnPort), { allowFailure: true })).code, 0, "TCP passes");
      assertEquals(
        (await lab.exec(phone, udp, { allowFailure: true })).code,
        0,
        "a dropped send still succeeds locally",
      );
      const rules = (await lab.exec("server", ["nft", "list", "table", "inet", `netlab_${phone.routerIface}`])).stdout;
      assert(rules.includes("udp drop"), rules);
      await lab.applyProfile(phone, "no-turn-udp-blocked");
      const blocked = await lab.exec(phone, tcpTo(lab.turnPort), { allowFailure: true });
      assertEquals(blocked.code, 124, "TURN's TCP port is unreachable: the connect hangs until `timeout` kills it");
    } finally {
      await listener.stop();
    }
    await lab.applyProfile(phone, "lan");
  });

  await t.step("changing the address moves the phone to a new subnet and keeps it connected", async () => {
    const old = phone.address;
    const next = await lab.changeAddress(phone);
    assert(next !== old);
    assertEquals(phone.address, next);
    const { stdout } = await lab.exec(phone, ["ip", "-4", "-o", "addr", "show", "dev", phone.iface]);
    assert(stdout.includes(next) && !stdout.includes(old), stdout);
    assertEquals((await lab.ping(phone, { count: 2, intervalS: 0.1 })).received, 2);
  });
});

Deno.test("closing a lab leaves no namespace, process, rule or file behind", async (t) => {
  const rulesBefore = (await run(["nft", "list", "ruleset"])).stdout;
  const lab = await Lab.create({ phones: 2, profile: "lossy-3g" });
  const names = [...lab.namespaces];
  let pids: number[] = [];
  try {
    await lab.startCoturn();
    await startRelay(lab);
    await lab.launchBrowser(lab.phones[0]);
    for (const ns of names) {
      pids.push(...(await run(["ip", "netns", "pids", ns])).stdout.split(/\s+/).filter(Boolean).map(Number));
    }
    assertGreater(pids.length, 4, "coturn, the relay, two delay tools and a browser run in the lab");
  } finally {
    await lab.close();
  }
  await t.step("namespaces are gone", async () => {
    const left = await listNamespaces();
    assertEquals(names.filter((ns) => left.includes(ns)), []);
  });
  await t.step("processes are gone (zombies waiting for init count as gone)", () => {
    pids = pids.filter(processAlive);
    assertEquals(pids, []);
  });
  await t.step("the root namespace's firewall is as it was", async () => {
    assertEquals((await run(["nft", "list", "ruleset"])).stdout, rulesBefore);
  });
  await t.step("the temporary directory is gone", async () => {
    const gone = await Deno.stat(lab.dir).then(() => false, (error) => error instanceof Deno.errors.NotFound);
    assert(gone, lab.dir);
  });
});

Deno.test("a lab process killed by SIGTERM tears its lab down in the signal handler", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./_lab_child.ts", import.meta.url).pathname],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  const names: string[] = JSON.parse(text.split("\n")[0]);
  assertEquals(names.length, 3);
  const present = await listNamespaces();
  assert(names.every((ns) => present.includes(ns)), "the child built its lab");
  child.kill("SIGTERM");
  const status = await child.status;
  while (!(await reader.read()).done) { /* drain */ }
  await child.stderr.cancel();
  assertEquals(status.code, 128 + 15);
  const left = await listNamespaces();
  assertEquals(names.filter((ns) => left.includes(ns)), []);
});
