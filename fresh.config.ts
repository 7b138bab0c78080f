import { defineConfig } from "$fresh/server.ts";
import { twindPlugin } from "$fresh/plugins/twind.ts";
import presetTailwind from "@twind/preset-tailwind";
import { uiAliases } from "./lib/ui/styles_css.ts";

/** Fresh-style configuration: twind compiles classes on the server, the room's short part classes included. */
export default defineConfig({
  plugins: [
    twindPlugin({
      presets: [presetTailwind()],
      darkMode: "media",
    }, { aliases: uiAliases() }),
  ],
});
