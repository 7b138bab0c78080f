/**
 * The last step of a bundle: syntax lowered to {@link BROWSER_TARGETS} with
 * npm esbuild's `transform` (syntax only; APIs are guarded in the code), then
 * minified again by terser, which on top of esbuild's minification merges and
 * drops more and names variables so that brotli finds more repeats (about 5%
 * fewer compressed bytes on the room's bundle). Deterministic: the same input
 * and tool versions give the same bytes, so a file name hashed from the input
 * and {@link minifyTag} names one content forever.
 * @module
 */
import * as esbuild from "esbuild";
import { minify } from "terser";

/**
 * The browsers the bundles must parse and run on: current Chromium, Firefox ESR (115 is the oldest still met in the
 * field) and Safari, down to iOS Safari 15.4. Syntax newer than these (class static blocks, `using`, ...) is lowered;
 * syntax esbuild cannot lower (top-level await, regexp flags) fails the build.
 */
export const BROWSER_TARGETS: readonly string[] = ["chrome100", "edge100", "firefox115", "safari15.4", "ios15.4"];

/**
 * Terser's options: ES modules (top-level names are the module's own), output syntax of ES2020 at most (every target
 * runs it), two compress passes. Property names are never mangled: wire frames, stored records and DOM properties
 * share them.
 */
const TERSER_OPTIONS = {
  module: true,
  ecma: 2020,
  compress: { passes: 2 },
  mangle: true,
  format: { comments: false },
} as const;

/**
 * What the output of {@link finishModule} depends on besides its input: tool versions (terser's as the import map
 * pins it), targets and options. Bundle file names hash it in, so a new tool or target never serves new bytes under
 * an old name.
 */
export function minifyTag(): string {
  return `esbuild ${esbuild.version}; ${import.meta.resolve("terser")}; ${BROWSER_TARGETS.join(",")}; ${
    JSON.stringify(TERSER_OPTIONS)
  }`;
}

/**
 * Lowers an ES module's code to {@link BROWSER_TARGETS} and minifies it. `name` names the file in errors. Throws when
 * the code has syntax the targets cannot run (esbuild's error), or a regular expression they cannot parse (esbuild
 * would turn it into a `new RegExp(...)` that throws at run time).
 */
export async function finishModule(name: string, code: string): Promise<string> {
  const lowered = await esbuild.transform(code, {
    format: "esm",
    target: [...BROWSER_TARGETS],
    minify: true,
    sourcefile: name,
    logLevel: "silent",
  }).catch((error: unknown) => {
    throw new Error(`${name} cannot be lowered to ${BROWSER_TARGETS.join(", ")}: ${(error as Error).message}`);
  });
  if (count(lowered.code, "new RegExp(") > count(code, "new RegExp(")) {
    throw new Error(`${name} has a regular expression that ${BROWSER_TARGETS.join(", ")} cannot run`);
  }
  const minified = await minify(lowered.code, TERSER_OPTIONS);
  if (minified.code === undefined) throw new Error(`terser returned nothing for ${name}`);
  return minified.code;
}

/** Stops esbuild's service (it keeps a child process that would hold the build open). */
export function stopMinifier(): Promise<void> {
  return esbuild.stop();
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}
