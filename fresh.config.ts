import { defineConfig } from "$fresh/server.ts";
import { twindPlugin } from "$fresh/plugins/twind.ts";
import presetTailwind from "@twind/preset-tailwind";

/** Fresh-style configuration: twind compiles classes on the server. */
export default defineConfig({
  plugins: [
    twindPlugin({
      presets: [presetTailwind()],
      darkMode: "media",
    }),
  ],
});
