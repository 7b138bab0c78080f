/**
 * The browser side of islands: reads the page's island data, revives signal
 * props, and hydrates each island in place. Every island's bundle exports it
 * (from its entry), and the page calls the boot of each island kind's bundle
 * with that kind's loader: a boot hydrates the markers of its own islands only.
 * Signals are shared between islands of one kind (one bundle, one signals core);
 * islands of different kinds get separate copies of a signal's initial value.
 * @module
 */
import { h, hydrate } from "preact";

/** An island's entry module: the component, and the signals core's `signal` when the island uses signals. */
interface IslandModule {
  /** The island component. */
  default: preact.ComponentType<Record<string, unknown>>;
  /** Makes a signal with the island bundle's own signals core (see `build.ts`). */
  signal?(value: unknown): unknown;
}

type IslandLoader = () => Promise<IslandModule>;

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
  // Signals come from the island bundle's own signals core (an island taking signal props uses signals itself), made
  // once per boot, so islands of this kind given one signal share it.
  let signals: unknown[] | undefined;
  const signalsOf = (name: string, module: IslandModule): unknown[] => {
    if (!signals) {
      if (data.signals.length > 0 && !module.signal) {
        throw new Error(`Island ${name} is given signals but does not use @preact/signals`);
      }
      signals = data.signals.map((value) => module.signal!(value));
    }
    return signals;
  };
  const revive = (value: unknown, signals: unknown[]): unknown => {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map((item) => revive(item, signals));
    const record = value as Record<string, unknown>;
    if (typeof record[SIGNAL_KEY] === "number") return signals[record[SIGNAL_KEY]];
    const out: Record<string, unknown> = {};
    for (const key in record) out[key] = revive(record[key], signals);
    return out;
  };
  const markers = document.querySelectorAll<HTMLElement>("island-root[data-island]");
  const own = Array.from(markers).filter((marker) => Object.hasOwn(loaders, marker.dataset.island ?? ""));
  await Promise.all(own.map(async (marker) => {
    const island = data.islands[Number(marker.dataset.index)];
    const load = island && island.name === marker.dataset.island && loaders[island.name];
    if (!load) throw new Error(`Island marker ${marker.dataset.island} does not match the page's island data`);
    const module = await load();
    const props = revive(island.props, signalsOf(island.name, module)) as Record<string, unknown>;
    hydrate(h(module.default, props), marker);
  }));
}
