/**
 * Twind as a plugin: classes found in the server-rendered markup are compiled
 * to CSS and inlined in the page; no twind runtime reaches the browser.
 * @module
 */
import { extract, type Preset, twind, type TwindUserConfig, virtual } from "@twind/core";
import type { Plugin } from "../types.ts";

/** Creates the plugin from a twind configuration (presets, theme). */
// deno-lint-ignore no-explicit-any
export function twindPlugin<Theme, Presets extends Preset<any>[]>(config: TwindUserConfig<Theme, Presets>): Plugin {
  // A virtual sheet collects rules in memory; `extract` clears it per page.
  const tw = twind(config, virtual(false));
  return {
    name: "twind",
    render(page) {
      const { html, css } = extract(page.html, tw);
      return { html, styles: [{ cssText: css, id: "__twind" }] };
    },
  };
}
