/**
 * Process-wide counters and gauges, rendered in the Prometheus text format at
 * `/metrics`. Counters are plain numbers in a map: cheap enough for the relay
 * hot path.
 * @module
 */

/** Labels of one series, e.g. `{ code: "rate_limited" }`. */
export type Labels = Record<string, string>;

/** A monotonically increasing count. */
export interface Counter {
  /** Adds `by` (default 1) to the series with these labels. */
  inc(labels?: Labels, by?: number): void;
  /** The current value of one series, for tests. */
  value(labels?: Labels): number;
}

interface Family {
  help: string;
  type: "counter" | "gauge";
  series: Map<string, number>;
  collect?: () => number;
}

function labelKey(labels?: Labels): string {
  if (!labels) return "";
  const parts: string[] = [];
  for (const name of Object.keys(labels).sort()) {
    const value = labels[name].replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
    parts.push(`${name}="${value}"`);
  }
  return parts.length ? `{${parts.join(",")}}` : "";
}

/** A registry of metric families. */
export class Metrics {
  #families = new Map<string, Family>();

  /** Declares (or returns the already declared) counter `name`. */
  counter(name: string, help: string): Counter {
    const family = this.#family(name, help, "counter");
    return {
      inc(labels?: Labels, by = 1) {
        const key = labelKey(labels);
        family.series.set(key, (family.series.get(key) ?? 0) + by);
      },
      value(labels?: Labels) {
        return family.series.get(labelKey(labels)) ?? 0;
      },
    };
  }

  /** Declares gauge `name`, read from `collect` each time metrics are rendered. */
  gauge(name: string, help: string, collect: () => number): void {
    this.#family(name, help, "gauge").collect = collect;
  }

  /** Renders every family in the Prometheus text exposition format. */
  render(): string {
    const lines: string[] = [];
    for (const [name, family] of this.#families) {
      lines.push(`# HELP ${name} ${family.help}`, `# TYPE ${name} ${family.type}`);
      if (family.collect) {
        lines.push(`${name} ${family.collect()}`);
      } else if (family.series.size === 0) {
        lines.push(`${name} 0`);
      } else {
        for (const [key, value] of family.series) lines.push(`${name}${key} ${value}`);
      }
    }
    return lines.join("\n") + "\n";
  }

  #family(name: string, help: string, type: Family["type"]): Family {
    let family = this.#families.get(name);
    if (!family) {
      family = { help, type, series: new Map() };
      this.#families.set(name, family);
    } else if (family.type !== type) {
      throw new Error(`metric ${name} is already a ${family.type}`);
    }
    return family;
  }
}

/** The process's registry, shared by every server module. */
export const metrics: Metrics = new Metrics();
