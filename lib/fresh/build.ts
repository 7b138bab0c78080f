/**
 * Bundles islands ahead of time with `deno bundle` (esbuild inside): one entry
 * per island plus the boot module, shared chunks split out, entry names
 * content-hashed so they can be cached forever.
 * @module
 */
import { type BuildMeta, readBuildMeta } from "./build_meta.ts";
import { islandNameFromFile, listSourceFiles } from "./files.ts";
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

const DEFAULT_INPUTS = ["islands", "lib", "deno.json"];
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
  const entries: string[] = [];
  const bootEntry = `${work}/entries/boot.ts`;
  await Deno.writeTextFile(bootEntry, `export { boot } from "${import.meta.resolve("./runtime/boot.ts")}";\n`);
  entries.push(bootEntry);
  const islandNames: string[] = [];
  for (const file of islandFiles) {
    const name = islandNameFromFile(file.slice(`${root}/islands/`.length));
    islandNames.push(name);
    const entry = `${work}/entries/${name}.ts`;
    await Deno.writeTextFile(entry, `export { default } from "${new URL(`file://${file}`).href}";\n`);
    entries.push(entry);
  }

  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=browser",
      "--code-splitting",
      "--minify",
      `--outdir=${work}/out`,
      ...entries,
    ],
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  });
  const { success } = await command.output();
  if (!success) throw new Error("deno bundle failed; see its output above");

  const js = `${outDir}/js`;
  const staged = `${work}/js`;
  await Deno.mkdir(staged, { recursive: true });
  const meta: BuildMeta = { inputsHash, boot: "", islands: {}, files: [] };
  const entryNames = new Set(["boot", ...islandNames]);
  const renamed = new Map<string, string>();
  for await (const item of Deno.readDir(`${work}/out`)) {
    if (!item.isFile || !item.name.endsWith(".js")) continue;
    const bytes = await Deno.readFile(`${work}/out/${item.name}`);
    const stem = item.name.slice(0, -3);
    // esbuild already names chunks by content hash; entries get one here.
    const fileName = entryNames.has(stem) ? `${stem}-${(await sha256Hex(bytes)).slice(0, 12)}.js` : item.name;
    renamed.set(item.name, fileName);
    await Deno.writeFile(`${staged}/${fileName}`, bytes);
    meta.files.push(fileName);
    if (stem === "boot") meta.boot = fileName;
    else if (entryNames.has(stem)) meta.islands[stem] = fileName;
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

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
