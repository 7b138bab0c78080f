/**
 * Twind as a plugin: classes found in the server-rendered markup are compiled
 * to CSS and inlined in the page; no twind runtime reaches the browser.
 * Elements marked `data-twind-only` exist only to name classes that islands
 * render later (a safelist): their classes are compiled, then the elements
 * are dropped from the page.
 *
 * Aliases: a class may stand for a list of utility classes (`_3` for
 * `px-2.5 py-1.5 rounded-lg ...`), so markup and island bundles carry one
 * short name instead of the list. The CSS is twind's own for the utilities,
 * in twind's order, with each alias added to the selectors of its utilities'
 * rules: an element with some aliases is styled exactly as if it had their
 * utilities (conflicts between utilities resolve by the same sheet order).
 * @module
 */
import { escape, type Preset, twind, type TwindUserConfig, virtual } from "@twind/core";
import type { Plugin } from "../types.ts";

/** An empty element carrying `data-twind-only`, as Preact renders it (no children). */
const TWIND_ONLY = /<(\w+)\b[^>]*\sdata-twind-only(?:="")?[^>]*>\s*<\/\1>/g;
/** A class attribute as Preact renders it (always double-quoted, entities escaped). */
const CLASS_ATTRIBUTE = /\sclass="([^"]*)"/g;
/** A class in a CSS selector: a dot, then name characters or escapes. */
const SELECTOR_CLASS = /\.((?:\\.|[\w-])+)/g;
/** Style sheets kept per set of classes: pages are few, and each is the same for every visit. */
const KEPT_SHEETS = 32;

/** Options of the plugin besides twind's configuration. */
export interface TwindPluginOptions {
  /** Classes that stand for utility classes: alias → utilities separated by spaces. No alias may be a utility. */
  aliases?: Readonly<Record<string, string>>;
}

/** Creates the plugin from a twind configuration (presets, theme) and aliases. */
// deno-lint-ignore no-explicit-any
export function twindPlugin<Theme, Presets extends Preset<any>[]>(
  config: TwindUserConfig<Theme, Presets>,
  options: TwindPluginOptions = {},
): Plugin {
  // A virtual sheet collects rules in memory; it is cleared per sheet.
  const tw = twind(config, virtual(false));
  const aliases = new Map(Object.entries(options.aliases ?? {}).map(([alias, list]) => [alias, list.split(/\s+/)]));
  const sheets = new Map<string, string>();

  /** The CSS for the classes of a page's markup. */
  const sheetFor = (classes: Set<string>): string => {
    const sorted = [...classes].sort();
    const key = sorted.join(" ");
    let css = sheets.get(key);
    if (css === undefined) {
      css = compile(sorted);
      if (sheets.size >= KEPT_SHEETS) sheets.delete(sheets.keys().next().value!);
      sheets.set(key, css);
    }
    return css;
  };

  const compile = (classes: readonly string[]): string => {
    // Which aliases each utility serves, and which utilities the markup names itself.
    const servedBy = new Map<string, string[]>();
    const direct = new Set<string>();
    for (const name of classes) {
      const list = aliases.get(name);
      if (!list) {
        direct.add(name);
        continue;
      }
      for (const utility of list) servedBy.set(utility, [...servedBy.get(utility) ?? [], name]);
    }
    tw.clear();
    tw([...direct, ...servedBy.keys()].join(" "));
    return compactSheet(tw.target.map((rule) => aliasRule(rule, servedBy, direct)));
  };

  return {
    name: "twind",
    render(page) {
      const classes = new Set<string>();
      for (const found of page.html.matchAll(CLASS_ATTRIBUTE)) {
        for (const name of found[1].split(/\s+/)) if (name) classes.add(name);
      }
      return { html: page.html.replace(TWIND_ONLY, ""), styles: [{ cssText: sheetFor(classes), id: "__twind" }] };
    },
  };
}

/** A colour with its opacity variable at 1, as twind writes text, background and border colours. */
const OPAQUE_COLOR = /--tw-(text|bg|border)-opacity:1;([a-z-]+):rgba\((\d+),(\d+),(\d+),var\(--tw-\1-opacity\)\)/g;
/** A declaration that sets one of those opacity variables. */
const OPACITY_SET = /--tw-(text|bg|border)-opacity:([^;}]+)/g;

/**
 * Twind's rules as one sheet, smaller and styling the same:
 * - `--tw-text-opacity:1;color:rgba(4,120,87,var(--tw-text-opacity))` becomes `color:#047857` (and so for `bg` and
 *   `border`), unless a rule of the sheet sets that variable to another value (`bg-opacity-50`), which it is for;
 * - neighbouring rules under the same at-rule (`@media (prefers-color-scheme:dark)`) share one block, in order.
 * About 0.2 KB less of the room page's compressed HTML (2.4 KB of CSS).
 */
export function compactSheet(rules: readonly string[]): string {
  const varied = new Set<string>();
  for (const rule of rules) {
    for (const [, kind, value] of rule.matchAll(OPACITY_SET)) if (value !== "1") varied.add(kind);
  }
  const hex = (n: string) => Number(n).toString(16).padStart(2, "0");
  const out: string[] = [];
  let prelude = "";
  for (const rule of rules) {
    const flat = rule.replace(
      OPAQUE_COLOR,
      (whole, kind, property, r, g, b) => varied.has(kind) ? whole : `${property}:#${hex(r)}${hex(g)}${hex(b)}`,
    );
    const open = flat.indexOf("{");
    const at = flat.startsWith("@") && open > 0 ? flat.slice(0, open) : "";
    if (at && at === prelude) out[out.length - 1] = out[out.length - 1].slice(0, -1) + flat.slice(open + 1);
    else out.push(flat);
    prelude = at;
  }
  return out.join("");
}

/**
 * One rule of twind's sheet with aliases added: a selector naming a utility that aliases serve is repeated with each
 * alias in the utility's place (and kept as it is only where the markup names the utility itself). At-rules (media
 * queries) are followed into.
 */
export function aliasRule(rule: string, servedBy: ReadonlyMap<string, string[]>, direct: ReadonlySet<string>): string {
  const open = rule.indexOf("{");
  if (open < 0) return rule;
  if (rule.startsWith("@")) {
    return rule.slice(0, open + 1) + aliasRule(rule.slice(open + 1, -1), servedBy, direct) + "}";
  }
  const selectors = splitSelectors(rule.slice(0, open)).flatMap((selector) => {
    for (const found of selector.matchAll(SELECTOR_CLASS)) {
      const utility = found[1].replace(/\\(.)/g, "$1");
      const names = servedBy.get(utility);
      if (!names || found[0] !== `.${escape(utility)}`) continue;
      const at = found.index!;
      const before = selector.slice(0, at);
      const after = selector.slice(at + found[0].length);
      const aliased = names.map((name) => `${before}.${name}${after}`);
      return direct.has(utility) ? [selector, ...aliased] : aliased;
    }
    return [selector];
  });
  return selectors.join(",") + rule.slice(open);
}

/** Splits a selector list at its top-level commas (not inside parentheses, brackets or escapes). */
function splitSelectors(list: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const char = list[i];
    if (char === "\\") i++;
    else if (char === "(" || char === "[") depth++;
    else if (char === ")" || char === "]") depth--;
    else if (char === "," && depth === 0) {
      out.push(list.slice(start, i));
      start = i + 1;
    }
  }
  out.push(list.slice(start));
  return out;
}
