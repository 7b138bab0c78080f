/**
 * The core's command line, run from the project root:
 * `manifest` writes fresh.gen.ts; `build` also bundles islands.
 * `--if-needed` skips an up-to-date build; `--keep-manifest` leaves fresh.gen.ts
 * alone, so the test task can check it is committed fresh.
 *
 * The bundler (`build.ts`, which loads esbuild) is imported only by `build`:
 * `manifest` runs with read access and write access to fresh.gen.ts alone.
 * @module
 */
import { writeManifest } from "./manifest.ts";
import type { FreshConfig } from "./types.ts";

const root = Deno.cwd();
const [command, ...flags] = Deno.args;

async function loadConfig(): Promise<FreshConfig> {
  const module = await import(new URL(`file://${root}/fresh.config.ts`).href);
  return module.default as FreshConfig;
}

if (command === "manifest") {
  const changed = await writeManifest(root);
  console.log(changed ? "fresh.gen.ts written" : "fresh.gen.ts is up to date");
} else if (command === "build") {
  const { BROWSER_TARGETS, build, needsBuild } = await import("./build.ts");
  if (!flags.includes("--keep-manifest")) await writeManifest(root);
  const options = { root, outDir: (await loadConfig()).outDir ?? "_fresh" };
  if (flags.includes("--if-needed") && !await needsBuild(options)) {
    console.log("Islands are up to date");
  } else {
    const started = performance.now();
    const meta = await build(options);
    const took = Math.round(performance.now() - started);
    console.log(
      `Built ${Object.keys(meta.islands).length} island(s), ${meta.files.length} file(s) in ${took} ms ` +
        `for ${BROWSER_TARGETS.join(", ")}`,
    );
  }
} else {
  console.error("Usage: deno run -A lib/fresh/dev.ts manifest | build [--if-needed] [--keep-manifest]");
  Deno.exit(2);
}
