/**
 * The network bench as an SVG chart, written by hand (no dependency): two
 * panels (first message visible, time to P2P), bars grouped by profile, one
 * bar per policy, on a log scale from 0.1 s to the cap. A bar that never got
 * there fills the panel, hatched, labelled "never". Pure: returns the text.
 * @module
 */
import { type Cell, formatMs, POLICIES, type Policy, POLICY_INFO, summarize } from "./net_report.ts";

/** Options of {@link renderNetChart}. */
export interface NetChartOptions {
  /** The cap each measurement had, ms: the top of the scale, and what "never" means. */
  capMs: number;
  /** A line under the title (method, repeats, machine). */
  subtitle?: string;
  /** A short description per profile, printed under its name (e.g. "300 ms RTT, 3% loss"). */
  descriptions?: Readonly<Record<string, string>>;
}

const WIDTH = 960;
const PANEL_HEIGHT = 300;
const TOP = 96;
const LEFT = 72;
const RIGHT = 24;
const GAP = 72;
const FLOOR_MS = 100;
const COLORS: Readonly<Record<Policy, string>> = { "parley": "#1d4ed8", "seed": "#d97706", "p2p-only": "#6b7280" };
const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\"";

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function ticks(capMs: number): number[] {
  const all = [100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000];
  return all.filter((t) => t <= capMs);
}

function tickLabel(ms: number): string {
  return ms < 1_000 ? `${ms / 1000} s` : `${ms / 1000} s`;
}

/** Short bar labels: "0.42 s", "12 s", "never". */
function barLabel(ms: number | null): string {
  if (ms === null) return "never";
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

interface Panel {
  title: string;
  value: (cell: Cell) => number | null;
  note?: (cell: Cell) => string;
}

/** The chart as SVG text. */
export function renderNetChart(cells: readonly Cell[], options: NetChartOptions): string {
  const { capMs } = options;
  const profiles = [...new Set(cells.map((c) => c.profile))];
  const panels: Panel[] = [
    {
      title: "First message visible on the joining phone (from its page load)",
      value: (c) => summarize(c).firstMessageMs,
    },
    {
      title: "Time to P2P on the joining phone (from its page load)",
      value: (c) => summarize(c).p2pMs,
      note: (c) => summarize(c).p2pPath === "p2p-turn" && summarize(c).p2pMs !== null ? "TURN" : "",
    },
  ];
  const height = TOP + panels.length * (PANEL_HEIGHT + GAP) + 20;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const groupWidth = plotWidth / Math.max(1, profiles.length);
  const barWidth = Math.min(56, (groupWidth - 40) / POLICIES.length);
  const logMin = Math.log10(FLOOR_MS);
  const logMax = Math.log10(capMs);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `role="img" aria-labelledby="title desc" ${FONT}>`,
    `<title id="title">Parley network bench: first message and time to P2P per network profile</title>`,
    `<desc id="desc">Grouped bars per profile for Parley, the seed policy and a P2P-only design; log scale; ` +
      `"never" means not within ${capMs / 1000} s.</desc>`,
    `<defs><pattern id="never" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="8" height="8" fill="#f3f4f6"/><line x1="0" y1="0" x2="0" y2="8" stroke="#9ca3af" stroke-width="3"/>` +
      `</pattern></defs>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="30" font-size="20" font-weight="600" fill="#111827">` +
      `Real Chromium phones, real coturn, impaired links: lower is better</text>`,
  );
  if (options.subtitle) {
    out.push(`<text x="${LEFT}" y="52" font-size="13" fill="#4b5563">${escapeXml(options.subtitle)}</text>`);
  }
  // Legend.
  let legendX = LEFT;
  for (const policy of POLICIES) {
    const info = POLICY_INFO[policy];
    const label = info.legend;
    out.push(
      `<rect x="${legendX}" y="66" width="14" height="14" rx="2" fill="${COLORS[policy]}"/>`,
      `<text x="${legendX + 20}" y="78" font-size="13" fill="#111827">${escapeXml(label)}</text>`,
    );
    legendX += 34 + label.length * 6.6;
  }
  out.push(
    `<rect x="${legendX}" y="66" width="14" height="14" rx="2" fill="url(#never)" stroke="#9ca3af"/>`,
    `<text x="${legendX + 20}" y="78" font-size="13" fill="#111827">never (&gt; ${capMs / 1000} s)</text>`,
  );

  panels.forEach((panel, p) => {
    const top = TOP + p * (PANEL_HEIGHT + GAP) + 28;
    const bottom = top + PANEL_HEIGHT - 40;
    const y = (ms: number) => {
      const v = Math.min(Math.max(Math.log10(Math.max(ms, FLOOR_MS)), logMin), logMax);
      return bottom - ((v - logMin) / (logMax - logMin)) * (bottom - top);
    };
    out.push(
      `<text x="${LEFT}" y="${top - 14}" font-size="15" font-weight="600" fill="#111827">` +
        `${escapeXml(panel.title)}</text>`,
    );
    for (const tick of ticks(capMs)) {
      const ty = y(tick).toFixed(1);
      out.push(
        `<line x1="${LEFT}" y1="${ty}" x2="${WIDTH - RIGHT}" y2="${ty}" stroke="#e5e7eb"/>`,
        `<text x="${LEFT - 8}" y="${ty}" dy="4" font-size="12" text-anchor="end" fill="#4b5563">` +
          `${tickLabel(tick)}</text>`,
      );
    }
    out.push(`<line x1="${LEFT}" y1="${bottom}" x2="${WIDTH - RIGHT}" y2="${bottom}" stroke="#6b7280"/>`);
    profiles.forEach((profile, g) => {
      const groupX = LEFT + g * groupWidth;
      const barsX = groupX + (groupWidth - barWidth * POLICIES.length - 8 * (POLICIES.length - 1)) / 2;
      POLICIES.forEach((policy, b) => {
        const cell = cells.find((c) => c.profile === profile && c.policy === policy);
        if (!cell) return;
        const value = panel.value(cell);
        const x = barsX + b * (barWidth + 8);
        const barTop = value === null ? top : y(value);
        const fill = value === null ? "url(#never)" : COLORS[policy];
        const stroke = value === null ? ` stroke="${COLORS[policy]}" stroke-width="2"` : "";
        const tip = `${profile}, ${POLICY_INFO[policy].label}: ${formatMs(value, capMs)}`;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${barTop.toFixed(1)}" width="${barWidth.toFixed(1)}" ` +
            `height="${Math.max(1, bottom - barTop).toFixed(1)}" fill="${fill}"${stroke}>` +
            `<title>${escapeXml(tip)}</title></rect>`,
        );
        const cx = (x + barWidth / 2).toFixed(1);
        const note = panel.note?.(cell) ?? "";
        const labelY = value === null ? top + 16 : barTop - 6;
        out.push(
          `<text x="${cx}" y="${labelY.toFixed(1)}" font-size="12" font-weight="600" text-anchor="middle" ` +
            `fill="#111827">${barLabel(value)}</text>`,
        );
        if (note) {
          const noteY = value === null ? top + 30 : Math.min(bottom - 6, barTop + 16);
          const color = value === null ? "#111827" : "#ffffff";
          out.push(
            `<text x="${cx}" y="${noteY.toFixed(1)}" font-size="11" text-anchor="middle" fill="${color}">` +
              `${note}</text>`,
          );
        }
      });
      out.push(
        `<text x="${(groupX + groupWidth / 2).toFixed(1)}" y="${bottom + 22}" font-size="14" text-anchor="middle" ` +
          `fill="#111827">${escapeXml(profile)}</text>`,
      );
      const description = options.descriptions?.[profile];
      if (description) {
        out.push(
          `<text x="${(groupX + groupWidth / 2).toFixed(1)}" y="${bottom + 38}" font-size="12" ` +
            `text-anchor="middle" fill="#4b5563">${escapeXml(description)}</text>`,
        );
      }
    });
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
