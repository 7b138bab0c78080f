/**
 * Serialises island props for hydration: JSON values, plus signals from
 * `@preact/signals`, which become shared references so two islands given the
 * same signal still share it in the browser.
 * @module
 */
import type { IslandInstance } from "./render_state.ts";

/** The key marking a signal reference in serialised props. */
export const SIGNAL_KEY = "$signal";

/** The JSON document a page embeds for its islands. */
export interface IslandData {
  /** Name and props of each island, in marker order. */
  islands: { name: string; props: unknown }[];
  /** Initial values of the signals the props refer to by index. */
  signals: unknown[];
}

const SIGNAL_BRAND = Symbol.for("preact-signals");

function isSignal(value: object): value is { value: unknown; peek(): unknown } {
  return (value as { brand?: unknown }).brand === SIGNAL_BRAND;
}

/** Builds the island data, throwing a clear error for props that cannot cross to the browser. */
export function serializeIslands(instances: IslandInstance[]): IslandData {
  const signals: unknown[] = [];
  const signalIndex = new Map<object, number>();

  function encode(value: unknown, path: string): unknown {
    if (value === null || typeof value === "string" || typeof value === "boolean") return value;
    if (typeof value === "number") {
      if (!Number.isFinite(value)) throw new TypeError(`${path} is ${value}, which JSON cannot carry`);
      return value;
    }
    if (typeof value !== "object") throw new TypeError(`${path} is a ${typeof value}, which cannot be hydrated`);
    if (isSignal(value)) {
      let index = signalIndex.get(value);
      if (index === undefined) {
        index = signals.push(encode(value.peek(), `${path}.value`)) - 1;
        signalIndex.set(value, index);
      }
      return { [SIGNAL_KEY]: index };
    }
    if (Array.isArray(value)) return value.map((item, i) => encode(item, `${path}[${i}]`));
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null) {
      throw new TypeError(`${path} is a ${proto?.constructor?.name ?? "class instance"}; pass plain data`);
    }
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (key === SIGNAL_KEY) throw new TypeError(`${path}.${key} uses a reserved key`);
      if (item !== undefined) out[key] = encode(item, `${path}.${key}`);
    }
    return out;
  }

  const islands = instances.map(({ name, props }) => {
    const { children, ...rest } = props;
    if (children !== undefined) throw new TypeError(`island ${name}: children cannot be hydrated`);
    return { name, props: encode(rest, `island ${name} props`) };
  });
  return { islands, signals };
}

/** JSON safe to place inside a `<script>` element: no `</script>` or `<!--` can appear. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replaceAll("<", "\\u003c")
    .replaceAll("\u2028", "\\u2028")
    .replaceAll("\u2029", "\\u2029");
}
