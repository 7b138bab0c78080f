/**
 * Twind as a plugin: classes found in the server-rendered markup are compiled
 * to CSS and inlined in the page; no twind runtime reaches the browser.
 * Elements marked `data-twind-only` exist only to name classes that islands
 * render later (a safelist): their classes are compiled, then the elements
 * are dropped from the page.
 * @module
 */
import { extract, type Preset, twind, type TwindUserConfig, virtual } from "@twind/core";
import type { Plugin } from "../types.ts";

/** An empty element carrying `data-twind-only`, as Preact renders it (no children). */
const TWIND_ONLY = /<(\w+)\b[^>]*\sdata-twind-only(?:="")?[^>]*>\s*<\/\1>/g;

/** Creates the plugin from a twind configuration (presets, theme). */
// deno-lint-ignore no-explicit-any
export function twindPlugin<Theme, Presets extends Preset<any>[]>(config: TwindUserConfig<Theme, Presets>): Plugin {
  // A virtual sheet collects rules in memory; `extract` clears it per page.
  const tw = twind(config, virtual(false));
  return {
    name: "twind",
    render(page) {
      const { html, css } = extract(page.html, tw);
      return { html: html.replace(TWIND_ONLY, ""), styles: [{ cssText: css, id: "__twind" }] };
    },
  };
}
