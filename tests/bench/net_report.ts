/**
 * The network bench's numbers turned into words: medians over repeats (a
 * repeat that never got there counts as infinitely slow), ratios against
 * Parley, and the same table for a terminal and for markdown. Pure: no I/O.
 * @module
 */

/** The three client policies the bench compares; the same app, configured by `CLIENT_RELAY_HOLD_MS`. */
export type Policy = "parley" | "seed" | "p2p-only";

/** Every policy, in table order. */
export const POLICIES: readonly Policy[] = ["parley", "seed", "p2p-only"];

/** How each policy is named, configured (`CLIENT_RELAY_HOLD_MS`) and explained in a legend. */
export const POLICY_INFO: Readonly<Record<Policy, { label: string; hold: string; legend: string }>> = {
  "parley": { label: "Parley", hold: "0", legend: "Parley: relay at once, P2P when ready" },
  "seed": { label: "seed policy", hold: "10000", legend: "seed policy: relay after a 10 s P2P wait" },
  "p2p-only": { label: "P2P-only", hold: "never", legend: "P2P-only: no relay" },
};

/** The path the joining page showed for the other phone when P2P was reached. */
export type P2pPath = "p2p" | "p2p-turn";

/** One measurement of one cell. */
export interface Sample {
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
  /** A's last client events (`?debug=1` console), kept when P2P was slow or never came. */
  aEvents?: string[];
}

/** All repeats of one profile × policy. */
export interface Cell {
  /** The network profile's name. */
  profile: string;
  /** The client policy. */
  policy: Policy;
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

/** `other / parley`: "24x", "> 70x" when other never got there within the cap, "-" when neither did. */
export function formatRatio(other: number | null, parley: number | null, capMs: number): string {
  if (parley === null) return other === null ? "-" : "< 1x";
  if (other === null) return `> ${Math.floor(capMs / parley)}x`;
  const ratio = other / parley;
  return `${ratio < 10 ? ratio.toFixed(1) : ratio.toFixed(0)}x`;
}

/** One table row: a profile and a measure, then one value per policy and two ratios. */
export interface Row {
  /** Profile name. */
  profile: string;
  /** "first message" or "time to P2P". */
  measure: string;
  /** Formatted medians, in {@link POLICIES} order. */
  values: string[];
  /** seed / Parley. */
  seedRatio: string;
  /** P2P-only / Parley. */
  p2pOnlyRatio: string;
}

/** The medians of one cell. */
export interface CellSummary {
  /** Median first message, ms, or null (never). */
  firstMessageMs: number | null;
  /** Median time to P2P, ms, or null (never). */
  p2pMs: number | null;
  /** The usual P2P path. */
  p2pPath: P2pPath | null;
  /** How many repeats never showed the first message within the cap. */
  messageNever: number;
  /** How many repeats never reached P2P within the cap. */
  p2pNever: number;
  /** How many repeats. */
  runs: number;
  /** Median of how long before t0 phone A was connected, ms, or null. */
  aConnectedBeforeMs: number | null;
}

/** Medians and never-counts of one cell. */
export function summarize(cell: Cell): CellSummary {
  return {
    firstMessageMs: medianOrNever(cell.samples.map((s) => s.firstMessageMs)),
    p2pMs: medianOrNever(cell.samples.map((s) => s.p2pMs)),
    p2pPath: usualPath(cell.samples),
    messageNever: cell.samples.filter((s) => s.firstMessageMs === null).length,
    p2pNever: cell.samples.filter((s) => s.p2pMs === null).length,
    runs: cell.samples.length,
    aConnectedBeforeMs: medianOrNever(cell.samples.map((s) => s.aConnectedBeforeMs)),
  };
}

function find(cells: readonly Cell[], profile: string, policy: Policy): CellSummary | null {
  const cell = cells.find((c) => c.profile === profile && c.policy === policy);
  return cell ? summarize(cell) : null;
}

/** The table rows: per profile, first message then time to P2P. */
export function tableRows(cells: readonly Cell[], capMs: number): Row[] {
  const profiles = [...new Set(cells.map((c) => c.profile))];
  const rows: Row[] = [];
  for (const profile of profiles) {
    const by = POLICIES.map((policy) => find(cells, profile, policy));
    const never = (s: CellSummary | null, count: (s: CellSummary) => number) =>
      s && count(s) > 0 && count(s) < s.runs ? ` [${count(s)}/${s.runs} never]` : "";
    const first = by.map((s) => s?.firstMessageMs ?? null);
    rows.push({
      profile,
      measure: "first message",
      values: by.map((s, i) => s ? formatMs(first[i], capMs) + never(s, (x) => x.messageNever) : "-"),
      seedRatio: formatRatio(first[1], first[0], capMs),
      p2pOnlyRatio: formatRatio(first[2], first[0], capMs),
    });
    const p2p = by.map((s) => s?.p2pMs ?? null);
    const via = (s: CellSummary | null) => s?.p2pMs != null && s.p2pPath === "p2p-turn" ? " via TURN" : "";
    rows.push({
      profile,
      measure: "time to P2P",
      values: by.map((s, i) => s ? formatMs(p2p[i], capMs) + via(s) + never(s, (x) => x.p2pNever) : "-"),
      seedRatio: formatRatio(p2p[1], p2p[0], capMs),
      p2pOnlyRatio: formatRatio(p2p[2], p2p[0], capMs),
    });
  }
  return rows;
}

const HEADER = [
  "profile",
  "measure",
  ...POLICIES.map((p) => POLICY_INFO[p].label),
  "seed / Parley",
  "P2P-only / Parley",
];

function cellsOf(row: Row): string[] {
  return [row.profile, row.measure, ...row.values, row.seedRatio, row.p2pOnlyRatio];
}

/** The table as aligned plain text for a terminal. */
export function textTable(rows: readonly Row[]): string {
  const lines = [HEADER, ...rows.map(cellsOf)];
  const widths = HEADER.map((_, i) => Math.max(...lines.map((cells) => cells[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ");
  return [line(HEADER), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map((r) => line(cellsOf(r)))]
    .join("\n");
}

/** The table as GitHub markdown, numbers right-aligned. */
export function markdownTable(rows: readonly Row[]): string {
  const align = HEADER.map((_, i) => (i < 2 ? "---" : "---:"));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(HEADER), line(align), ...rows.map((r) => line(cellsOf(r)))].join("\n");
}

/** One acceptance target of issue 6 and whether this run met it. */
export interface TargetCheck {
  /** What the issue asks, in words. */
  target: string;
  /** What this run measured. */
  measured: string;
  /** Whether it was met. */
  ok: boolean;
  /** True for Parley's own targets; false for the baselines' (which only show the comparison holds). */
  ours: boolean;
}

/** The targets for the no-TURN, UDP-blocked profile, checked against the medians. */
export function checkTargets(cells: readonly Cell[], capMs: number): TargetCheck[] {
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
