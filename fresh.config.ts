import { defineConfig } from "$fresh/server.ts";
import { twindPlugin } from "$fresh/plugins/twind.ts";
import presetTailwind from "@twind/preset-tailwind";
import { parleyPreflight } from "./lib/ui/preflight.ts";
import { uiAliases } from "./lib/ui/styles_css.ts";

/** Fresh-style configuration: twind compiles classes on the server, the room's short part classes included. */
export default defineConfig({
  plugins: [
    twindPlugin({
      // Tailwind's preflight, less the rules for elements no page has (see lib/ui/preflight.ts).
      presets: [presetTailwind({ disablePreflight: true })],
      preflight: parleyPreflight(),
      darkMode: "media",
    }, { aliases: uiAliases() }),
  ],
});
