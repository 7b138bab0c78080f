/**
 * `deno task bench:net`: on real networks built by the netlab (real Chromium
 * phones, a real coturn, impaired links, bandwidth limits), how long a joining
 * phone waits for "Connected", for its first message and for P2P, what its
 * first visit moves, and how fast a burst of messages shows up, all in one run,
 * for:
 *
 * - Parley: `CLIENT_RELAY_HOLD_MS=0`, relay at once, P2P takes over when it opens;
 * - the minimal page (tests/bench/minimal_page/): one WebSocket and a page of a
 *   few KB, its own tiny relay, as a plain relay chat would be written;
 * - where asked (`--baselines`), two other policies of the SAME app: the seed's
 *   (`CLIENT_RELAY_HOLD_MS=10000`, chat waits for P2P up to 10 s) and P2P-only
 *   (PeerJS-like, `never`: no relay for chat at all).
 *
 * Method (see net_measure.ts): per measurement, fresh browsers on both phones;
 * A opens a new room; B starts loading the invite link (t0 = B's navigation
 * start); A sends as soon as it sees B; B's page records when it shows
 * "Connected", when the message is visible and when it shows a P2P path; then
 * A sends a burst and B records send-to-visible. Both phones have the profile.
 * Every measure is capped; past the cap it is "never". Cells are repeated and
 * the median is reported (a "never" counts as slower than any time).
 *
 * Writes tables to stdout, `net_results.md`, `net_results.json` and
 * `net_chart.svg` next to this file. Needs root (network namespaces). Exits
 * non-zero when the harness breaks or Parley misses one of its own targets
 * (after writing every file); the baselines' checks only report whether the
 * comparison held.
 *
 * ```
 * deno task bench:net                                  # default profiles, 3 repeats, 30 s cap
 * deno task bench:net --reps=1 --profiles=lan,regular-3g --baselines= --cap=20
 * deno task bench:net --out=/tmp/net                   # write the files elsewhere
 * deno task bench:net --reps=1 --profiles=regular-3g --baselines= --burst=0 --trace   # B's timeline per sample
 * ```
 * @module
 */
import { Lab, RELAY_PORTS } from "../netlab/lab.ts";
import { type ProfileName, PROFILES } from "../netlab/profiles.ts";
import { ROOT, startApp } from "../netlab/app.ts";
import { measureOnce, type PageServer, SetupError } from "./net_measure.ts";
import {
  BURST_RATIO_TARGET,
  type Cell,
  checkTargets,
  type Contender,
  CONTENDER_INFO,
  CONTENDERS,
  FIRST_VISIT_TARGET_BYTES,
  firstVisitTable,
  formatMs,
  markdownTable,
  policiesTable,
  type Sample,
  SLOW_PROFILES,
  summarize,
  textTable,
  TIME_RATIO_TARGET,
  versusMinimalTable,
} from "./net_report.ts";
import { renderNetChart } from "./net_chart.ts";

/** The profiles measured by default, in table order. */
const DEFAULT_PROFILES: ProfileName[] = [
  "lan",
  "slow-4g",
  "regular-3g",
  "lossy-3g",
  "udp-blocked",
  "no-turn-udp-blocked",
  "flaky",
];
/** Where the seed policy and P2P-only run by default: where their comparison with Parley says something. */
const DEFAULT_BASELINES: ProfileName[] = ["udp-blocked", "no-turn-udp-blocked", "flaky"];
const DEFAULTS = {
  reps: 3,
  capS: 30,
  burst: 20,
  out: new URL(".", import.meta.url).pathname.replace(/\/$/, ""),
} as const;
/** A measurement whose room could not be set up is tried this many times in all before the bench fails. */
const SETUP_ATTEMPTS = 3;
/** Relay ports coturn gets in this bench (the lab's default is 100; see where coturn starts). */
const WIDE_RELAY_PORTS = 2_000;
/** One app server per policy, side by side in the lab's server namespace. */
const FIRST_PORT = 8_101;
/** The minimal page's server. */
const MINIMAL_PORT = 8_200;
const MINIMAL_SERVER = new URL("./minimal_page/server.ts", import.meta.url).pathname;
/** What each profile does, for the chart's axis. */
const DESCRIPTIONS: Record<string, string> = {
  "lan": "clean link",
  "slow-4g": "150 ms, 1.6 Mbps",
  "regular-3g": "300 ms, 700 kbps, 3% loss",
  "lossy-3g": "300 ms RTT, 3% loss",
  "udp-blocked": "UDP blocked; TURN/TCP",
  "no-turn-udp-blocked": "UDP and TURN blocked",
  "flaky": "cut 2 s every 4 s",
  "turn-only": "only TURN between phones",
  "turn-only-udp-blocked": "only TURN over TCP",
};

interface Args {
  reps: number;
  capMs: number;
  burst: number;
  profiles: ProfileName[];
  baselines: ProfileName[];
  out: string;
  /** Print (and keep in the JSON) B's timeline of every Parley and minimal-page sample. */
  trace: boolean;
}

function parseArgs(args: string[]): Args {
  const value = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const unknown = args.filter((a) => !/^--(reps|cap|burst|profiles|baselines|out)=/.test(a) && a !== "--trace");
  if (unknown.length) {
    throw new Error(
      `unknown arguments: ${
        unknown.join(" ")
      } (known: --reps= --cap= --burst= --profiles= --baselines= --out= --trace)`,
    );
  }
  const list = (name: string, fallback: ProfileName[]) => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    return raw.split(",").filter(Boolean) as ProfileName[];
  };
  const reps = Number(value("reps") ?? DEFAULTS.reps);
  const capS = Number(value("cap") ?? DEFAULTS.capS);
  const burst = Number(value("burst") ?? DEFAULTS.burst);
  const profiles = list("profiles", DEFAULT_PROFILES);
  const baselines = list("baselines", DEFAULT_BASELINES).filter((p) => profiles.includes(p));
  for (const p of [...profiles, ...baselines]) if (!(p in PROFILES)) throw new Error(`unknown profile "${p}"`);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer`);
  if (!Number.isInteger(burst) || burst < 0) throw new Error(`--burst must be a whole number of messages`);
  if (!(capS > 0)) throw new Error(`--cap must be a positive number of seconds`);
  const trace = args.includes("--trace");
  return { reps, capMs: capS * 1000, burst, profiles, baselines, out: value("out") ?? DEFAULTS.out, trace };
}

/** The 1-minute load average: on a shared machine, other work slows the phones down. */
function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

function chromiumVersion(): string {
  try {
    const out = new Deno.Command("/usr/lib/chromium/chromium", { args: ["--version"], stderr: "null" }).outputSync();
    return new TextDecoder().decode(out.stdout).trim();
  } catch {
    return "Chromium (version unknown)";
  }
}

if (Deno.uid() !== 0) {
  console.error("bench:net needs root: it builds network namespaces, nft, iptables and tc rules. Run it as root.");
  Deno.exit(1);
}

const { reps, capMs, burst, profiles, baselines, out, trace } = parseArgs(Deno.args);
const began = performance.now();
const loadBefore = loadAverage();
const setupFailures: string[] = [];
/** Who runs on a profile: Parley and the minimal page everywhere, the other policies where asked. */
const contendersOn = (profile: ProfileName): Contender[] =>
  CONTENDERS.filter((c) => c === "parley" || c === "minimal" || baselines.includes(profile));
const cells: Cell[] = profiles.flatMap((profile) =>
  contendersOn(profile).map((contender) => ({ profile, contender, samples: [] }))
);
const total = cells.length * reps;
console.error(
  `bench:net: ${profiles.length} profiles, ${cells.length} cells x ${reps} repeats, cap ${capMs / 1000} s, ` +
    `burst ${burst}; baselines on ${baselines.join(", ") || "no profile"}`,
);
{
  await using lab = await Lab.create({ phones: 2, profile: "lan" });
  // Killed browsers never free their TURN allocations (they live 600 s), and the lab's 100 relay ports ran out
  // after about 25 measurements ("508 Cannot create socket"), so TURN-over-TCP P2P "never" came. A wide range
  // fixes that; it is only safe where no profile firewalls the relay range to force relay-to-relay pairs.
  const forcesRelayPairs = profiles.some((p) => PROFILES[p].blockPeers);
  await lab.startCoturn(forcesRelayPairs ? {} : { maxRelayPort: RELAY_PORTS[0] + WIDE_RELAY_PORTS - 1 });
  const servers = new Map<Contender, PageServer>();
  const needed = new Set(cells.map((c) => c.contender));
  for (const [i, contender] of CONTENDERS.entries()) {
    const hold = CONTENDER_INFO[contender].hold;
    if (!needed.has(contender) || hold === undefined) continue;
    servers.set(
      contender,
      await startApp(lab, { turn: true, port: FIRST_PORT + i, env: { CLIENT_RELAY_HOLD_MS: hold } }),
    );
  }
  servers.set(
    "minimal",
    await lab.startServer({
      cmd: [Deno.execPath(), "run", "--allow-net", "--allow-env", "--allow-read", MINIMAL_SERVER],
      port: MINIMAL_PORT,
      cwd: ROOT,
      env: { HOSTNAME: lab.serverAddress, PORT: String(MINIMAL_PORT) },
    }),
  );
  let done = 0;
  for (const profile of profiles) {
    await Promise.all(lab.phones.map((phone) => lab.applyProfile(phone, profile)));
    const here = contendersOn(profile);
    for (let rep = 0; rep < reps; rep++) {
      // Rotate who goes first, so drift over a profile's run is not charged to one contender.
      const order = here.map((_, i) => here[(i + rep) % here.length]);
      for (const contender of order) {
        const cell = cells.find((c) => c.profile === profile && c.contender === contender)!;
        const body = `bench ${profile} ${contender} ${rep + 1}`;
        const info = CONTENDER_INFO[contender];
        // The burst compares Parley with the minimal page; the baselines only answer "first message, P2P".
        const burstHere = contender === "parley" || contender === "minimal" ? burst : 0;
        let sample: Sample | undefined;
        for (let attempt = 1; !sample; attempt++) {
          try {
            sample = await measureOnce(lab, servers.get(contender)!, {
              capMs,
              body: `${body}.${attempt}`,
              p2p: info.p2p,
              burst: burstHere,
              trace: trace && (contender === "parley" || contender === "minimal"),
            });
          } catch (error) {
            if (!(error instanceof SetupError) || attempt >= SETUP_ATTEMPTS) throw error;
            setupFailures.push(`${profile} ${contender}: ${error.message.split("\n")[0]}`);
            console.error(`  setup failed, measuring again:\n${error.message}`);
          }
        }
        cell.samples.push(sample);
        done++;
        const elapsed = ((performance.now() - began) / 1000).toFixed(0);
        const p95 = sample.burstMs
          ? `  p95 burst ${formatMs(summarize({ profile, contender, samples: [sample] }).p95SendToVisibleMs, capMs)}`
          : "";
        const p2p = info.p2p ? `  P2P ${formatMs(sample.p2pMs, capMs)} ${sample.p2pPath ?? ""}` : "";
        console.error(
          `  [${done}/${total} ${elapsed} s] ${profile.padEnd(19)} ${info.label.padEnd(12)} ` +
            `Connected ${formatMs(sample.connectedMs, capMs)}  first message ${
              formatMs(sample.firstMessageMs, capMs)
            }` +
            `  HTTP ${((sample.http?.total ?? 0) / 1000).toFixed(1)} KB${p2p}${p95}`,
        );
        if (sample.trace) console.error(sample.trace.map((line) => `      ${line}`).join("\n"));
      }
    }
  }
}

const runtimeS = (performance.now() - began) / 1000;
const minutes = (runtimeS / 60).toFixed(1);
const loadAfter = loadAverage();
const load = `load average ${loadBefore.toFixed(1)} at start, ${loadAfter.toFixed(1)} at end`;
const machine = `${navigator.hardwareConcurrency} cores, ${chromiumVersion()}, Deno ${Deno.version.deno}`;
const method = `median of ${reps}; t0 = the joining page's navigation start; cap ${capMs / 1000} s; ${machine}`;
const versus = versusMinimalTable(cells, capMs);
const visits = firstVisitTable(cells);
const policies = policiesTable(cells, capMs);
const targets = checkTargets(cells, capMs);
const targetLines = targets.map((t) => `- ${t.ok ? "met" : "MISSED"}: ${t.target} (measured ${t.measured})`);
const runtime = `${total} measurements in ${minutes} min; ${load}; ${setupFailures.length} setups repeated`;

console.log(`\n## Network bench (${method})\n`);
console.log(`Parley and the minimal page:\n\n${textTable(versus)}`);
console.log(
  `\nFirst visit, HTTP bytes the joining page and its service worker received (median):\n\n${textTable(visits)}`,
);
if (policies.rows.length) console.log(`\nClient policies of the same app:\n\n${textTable(policies)}`);
console.log(`\nTargets:\n${targetLines.join("\n")}`);
console.log(`\n(runtime: ${runtime})`);

const markdown = [
  "# Network bench (`deno task bench:net`)",
  "",
  `Measured ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC; ${method}. ` +
  `Runtime: ${runtime}.`,
  "",
  "## Parley and the minimal page",
  "",
  markdownTable(versus),
  "",
  "![Network bench chart](net_chart.svg)",
  "",
  "## First visit",
  "",
  "HTTP bytes the joining page received (CDP `encodedDataLength`: bodies as sent, compressed or not, plus response " +
  "headers) and what its service worker fetched on its own (Playwright's network events), median over every " +
  "sample of every profile:",
  "",
  markdownTable(visits),
  "",
  ...(policies.rows.length
    ? [
      "## Client policies of the same app",
      "",
      markdownTable(policies),
      "",
    ]
    : []),
  "## Targets",
  "",
  "Only Parley's own targets fail the bench; the baselines' lines say whether the comparison held.",
  "",
  ...targetLines,
  "",
  "## Method",
  "",
  "- Two phones (headless Chromium, each in its own network namespace) and one server namespace running the app " +
  "(once per policy), the minimal page's own server, and a coturn (TURN over UDP and TCP, REST credentials). The " +
  "app is the same code in every policy; only `CLIENT_RELAY_HOLD_MS` differs: `0` (Parley), `10000` (the seed " +
  "policy: chat waits up to 10 s for P2P, then uses the relay), `never` (a P2P-only design like PeerJS).",
  "- The minimal page (`tests/bench/minimal_page/`) is one gzip-compressed HTML file with its CSS and JS inline and " +
  "one WebSocket to its own relay (parse, stamp the sender, forward): no acknowledgements, no log, no encryption. It " +
  'renders the same hooks as Parley ("Connected", "People here", the "Messages" log, the "Message" box), so both ' +
  "are measured by the same code with the same clock points.",
  "- The profile is applied to both phones' links (see tests/netlab/README.md). Delay comes from the lab's NFQUEUE " +
  "tool, loss from `iptables -m statistic` on the phone's input, bandwidth from a `tbf` on each side's egress. " +
  "`slow-4g` and `regular-3g` are Lighthouse's presets (150 ms RTT, 1.6 Mbps down, 750 kbps up; 300 ms RTT, 700 " +
  "kbps both ways), `regular-3g` with 3% loss. coturn gets 2,000 relay ports: closed browsers keep their TURN " +
  "allocations for 600 s, and the lab's default 100 ports ran out mid-run.",
  "- Per measurement, both phones get a fresh browser (empty cache and storage). Phone A opens a new room's link " +
  'and waits for "Connected". Then phone B starts loading the invite link: t0 is B\'s navigation start. A sends ' +
  'one message as soon as its "People here" list shows B (A\'s page is checked every 10 ms, then Playwright fills ' +
  "the box and presses Enter: A's reaction time, some tens of ms, is included; until 2026-11-30 16:40 UTC a " +
  "locator's wait polled up to every 500 ms, adding 0 to 500 ms to either contender's first message). A room " +
  "whose setup fails (A never connects) is set up again and counted in the header.",
  '- **Connected**: t0 until B shows "Connected". **First message**: t0 until the message is in B\'s "Messages" ' +
  'log. **Time to P2P**: t0 until B\'s peer list shows A on "P2P" or "P2P via TURN". All three are read on B\'s ' +
  "own clock (`performance.now()` in a MutationObserver installed before the page's scripts), so there is no " +
  "polling error.",
  "- **First visit**: every HTTP response of B's page during the measurement (before the burst), counted by CDP " +
  "`Network.loadingFinished` (`encodedDataLength`: what arrived, as sent, with headers), plus what its service " +
  "worker fetched (Playwright's network events, `sizes()`), until no request was in flight for 1 s (at most 10 s " +
  "past the measurement). **Link bytes to first message**: B's interface counters (both directions, every " +
  "packet with its headers: HTTP, WebSocket, STUN/TURN, DTLS...) from t0 until the driver saw the first message " +
  "(polled every 50 ms).",
  `- **p95 send-to-visible**: once the first message arrived and (for Parley) P2P opened or the cap passed, A ` +
  `sends ${burst} messages one after the other (fill and Enter each, through Playwright); each one's time runs ` +
  "from A's Enter press to B's MutationObserver seeing it (one machine, one clock). The table shows the median " +
  "over repeats of each repeat's p95 (nearest rank).",
  `- Each measure is capped at ${capMs / 1000} s: later is "never (> ${capMs / 1000} s)". A ratio against a never ` +
  'reads "> Nx". Each cell is repeated and the median shown; a never counts as slower than any time, and ' +
  '"[k/n never]" marks cells where only some repeats never got there. The order of the contenders rotates between ' +
  "repeats.",
  `- Targets: on ${SLOW_PROFILES.join(", ")}, Parley's Connected and first message at most ` +
  `${TIME_RATIO_TARGET}x the minimal page's; first visit at most ${FIRST_VISIT_TARGET_BYTES / 1000} KB; on ` +
  `regular-3g, p95 send-to-visible at most ${BURST_RATIO_TARGET}x the minimal page's.`,
  "- The seed policy's 10 s starts when a page is first connected to the server (as in the seed). A has been " +
  "connected since just before t0, so its held message leaves at about t0 + 10 s when P2P never opens.",
  "",
  "Raw samples: `net_results.json`.",
  "",
].join("\n");

const json = {
  measuredAt: new Date().toISOString(),
  method,
  capMs,
  reps,
  burst,
  machine,
  runtimeS: Math.round(runtimeS),
  loadAverage: { start: loadBefore, end: loadAfter },
  setupFailures,
  contenders: Object.fromEntries(CONTENDERS.map((c) => [c, { ...CONTENDER_INFO[c] }])),
  profiles: Object.fromEntries(profiles.map((p) => [p, PROFILES[p]])),
  cells: cells.map((cell) => ({ ...cell, summary: summarize(cell) })),
  targets,
};

await Deno.mkdir(out, { recursive: true });
await Deno.writeTextFile(`${out}/net_results.md`, markdown);
await Deno.writeTextFile(`${out}/net_results.json`, JSON.stringify(json, null, 2) + "\n");
await Deno.writeTextFile(
  `${out}/net_chart.svg`,
  renderNetChart(cells, { capMs, subtitle: method, descriptions: DESCRIPTIONS }),
);
// The repository's `deno fmt --check` covers markdown, JSON and SVG: write them the way it wants them.
const written = [`${out}/net_results.md`, `${out}/net_results.json`, `${out}/net_chart.svg`];
const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "-q", ...written], cwd: ROOT, stdin: "null" })
  .output();
if (!fmt.success) throw new Error(`deno fmt failed on the results: ${new TextDecoder().decode(fmt.stderr)}`);
console.log(`\nwrote ${written.join(", ")}`);
// Parley's own targets failing fails the task; the baselines' checks only say whether the comparison held.
if (targets.some((t) => t.ours && !t.ok)) Deno.exit(1);
