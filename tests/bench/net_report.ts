/**
 * The network bench's numbers turned into words: medians over repeats (a
 * repeat that never got there counts as infinitely slow), ratios, the targets,
 * and the same tables for a terminal and for markdown. Pure: no I/O.
 * @module
 */

/**
 * What the bench compares: Parley; the minimal relay page (tests/bench/minimal_page/); and two
 * client policies of the same app, configured by `CLIENT_RELAY_HOLD_MS`.
 */
export type Contender = "parley" | "minimal" | "seed" | "p2p-only";

/** Every contender, in table order. */
export const CONTENDERS: readonly Contender[] = ["parley", "minimal", "seed", "p2p-only"];

/** How a contender is named and explained, and how it is run. */
export interface ContenderInfo {
  /** Its name in tables. */
  label: string;
  /** Its line in the chart's legend. */
  legend: string;
  /** The app's `CLIENT_RELAY_HOLD_MS`; absent for the minimal page, which is not the app. */
  hold?: string;
  /** Whether it can reach P2P (a measurement then waits for it, up to the cap). */
  p2p: boolean;
}

/** Each contender's names and how it runs. */
export const CONTENDER_INFO: Readonly<Record<Contender, ContenderInfo>> = {
  "parley": { label: "Parley", hold: "0", p2p: true, legend: "Parley: relay at once, P2P when ready" },
  "minimal": { label: "minimal page", p2p: false, legend: "minimal page: one WebSocket, a few KB" },
  "seed": { label: "seed policy", hold: "10000", p2p: true, legend: "seed policy: relay after a 10 s P2P wait" },
  "p2p-only": { label: "P2P-only", hold: "never", p2p: true, legend: "P2P-only: no relay" },
};

/** The path the joining page showed for the other phone when P2P was reached. */
export type P2pPath = "p2p" | "p2p-turn";

/** HTTP bytes a page received, by resource type (CDP `encodedDataLength`: compressed body plus headers). */
export interface HttpBytes {
  /** Documents. */
  html: number;
  /** Stylesheets. */
  css: number;
  /** Scripts (module graph, chunks). */
  js: number;
  /** Everything else: icons, manifest, fetches. */
  other: number;
  /** All of the above: what the page itself loaded. */
  total: number;
  /** How many of the page's requests finished. */
  requests: number;
  /** What the page's service worker fetched on its own (precache, re-fetches of the shell); absent: not counted. */
  serviceWorker?: number;
}

/** What a phone's interface counted, both directions added. */
export interface LinkCount {
  /** Bytes (link-layer frames: Ethernet, IP, TCP/UDP headers and payload). */
  bytes: number;
  /** Packets. */
  packets: number;
}

/** One measurement of one cell. */
export interface Sample {
  /** Joining page's navigation start to its "Connected", ms; null: not within the cap. */
  connectedMs: number | null;
  /** Joining page's navigation start to the first message visible on it, ms; null: not within the cap. */
  firstMessageMs: number | null;
  /** Joining page's navigation start to its peer list showing a P2P path, ms; null: not within the cap. */
  p2pMs: number | null;
  /** Which P2P path it showed, when it did. */
  p2pPath: P2pPath | null;
  /** The path shown at the end of the measurement (`relay`, `p2p`, `p2p-turn`, or null if the peer never showed). */
  finalPath: string | null;
  /** How long before t0 phone A showed "Connected" (the seed policy's hold starts then), ms; null if unknown. */
  aConnectedBeforeMs: number | null;
  /** The joining page's HTTP bytes over the whole measurement (before any burst). */
  http?: HttpBytes | null;
  /** The joining phone's link from t0 until the driver saw the first message; null if it never came. */
  linkToFirstMessage?: LinkCount | null;
  /** Send-to-visible of each message of the burst, ms (null: not within the cap); absent: no burst. */
  burstMs?: (number | null)[];
  /** A's last client events (`?debug=1` console), kept when P2P was slow or never came. */
  aEvents?: string[];
  /** B's timeline (`--trace`): ms from its navigation start, then what happened (WebSocket frames, resources). */
  trace?: string[];
}

/** All repeats of one profile × contender. */
export interface Cell {
  /** The network profile's name. */
  profile: string;
  /** Who was measured. */
  contender: Contender;
  /** Every repeat, in run order. */
  samples: Sample[];
}

/** A median that treats "never" (null) as slower than anything: null if at least half never got there. */
export function medianOrNever(values: readonly (number | null)[]): number | null {
  if (values.length === 0) return null;
  const sorted = values.map((v) => v ?? Infinity).sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = sorted.length % 2 ? sorted[Math.floor(mid)] : (sorted[mid - 1] + sorted[mid]) / 2;
  return Number.isFinite(median) ? median : null;
}

/** The `q` quantile (nearest rank) with "never" (null) slower than anything; null if it lands on a never. */
export function quantileOrNever(values: readonly (number | null)[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = values.map((v) => v ?? Infinity).sort((a, b) => a - b);
  const value = sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
  return Number.isFinite(value) ? value : null;
}

/** The P2P path most repeats showed, for the label next to a time. */
export function usualPath(samples: readonly Sample[]): P2pPath | null {
  const turn = samples.filter((s) => s.p2pPath === "p2p-turn").length;
  const direct = samples.filter((s) => s.p2pPath === "p2p").length;
  if (turn + direct === 0) return null;
  return turn > direct ? "p2p-turn" : "p2p";
}

/** A duration for people: "0.42 s", "12.3 s", or "never (> 30 s)". */
export function formatMs(ms: number | null, capMs: number): string {
  if (ms === null) return `never (> ${capMs / 1000} s)`;
  const s = ms / 1000;
  return `${s < 10 ? s.toFixed(2) : s.toFixed(1)} s`;
}

/** Bytes for people, in KB of 1,000 bytes: "38.2 KB"; "-" when unknown. */
export function formatKB(bytes: number | null): string {
  return bytes === null ? "-" : `${(bytes / 1000).toFixed(1)} KB`;
}

/** `ours / base`: "24x", "> 70x" when ours never got there within the cap, "-" when neither did. */
export function formatRatio(ours: number | null, base: number | null, capMs: number): string {
  if (base === null) return ours === null ? "-" : "< 1x";
  if (ours === null) return `> ${Math.floor(capMs / base)}x`;
  const ratio = ours / base;
  return `${ratio < 10 ? ratio.toFixed(2) : ratio.toFixed(0)}x`;
}

/** The medians of one cell. */
export interface CellSummary {
  /** Median time to "Connected", ms, or null (never). */
  connectedMs: number | null;
  /** Median first message, ms, or null (never). */
  firstMessageMs: number | null;
  /** Median time to P2P, ms, or null (never). */
  p2pMs: number | null;
  /** The usual P2P path. */
  p2pPath: P2pPath | null;
  /** How many repeats never showed "Connected" within the cap. */
  connectedNever: number;
  /** How many repeats never showed the first message within the cap. */
  messageNever: number;
  /** How many repeats never reached P2P within the cap. */
  p2pNever: number;
  /** How many repeats. */
  runs: number;
  /** Median of how long before t0 phone A was connected, ms, or null. */
  aConnectedBeforeMs: number | null;
  /** Median HTTP bytes by type (each type's own median), or null when not measured. */
  http: HttpBytes | null;
  /** Median bytes and packets on the joining phone's link until the first message, or null. */
  link: LinkCount | null;
  /** Median over repeats of each repeat's p95 send-to-visible, ms; null: never, or no burst (see `burstRuns`). */
  p95SendToVisibleMs: number | null;
  /** How many repeats had a burst. */
  burstRuns: number;
  /** Burst messages not visible within the cap, over all repeats. */
  burstNever: number;
}

function medianOf(values: readonly number[]): number | null {
  return values.length ? medianOrNever(values) : null;
}

/** Medians and never-counts of one cell. */
export function summarize(cell: Cell): CellSummary {
  const s = cell.samples;
  const https = s.map((x) => x.http).filter((h): h is HttpBytes => !!h);
  const links = s.map((x) => x.linkToFirstMessage).filter((l): l is LinkCount => !!l);
  const bursts = s.map((x) => x.burstMs).filter((b): b is (number | null)[] => !!b);
  const httpKey = (key: "html" | "css" | "js" | "other" | "total" | "requests") => medianOf(https.map((h) => h[key]))!;
  return {
    connectedMs: medianOrNever(s.map((x) => x.connectedMs ?? null)),
    firstMessageMs: medianOrNever(s.map((x) => x.firstMessageMs)),
    p2pMs: medianOrNever(s.map((x) => x.p2pMs)),
    p2pPath: usualPath(s),
    connectedNever: s.filter((x) => x.connectedMs == null).length,
    messageNever: s.filter((x) => x.firstMessageMs === null).length,
    p2pNever: s.filter((x) => x.p2pMs === null).length,
    runs: s.length,
    aConnectedBeforeMs: medianOrNever(s.map((x) => x.aConnectedBeforeMs)),
    http: https.length
      ? {
        html: httpKey("html"),
        css: httpKey("css"),
        js: httpKey("js"),
        other: httpKey("other"),
        total: httpKey("total"),
        requests: httpKey("requests"),
        serviceWorker: medianOf(https.map((h) => h.serviceWorker ?? 0))!,
      }
      : null,
    link: links.length
      ? { bytes: medianOf(links.map((l) => l.bytes))!, packets: medianOf(links.map((l) => l.packets))! }
      : null,
    p95SendToVisibleMs: bursts.length ? medianOrNever(bursts.map((b) => quantileOrNever(b, 0.95))) : null,
    burstRuns: bursts.length,
    burstNever: bursts.flat().filter((x) => x === null).length,
  };
}

function find(cells: readonly Cell[], profile: string, contender: Contender): CellSummary | null {
  const cell = cells.find((c) => c.profile === profile && c.contender === contender);
  return cell && cell.samples.length ? summarize(cell) : null;
}

function profilesOf(cells: readonly Cell[]): string[] {
  return [...new Set(cells.map((c) => c.profile))];
}

/** " [1/3 never]" when only some repeats never got there. */
function someNever(never: number, runs: number): string {
  return never > 0 && never < runs ? ` [${never}/${runs} never]` : "";
}

/** A table: a header and rows of cells; the first `textColumns` columns are text, the rest numbers. */
export interface Table {
  /** Column names. */
  header: string[];
  /** Rows, each as long as the header. */
  rows: string[][];
  /** How many leading columns are left-aligned text. */
  textColumns: number;
}

/** Parley next to the minimal page, per profile: Connected, first message, link bytes, p95 send-to-visible. */
export function versusMinimalTable(cells: readonly Cell[], capMs: number): Table {
  const rows: string[][] = [];
  for (const profile of profilesOf(cells)) {
    const parley = find(cells, profile, "parley");
    const minimal = find(cells, profile, "minimal");
    if (!parley || !minimal) continue;
    const time = (
      measure: string,
      pick: (s: CellSummary) => number | null,
      never: (s: CellSummary) => number,
      runs: (s: CellSummary) => number = (s) => s.runs,
    ) =>
      rows.push([
        profile,
        measure,
        formatMs(pick(parley), capMs) + someNever(never(parley), runs(parley)),
        formatMs(pick(minimal), capMs) + someNever(never(minimal), runs(minimal)),
        formatRatio(pick(parley), pick(minimal), capMs),
      ]);
    time("Connected", (s) => s.connectedMs, (s) => s.connectedNever);
    time("first message", (s) => s.firstMessageMs, (s) => s.messageNever);
    if (parley.link && minimal.link) {
      rows.push([
        profile,
        "link bytes to first message",
        `${formatKB(parley.link.bytes)}, ${parley.link.packets} pkts`,
        `${formatKB(minimal.link.bytes)}, ${minimal.link.packets} pkts`,
        `${(parley.link.bytes / minimal.link.bytes).toFixed(1)}x`,
      ]);
    }
    if (parley.burstRuns && minimal.burstRuns) {
      const bursts = (s: CellSummary) => s.burstNever ? ` [${s.burstNever} never]` : "";
      rows.push([
        profile,
        "p95 send-to-visible",
        formatMs(parley.p95SendToVisibleMs, capMs) + bursts(parley),
        formatMs(minimal.p95SendToVisibleMs, capMs) + bursts(minimal),
        formatRatio(parley.p95SendToVisibleMs, minimal.p95SendToVisibleMs, capMs),
      ]);
    }
  }
  return { header: ["profile", "measure", "Parley", "minimal page", "Parley / minimal"], rows, textColumns: 2 };
}

/** Median HTTP bytes of one contender over every sample of every profile (bytes do not depend on the link). */
export function firstVisit(cells: readonly Cell[], contender: Contender): HttpBytes | null {
  return summarize({
    profile: "*",
    contender,
    samples: cells.filter((c) => c.contender === contender).flatMap((c) => c.samples),
  }).http;
}

/** A first visit's bytes: what the page loaded plus what its service worker fetched. */
export function firstVisitBytes(bytes: HttpBytes): number {
  return bytes.total + (bytes.serviceWorker ?? 0);
}

/** First-visit HTTP bytes by type, one row per contender that ran. */
export function firstVisitTable(cells: readonly Cell[]): Table {
  const rows: string[][] = [];
  for (const contender of ["parley", "minimal"] as const) {
    const bytes = firstVisit(cells, contender);
    if (!bytes) continue;
    rows.push([
      CONTENDER_INFO[contender].label,
      formatKB(bytes.html),
      formatKB(bytes.css),
      formatKB(bytes.js),
      formatKB(bytes.other),
      `${formatKB(bytes.total)} (${Math.round(bytes.requests)})`,
      formatKB(bytes.serviceWorker ?? 0),
      formatKB(firstVisitBytes(bytes)),
    ]);
  }
  return {
    header: ["page", "HTML", "CSS", "JS", "other", "page total (requests)", "its service worker", "first visit"],
    rows,
    textColumns: 1,
  };
}

/** The client policies of the same app, per profile where they ran: first message and time to P2P. */
export function policiesTable(cells: readonly Cell[], capMs: number): Table {
  const rows: string[][] = [];
  const policies = ["parley", "seed", "p2p-only"] as const;
  for (const profile of profilesOf(cells)) {
    const by = policies.map((p) => find(cells, profile, p));
    if (!by[1] && !by[2]) continue;
    const first = by.map((s) => s?.firstMessageMs ?? null);
    rows.push([
      profile,
      "first message",
      ...by.map((s, i) => s ? formatMs(first[i], capMs) + someNever(s.messageNever, s.runs) : "-"),
      by[1] ? formatRatio(first[1], first[0], capMs) : "-",
      by[2] ? formatRatio(first[2], first[0], capMs) : "-",
    ]);
    const p2p = by.map((s) => s?.p2pMs ?? null);
    const via = (s: CellSummary | null) => s?.p2pMs != null && s.p2pPath === "p2p-turn" ? " via TURN" : "";
    rows.push([
      profile,
      "time to P2P",
      ...by.map((s, i) => s ? formatMs(p2p[i], capMs) + via(s) + someNever(s.p2pNever, s.runs) : "-"),
      by[1] ? formatRatio(p2p[1], p2p[0], capMs) : "-",
      by[2] ? formatRatio(p2p[2], p2p[0], capMs) : "-",
    ]);
  }
  return {
    header: ["profile", "measure", "Parley", "seed policy", "P2P-only", "seed / Parley", "P2P-only / Parley"],
    rows,
    textColumns: 2,
  };
}

/** A table as aligned plain text for a terminal. */
export function textTable(table: Table): string {
  const lines = [table.header, ...table.rows];
  const widths = table.header.map((_, i) => Math.max(...lines.map((cells) => cells[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < table.textColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
  return [line(table.header), widths.map((w) => "-".repeat(w)).join("-|-"), ...table.rows.map(line)].join("\n");
}

/** A table as GitHub markdown, numbers right-aligned. */
export function markdownTable(table: Table): string {
  const align = table.header.map((_, i) => (i < table.textColumns ? "---" : "---:"));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(table.header), line(align), ...table.rows.map(line)].join("\n");
}

/** One target and whether this run met it. */
export interface TargetCheck {
  /** What the issue asks, in words. */
  target: string;
  /** What this run measured. */
  measured: string;
  /** Whether it was met. */
  ok: boolean;
  /** True for Parley's own targets; false for the baselines' (which only show a comparison holds). */
  ours: boolean;
}

/** The slow phone links on which Parley is held to the minimal page's time. */
export const SLOW_PROFILES: readonly string[] = ["slow-4g", "regular-3g", "lossy-3g"];
/** The lossy profile of the send-to-visible target. */
export const BURST_TARGET_PROFILE = "regular-3g";
/** Parley's Connected and first message, at most this times the minimal page's on a slow link. */
export const TIME_RATIO_TARGET = 1.25;
/** Parley's first visit, at most this many bytes (HTTP, compressed, headers included). */
export const FIRST_VISIT_TARGET_BYTES = 40_000;
/** Parley's p95 send-to-visible on lossy 3G, at most this times the minimal page's. */
export const BURST_RATIO_TARGET = 1.2;

function ratioCheck(
  target: string,
  ours: number | null,
  base: number | null,
  limit: number,
  capMs: number,
): TargetCheck {
  return {
    target,
    measured: `${formatMs(ours, capMs)} vs ${formatMs(base, capMs)}: ${formatRatio(ours, base, capMs)}`,
    ok: ours !== null && base !== null && ours <= limit * base,
    ours: true,
  };
}

/** The targets: Parley against the minimal page (issue "Connected within a few round trips"), and issue 6's. */
export function checkTargets(cells: readonly Cell[], capMs: number): TargetCheck[] {
  const checks: TargetCheck[] = [];
  for (const profile of SLOW_PROFILES) {
    const parley = find(cells, profile, "parley");
    const minimal = find(cells, profile, "minimal");
    if (!parley || !minimal) continue;
    checks.push(
      ratioCheck(
        `${profile}: Parley's Connected <= ${TIME_RATIO_TARGET}x the minimal page's`,
        parley.connectedMs,
        minimal.connectedMs,
        TIME_RATIO_TARGET,
        capMs,
      ),
      ratioCheck(
        `${profile}: Parley's first message <= ${TIME_RATIO_TARGET}x the minimal page's`,
        parley.firstMessageMs,
        minimal.firstMessageMs,
        TIME_RATIO_TARGET,
        capMs,
      ),
    );
  }
  const visit = firstVisit(cells, "parley");
  if (visit) {
    const minimal = firstVisit(cells, "minimal");
    checks.push({
      target: `Parley's first visit <= ${FIRST_VISIT_TARGET_BYTES / 1000} KB (HTTP as received, headers included, ` +
        "service worker included)",
      measured: `${formatKB(firstVisitBytes(visit))}, of which the page ${formatKB(visit.total)} and its service ` +
        `worker ${formatKB(visit.serviceWorker ?? 0)} (minimal page: ${
          formatKB(minimal ? firstVisitBytes(minimal) : null)
        })`,
      ok: firstVisitBytes(visit) <= FIRST_VISIT_TARGET_BYTES,
      ours: true,
    });
  }
  const parleyBurst = find(cells, BURST_TARGET_PROFILE, "parley");
  const minimalBurst = find(cells, BURST_TARGET_PROFILE, "minimal");
  if (parleyBurst?.burstRuns && minimalBurst?.burstRuns) {
    checks.push(
      ratioCheck(
        `${BURST_TARGET_PROFILE}: Parley's p95 send-to-visible <= ${BURST_RATIO_TARGET}x the minimal page's`,
        parleyBurst.p95SendToVisibleMs,
        minimalBurst.p95SendToVisibleMs,
        BURST_RATIO_TARGET,
        capMs,
      ),
    );
  }
  return [...checks, ...checkPolicyTargets(cells, capMs)];
}

/** Issue 6's targets for the no-TURN, UDP-blocked profile, checked against the medians. */
export function checkPolicyTargets(cells: readonly Cell[], capMs: number): TargetCheck[] {
  const profile = "no-turn-udp-blocked";
  const checks: TargetCheck[] = [];
  const parley = find(cells, profile, "parley");
  const seed = find(cells, profile, "seed");
  const p2pOnly = find(cells, profile, "p2p-only");
  if (parley) {
    checks.push({
      target: `${profile}: Parley's first message <= 1 s`,
      measured: formatMs(parley.firstMessageMs, capMs),
      ok: parley.firstMessageMs !== null && parley.firstMessageMs <= 1_000,
      ours: true,
    });
  }
  if (seed) {
    const lead = seed.aConnectedBeforeMs;
    const fromA = seed.firstMessageMs !== null && lead !== null
      ? `; A connected ${Math.round(lead)} ms before t0, so ${formatMs(seed.firstMessageMs + lead, capMs)} ` +
        "after A connected, when the seed's 10 s hold starts"
      : "";
    checks.push({
      target: `${profile}: seed policy's first message >= 10 s`,
      measured: formatMs(seed.firstMessageMs, capMs) + fromA,
      ok: seed.firstMessageMs === null || seed.firstMessageMs >= 10_000,
      ours: false,
    });
  }
  if (p2pOnly) {
    checks.push({
      target: `${profile}: P2P-only's first message never arrives`,
      measured: `${formatMs(p2pOnly.firstMessageMs, capMs)} (${p2pOnly.messageNever}/${p2pOnly.runs} never)`,
      ok: p2pOnly.messageNever === p2pOnly.runs,
      ours: false,
    });
  }
  return checks;
}
