/**
 * The network bench as an SVG chart, written by hand (no dependency): four
 * time panels (Connected, first message visible, time to P2P, p95
 * send-to-visible of a burst), bars grouped by profile, one bar per contender
 * that ran there, on a log scale up to the cap; a bar that never got
 * there fills the panel, hatched, labelled "never". Under them, the first
 * visit's HTTP bytes per page against the 40 KB target. Pure: returns the text.
 * @module
 */
import {
  type Cell,
  type Contender,
  CONTENDER_INFO,
  CONTENDERS,
  FIRST_VISIT_TARGET_BYTES,
  firstVisit,
  firstVisitBytes,
  formatKB,
  formatMs,
  summarize,
} from "./net_report.ts";

/** Options of {@link renderNetChart}. */
export interface NetChartOptions {
  /** The cap each measurement had, ms: the top of the scale, and what "never" means. */
  capMs: number;
  /** A line under the title (method, repeats, machine). */
  subtitle?: string;
  /** A short description per profile, printed under its name (e.g. "300 ms RTT, 3% loss"). */
  descriptions?: Readonly<Record<string, string>>;
}

const WIDTH = 1_080;
const PANEL_HEIGHT = 280;
const TOP = 112;
const LEFT = 72;
const RIGHT = 24;
const GAP = 72;
const FLOOR_MS = 100;
const COLORS: Readonly<Record<Contender, string>> = {
  "parley": "#1d4ed8",
  "minimal": "#059669",
  "seed": "#d97706",
  "p2p-only": "#6b7280",
};
const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\"";

function escapeXml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;").replaceAll('"', "&quot;");
}

function ticks(floorMs: number, capMs: number): number[] {
  const all = [10, 30, 100, 300, 1_000, 3_000, 10_000, 30_000, 100_000, 300_000];
  return all.filter((t) => t >= floorMs && t <= capMs);
}

/** Short bar labels: "0.42 s", "12 s", "never". */
function barLabel(ms: number | null): string {
  if (ms === null) return "never";
  const s = ms / 1000;
  return s < 10 ? `${s.toFixed(2)} s` : `${s.toFixed(1)} s`;
}

interface Panel {
  title: string;
  contenders: readonly Contender[];
  value: (cell: Cell) => number | null;
  note?: (cell: Cell) => string;
  /** Whether the cell measured this at all (default: yes); cells that did not get no bar. */
  has?: (cell: Cell) => boolean;
  /** The bottom of the scale, ms (default 100). */
  floorMs?: number;
}

/** The chart as SVG text. */
export function renderNetChart(cells: readonly Cell[], options: NetChartOptions): string {
  const { capMs } = options;
  const profiles = [...new Set(cells.map((c) => c.profile))];
  const ran = (contender: Contender) => cells.some((c) => c.contender === contender && c.samples.length);
  const present = CONTENDERS.filter(ran);
  const all: Panel[] = [
    {
      title: 'Time to "Connected" on the joining phone (from its page load)',
      contenders: (["parley", "minimal"] as const).filter(ran),
      value: (c) => summarize(c).connectedMs,
      floorMs: 30,
    },
    {
      title: "First message visible on the joining phone (from its page load)",
      contenders: present,
      value: (c) => summarize(c).firstMessageMs,
      floorMs: 30,
    },
    {
      title: "Time to P2P on the joining phone (from its page load)",
      contenders: present.filter((c) => CONTENDER_INFO[c].p2p),
      value: (c) => summarize(c).p2pMs,
      note: (c) => summarize(c).p2pPath === "p2p-turn" && summarize(c).p2pMs !== null ? "TURN" : "",
    },
    {
      title: "p95 send-to-visible of a burst of messages (A's Enter press to B's screen)",
      contenders: (["parley", "minimal"] as const).filter(ran),
      value: (c) => summarize(c).p95SendToVisibleMs,
      has: (c) => summarize(c).burstRuns > 0,
      floorMs: 10,
    },
  ];
  const panels = all.filter((p) =>
    p.contenders.length > 0 && cells.some((c) => p.contenders.includes(c.contender) && (p.has?.(c) ?? true))
  );
  const visits = (["parley", "minimal"] as const).map((c) => ({ contender: c, bytes: firstVisit(cells, c) }))
    .filter((v) => v.bytes !== null);
  const bytesTop = TOP + panels.length * (PANEL_HEIGHT + GAP);
  const height = bytesTop + (visits.length ? 30 + visits.length * 34 + 30 : 0) + 10;
  const plotWidth = WIDTH - LEFT - RIGHT;
  const groupWidth = plotWidth / Math.max(1, profiles.length);
  const logMax = Math.log10(capMs);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
      `role="img" aria-labelledby="title desc" ${FONT}>`,
    `<title id="title">Parley network bench: Connected, first message and time to P2P per network profile</title>`,
    `<desc id="desc">Grouped bars per profile for ${present.map((c) => CONTENDER_INFO[c].label).join(", ")}; ` +
      `log scale; "never" means not within ${capMs / 1000} s; then first-visit HTTP bytes.</desc>`,
    `<defs><pattern id="never" width="8" height="8" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">` +
      `<rect width="8" height="8" fill="#f3f4f6"/><line x1="0" y1="0" x2="0" y2="8" stroke="#9ca3af" stroke-width="3"/>` +
      `</pattern></defs>`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    `<text x="${LEFT}" y="30" font-size="20" font-weight="600" fill="#111827">` +
      `Real Chromium phones, real coturn, impaired links: lower is better</text>`,
  );
  if (options.subtitle) {
    out.push(`<text x="${LEFT}" y="50" font-size="13" fill="#4b5563">${escapeXml(options.subtitle)}</text>`);
  }
  // The legend wraps onto a second line when it would run past the right edge.
  let legendX = LEFT;
  let legendY = 62;
  const legend = [
    ...present.map((c) => ({ label: CONTENDER_INFO[c].legend, fill: COLORS[c], stroke: "" })),
    { label: `never (> ${capMs / 1000} s)`, fill: "url(#never)", stroke: ' stroke="#9ca3af"' },
  ];
  for (const item of legend) {
    const width = 34 + item.label.length * 7;
    if (legendX + width > WIDTH - RIGHT) {
      legendX = LEFT;
      legendY += 20;
    }
    out.push(
      `<rect x="${legendX}" y="${legendY}" width="14" height="14" rx="2" fill="${item.fill}"${item.stroke}/>`,
      `<text x="${legendX + 20}" y="${legendY + 12}" font-size="13" fill="#111827">${escapeXml(item.label)}</text>`,
    );
    legendX += width;
  }

  panels.forEach((panel, p) => {
    const top = TOP + p * (PANEL_HEIGHT + GAP) + 28;
    const bottom = top + PANEL_HEIGHT - 40;
    const barWidth = Math.min(48, (groupWidth - 24) / panel.contenders.length - 6);
    const floor = panel.floorMs ?? FLOOR_MS;
    const logMin = Math.log10(floor);
    const y = (ms: number) => {
      const v = Math.min(Math.max(Math.log10(Math.max(ms, floor)), logMin), logMax);
      return bottom - ((v - logMin) / (logMax - logMin)) * (bottom - top);
    };
    out.push(
      `<text x="${LEFT}" y="${top - 14}" font-size="15" font-weight="600" fill="#111827">` +
        `${escapeXml(panel.title)}</text>`,
    );
    for (const tick of ticks(floor, capMs)) {
      const ty = y(tick).toFixed(1);
      out.push(
        `<line x1="${LEFT}" y1="${ty}" x2="${WIDTH - RIGHT}" y2="${ty}" stroke="#e5e7eb"/>`,
        `<text x="${LEFT - 8}" y="${ty}" dy="4" font-size="12" text-anchor="end" fill="#4b5563">` +
          `${tick / 1000} s</text>`,
      );
    }
    out.push(`<line x1="${LEFT}" y1="${bottom}" x2="${WIDTH - RIGHT}" y2="${bottom}" stroke="#6b7280"/>`);
    profiles.forEach((profile, g) => {
      const groupX = LEFT + g * groupWidth;
      const bars = panel.contenders
        .map((contender) => cells.find((c) => c.profile === profile && c.contender === contender))
        .filter((cell): cell is Cell => !!cell && cell.samples.length > 0 && (panel.has?.(cell) ?? true));
      const barsX = groupX + (groupWidth - barWidth * bars.length - 6 * (bars.length - 1)) / 2;
      bars.forEach((cell, b) => {
        const value = panel.value(cell);
        const x = barsX + b * (barWidth + 6);
        const barTop = value === null ? top : y(value);
        const color = COLORS[cell.contender];
        const fill = value === null ? "url(#never)" : color;
        const stroke = value === null ? ` stroke="${color}" stroke-width="2"` : "";
        const tip = `${profile}, ${CONTENDER_INFO[cell.contender].label}: ${formatMs(value, capMs)}`;
        out.push(
          `<rect x="${x.toFixed(1)}" y="${barTop.toFixed(1)}" width="${barWidth.toFixed(1)}" ` +
            `height="${Math.max(1, bottom - barTop).toFixed(1)}" fill="${fill}"${stroke}>` +
            `<title>${escapeXml(tip)}</title></rect>`,
        );
        const cx = (x + barWidth / 2).toFixed(1);
        const note = panel.note?.(cell) ?? "";
        const labelY = value === null ? top + 16 : barTop - 6;
        const labelSize = barWidth < 34 ? 9 : 11;
        out.push(
          `<text x="${cx}" y="${labelY.toFixed(1)}" font-size="${labelSize}" font-weight="600" text-anchor="middle" ` +
            `fill="#111827">${barLabel(value)}</text>`,
        );
        if (note) {
          const noteY = value === null ? top + 30 : Math.min(bottom - 6, barTop + 16);
          const noteColor = value === null ? "#111827" : "#ffffff";
          out.push(
            `<text x="${cx}" y="${noteY.toFixed(1)}" font-size="${
              labelSize - 1
            }" text-anchor="middle" fill="${noteColor}">` +
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
          `<text x="${(groupX + groupWidth / 2).toFixed(1)}" y="${bottom + 38}" font-size="11" ` +
            `text-anchor="middle" fill="#4b5563">${escapeXml(description)}</text>`,
        );
      }
    });
  });

  if (visits.length) {
    const top = bytesTop + 10;
    const labelWidth = 120;
    const x0 = LEFT + labelWidth;
    const scaleMax = Math.max(FIRST_VISIT_TARGET_BYTES * 1.25, ...visits.map((v) => firstVisitBytes(v.bytes!) * 1.1));
    const x = (bytes: number) => x0 + (bytes / scaleMax) * (WIDTH - RIGHT - x0 - 80);
    out.push(
      `<text x="${LEFT}" y="${top}" font-size="15" font-weight="600" fill="#111827">` +
        `First visit: HTTP bytes the joining page and its service worker received (as sent, headers included)</text>`,
    );
    visits.forEach((visit, i) => {
      const barY = top + 18 + i * 34;
      const total = firstVisitBytes(visit.bytes!);
      out.push(
        `<text x="${x0 - 8}" y="${barY + 17}" font-size="13" text-anchor="end" fill="#111827">` +
          `${escapeXml(CONTENDER_INFO[visit.contender].label)}</text>`,
        `<rect x="${x0}" y="${barY}" width="${Math.max(1, x(total) - x0).toFixed(1)}" height="24" ` +
          `fill="${COLORS[visit.contender]}"><title>${formatKB(total)}</title></rect>`,
        `<text x="${(x(total) + 6).toFixed(1)}" y="${barY + 17}" font-size="12" font-weight="600" fill="#111827">` +
          `${formatKB(total)}</text>`,
      );
    });
    const targetX = x(FIRST_VISIT_TARGET_BYTES).toFixed(1);
    const targetBottom = top + 18 + visits.length * 34;
    out.push(
      `<line x1="${targetX}" y1="${top + 12}" x2="${targetX}" y2="${targetBottom}" stroke="#dc2626" ` +
        `stroke-dasharray="4 3" stroke-width="2"/>`,
      `<text x="${targetX}" y="${targetBottom + 14}" font-size="12" text-anchor="middle" fill="#dc2626">` +
        `target ${FIRST_VISIT_TARGET_BYTES / 1000} KB</text>`,
    );
  }
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
