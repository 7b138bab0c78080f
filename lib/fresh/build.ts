/**
 * Bundles islands ahead of time with `deno bundle` (esbuild inside): one
 * bundle per group of islands that some page renders together (see
 * `island_groups.ts`), each island's entry also exporting the boot function,
 * shared and lazily imported parts split out into chunks; entry names
 * content-hashed so they can be cached forever. A bundle per page's islands
 * (rather than one bundle of every island with shared chunks) keeps a page's
 * first load to a few files: code it shares with another page's islands never
 * becomes a chunk of its own, which on a slow link is a request and its
 * headers saved per chunk. Chunks with the same content in two bundles get
 * the same name, so the file is written (and cached by browsers) once. `deno bundle` has no target
 * option, so each output file is then lowered to {@link BROWSER_TARGETS} with
 * npm esbuild's `transform` (syntax only; APIs are guarded in the code).
 * @module
 */
import * as esbuild from "esbuild";
import { type BuildMeta, readBuildMeta } from "./build_meta.ts";
import { islandNameFromFile, listSourceFiles } from "./files.ts";
import { islandGroups } from "./island_groups.ts";
import { precompressBundles, precompressStatic } from "./precompress.ts";

/** Options of `build`. */
export interface BuildOptions {
  /** The project root, as a directory path. */
  root: string;
  /** Output directory relative to the root. */
  outDir: string;
  /** Directories (relative to the root) whose contents decide whether a build is stale. */
  inputs?: string[];
}

/**
 * The browsers the bundles must parse and run on: current Chromium, Firefox ESR (115 is the oldest still met in the
 * field) and Safari, down to iOS Safari 15.4. Syntax newer than these (class static blocks, `using`, ...) is lowered;
 * syntax esbuild cannot lower (top-level await, regexp flags) fails the build.
 */
export const BROWSER_TARGETS: readonly string[] = ["chrome100", "edge100", "firefox115", "safari15.4", "ios15.4"];

const DEFAULT_INPUTS = ["islands", "lib", "routes", "deno.json"];
/** A static `import ... from "./x.js"` (or `import "./x.js"`) in esbuild's output; lazy `import()` is not one. */
const STATIC_IMPORT = /(?:^|[;}\s])(?:import|export)\s*(?:[^"'()]*?from\s*)?"(\.\/[^"]+\.js)"/g;

async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hashes every input file's path and contents. */
export async function hashInputs(root: string, inputs = DEFAULT_INPUTS): Promise<string> {
  const parts: string[] = [];
  for (const input of inputs) {
    for (const file of await listSourceFiles(`${root}/${input}`, /./)) {
      parts.push(file, await sha256Hex(await Deno.readFile(file)));
    }
  }
  return sha256Hex(parts.join("\n"));
}

/** Whether the bundles on disk are missing or older than the sources. */
export async function needsBuild(options: BuildOptions): Promise<boolean> {
  const meta = await readBuildMeta(`${options.root}/${options.outDir}`);
  return meta === null || meta.inputsHash !== await hashInputs(options.root, options.inputs);
}

/** Bundles the islands and writes them, with `meta.json`, to the output directory. */
export async function build(options: BuildOptions): Promise<BuildMeta> {
  const { root } = options;
  const outDir = `${root}/${options.outDir}`;
  const inputsHash = await hashInputs(root, options.inputs);
  const islandFiles = await listSourceFiles(`${root}/islands`, /\.(tsx|jsx|ts|js)$/);

  // Entries live in one flat folder so esbuild writes entries and chunks side by side.
  const work = `${outDir}/.work`;
  await Deno.remove(work, { recursive: true }).catch(ignoreNotFound);
  await Deno.mkdir(`${work}/entries`, { recursive: true });
  const islandNames: string[] = [];
  const groups: string[][] = [];
  const lowered = new Map<string, string>();
  for (const [index, files] of (await islandGroups(root, islandFiles)).entries()) {
    const names = files.map((file) => islandNameFromFile(file.slice(`${root}/islands/`.length)));
    islandNames.push(...names);
    groups.push(names);
    // Boot revives signal props with the bundle's own signals core, which only bundles using signals carry.
    const signals = (await Promise.all(files.map((file) => usesSignals(root, file)))).some(Boolean);
    const entries: string[] = [];
    for (const [i, file] of files.entries()) {
      const entry = `${work}/entries/${index}/${names[i]}.ts`;
      await Deno.mkdir(`${work}/entries/${index}`, { recursive: true });
      await Deno.writeTextFile(
        entry,
        `export { default } from "${new URL(`file://${file}`).href}";\n` +
          `export { boot } from "${import.meta.resolve("./runtime/boot.ts")}";\n` +
          (signals ? `export { signal } from "@preact/signals-core";\n` : ""),
      );
      entries.push(entry);
    }
    const out = `${work}/out/${index}`;
    const command = new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=browser", "--code-splitting", "--minify", `--outdir=${out}`, ...entries],
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    });
    const { success } = await command.output();
    if (!success) throw new Error(`deno bundle failed for islands ${names.join(", ")}; see its output above`);
    for (const [file, code] of await lowerToTargets(out, new Set(names))) {
      // Chunk names are hashes of their content: the same name from two bundles must be the same code.
      if (lowered.has(file) && lowered.get(file) !== code) throw new Error(`Two bundles made different ${file}`);
      lowered.set(file, code);
    }
  }

  const js = `${outDir}/js`;
  const staged = `${work}/js`;
  await Deno.mkdir(staged, { recursive: true });
  const meta: BuildMeta = { inputsHash, islands: {}, groups, files: [] };
  const entryNames = new Set(islandNames);
  const renamed = new Map<string, string>();
  for (const [name, code] of lowered) {
    const bytes = new TextEncoder().encode(code);
    const stem = name.slice(0, -3);
    // Chunks are named by content hash (see lowerToTargets); entries get one here.
    const fileName = entryNames.has(stem) ? `${stem}-${(await sha256Hex(bytes)).slice(0, 12)}.js` : name;
    renamed.set(name, fileName);
    await Deno.writeFile(`${staged}/${fileName}`, bytes);
    meta.files.push(fileName);
    if (entryNames.has(stem)) meta.islands[stem] = fileName;
  }
  meta.files.sort();
  meta.imports = {};
  for (const file of meta.files) {
    const code = await Deno.readTextFile(`${staged}/${file}`);
    const deps = [...code.matchAll(STATIC_IMPORT)].map((m) => m[1].replace(/^\.\//, ""));
    meta.imports[file] = deps.map((dep) => entryNames.has(dep.replace(/\.js$/, "")) ? renamed.get(dep)! : dep);
  }
  await precompressBundles(staged, meta.files);
  await precompressStatic(`${root}/static`, outDir);
  await Deno.remove(js, { recursive: true }).catch(ignoreNotFound);
  await Deno.rename(staged, js);
  await Deno.writeTextFile(`${outDir}/meta.json`, JSON.stringify(meta, null, 2) + "\n");
  await Deno.remove(work, { recursive: true });
  return meta;
}

/**
 * Whether an island's module graph has `@preact/signals-core` (directly or through `@preact/signals`): then the
 * entries of its bundle also export `signal`, for boot to revive signal props with at no cost; other bundles do not
 * carry it.
 */
async function usesSignals(root: string, file: string): Promise<boolean> {
  const command = new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", file],
    cwd: root,
    stdout: "piped",
    stderr: "inherit",
  });
  const { success, stdout } = await command.output();
  if (!success) throw new Error(`deno info failed for ${file}; see its output above`);
  const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules?: { specifier?: string }[] };
  return (info.modules ?? []).some((module) => /^npm:\/?@preact\/signals-core@/.test(module.specifier ?? ""));
}

/**
 * Lowers every `.js` file of `dir` to {@link BROWSER_TARGETS}; returns file name → code. Chunks keep esbuild's
 * content-hash names with a tag of the esbuild version and targets added, so a name still means one content
 * forever (the lowering changes the bytes behind a hash), and references between files follow the new names.
 */
export async function lowerToTargets(dir: string, entryNames: ReadonlySet<string>): Promise<Map<string, string>> {
  const tag = (await sha256Hex(`${esbuild.version}\n${BROWSER_TARGETS.join(",")}`)).slice(0, 8);
  const sources = new Map<string, string>();
  for await (const item of Deno.readDir(dir)) {
    if (item.isFile && item.name.endsWith(".js")) {
      sources.set(item.name, await Deno.readTextFile(`${dir}/${item.name}`));
    }
  }
  const names = new Map<string, string>();
  for (const name of sources.keys()) {
    const stem = name.slice(0, -3);
    names.set(name, entryNames.has(stem) ? name : `${stem}-${tag}.js`);
  }
  const out = new Map<string, string>();
  try {
    for (const [name, source] of sources) {
      // esbuild prints module specifiers in double quotes; names are content hashes, so no other string matches.
      const code = source.replace(/"\.\/([^"]+\.js)"/g, (whole, file: string) => {
        const next = names.get(file);
        return next ? `"./${next}"` : whole;
      });
      const result = await esbuild.transform(code, {
        format: "esm",
        target: [...BROWSER_TARGETS],
        minify: true,
        sourcefile: name,
        logLevel: "silent",
      }).catch((error: unknown) => {
        throw new Error(`${name} cannot be lowered to ${BROWSER_TARGETS.join(", ")}: ${(error as Error).message}`);
      });
      // esbuild turns a regexp literal the targets cannot parse into `new RegExp(...)`: a runtime error there.
      if (count(result.code, "new RegExp(") > count(code, "new RegExp(")) {
        throw new Error(`${name} has a regular expression that ${BROWSER_TARGETS.join(", ")} cannot run`);
      }
      out.set(names.get(name)!, result.code);
    }
  } finally {
    await esbuild.stop();
  }
  return out;
}

function count(text: string, part: string): number {
  return text.split(part).length - 1;
}

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
