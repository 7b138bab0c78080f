/**
 * The browser side of islands: reads the page's island data, revives signal
 * props, and hydrates each island in place. Bundled as its own entry.
 * @module
 */
import { h, hydrate } from "preact";

type IslandLoader = () => Promise<{ default: preact.ComponentType<Record<string, unknown>> }>;

interface IslandData {
  islands: { name: string; props: Record<string, unknown> }[];
  signals: unknown[];
}

const SIGNAL_KEY = "$signal";

/** Hydrates every island marker of the page with the module its loader returns. */
export async function boot(loaders: Record<string, IslandLoader>): Promise<void> {
  const script = document.getElementById("__islands");
  if (!script?.textContent) return;
  const data = JSON.parse(script.textContent) as IslandData;
  let signals: unknown[] = [];
  if (data.signals.length > 0) {
    // Only pages whose islands take signals pay for loading them here.
    const { signal } = await import("@preact/signals");
    signals = data.signals.map((value) => signal(value));
  }
  const revive = (value: unknown): unknown => {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map(revive);
    const record = value as Record<string, unknown>;
    if (typeof record[SIGNAL_KEY] === "number") return signals[record[SIGNAL_KEY]];
    const out: Record<string, unknown> = {};
    for (const key in record) out[key] = revive(record[key]);
    return out;
  };
  const markers = document.querySelectorAll<HTMLElement>("island-root[data-island]");
  await Promise.all(Array.from(markers, async (marker) => {
    const island = data.islands[Number(marker.dataset.index)];
    const load = island && loaders[island.name];
    if (!load) throw new Error(`No bundle for island marker ${marker.dataset.island}`);
    const module = await load();
    hydrate(h(module.default, revive(island.props) as Record<string, unknown>), marker);
  }));
}
