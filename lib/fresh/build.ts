/**
 * Bundles islands ahead of time: one bundle per group of islands that some
 * page renders together (see `island_groups.ts`), each island's entry also
 * exporting the boot function. `deno bundle` (esbuild inside) resolves,
 * compiles and splits out lazily imported parts; rollup then re-chunks that
 * output so a page's first load is one file per group, with lazy chunks
 * importing what they share from the entry (see `rechunk.ts`); each file is
 * finally lowered to {@link BROWSER_TARGETS} and minified (see `minify.ts`).
 * A bundle per page's islands (rather than one bundle of every island with
 * shared chunks) keeps a page's first load to a few files: code it shares
 * with another page's islands never becomes a chunk of its own. Every file
 * name carries a hash of its content, so it can be cached forever; a file
 * with the same name from two bundles must be the same code, and is written
 * (and cached by browsers) once.
 * @module
 */
import { type BuildMeta, readBuildMeta } from "./build_meta.ts";
import { islandNameFromFile, listSourceFiles } from "./files.ts";
import { islandGroups } from "./island_groups.ts";
import { BROWSER_TARGETS, finishModule, minifyTag, stopMinifier } from "./minify.ts";
import { precompressBundles, precompressStatic } from "./precompress.ts";
import { rechunk } from "./rechunk.ts";

export { BROWSER_TARGETS };

/** Options of `build`. */
export interface BuildOptions {
  /** The project root, as a directory path. */
  root: string;
  /** Output directory relative to the root. */
  outDir: string;
  /** Directories (relative to the root) whose contents decide whether a build is stale. */
  inputs?: string[];
}

const DEFAULT_INPUTS = ["islands", "lib", "routes", "deno.json"];

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
  const groups: string[][] = [];
  const meta: BuildMeta = { inputsHash, islands: {}, groups, files: [], imports: {} };
  const built = new Map<string, string>();
  const tag = minifyTag();
  try {
    for (const [index, files] of (await islandGroups(root, islandFiles)).entries()) {
      const names = files.map((file) => islandNameFromFile(file.slice(`${root}/islands/`.length)));
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
        args: ["bundle", "--quiet", "--platform=browser", "--code-splitting", `--outdir=${out}`, ...entries],
        cwd: root,
        stdout: "inherit",
        stderr: "inherit",
      });
      const { success } = await command.output();
      if (!success) throw new Error(`deno bundle failed for islands ${names.join(", ")}; see its output above`);
      const chunks = await rechunk(out, Object.fromEntries(names.map((name) => [name, `${name}.js`])), tag);
      for (const chunk of chunks) {
        const code = await finishModule(chunk.fileName, chunk.code);
        // Names are hashes of their content: the same name from two bundles must be the same code.
        if (built.has(chunk.fileName) && built.get(chunk.fileName) !== code) {
          throw new Error(`Two bundles made different ${chunk.fileName}`);
        }
        built.set(chunk.fileName, code);
        meta.imports![chunk.fileName] = chunk.imports;
        if (chunk.eagerImports.length) (meta.eager ??= {})[chunk.fileName] = chunk.eagerImports;
        if (chunk.island) meta.islands[chunk.island] = chunk.fileName;
      }
    }
  } finally {
    await stopMinifier();
  }

  const js = `${outDir}/js`;
  const staged = `${work}/js`;
  await Deno.mkdir(staged, { recursive: true });
  for (const [fileName, code] of built) {
    await Deno.writeTextFile(`${staged}/${fileName}`, code);
    meta.files.push(fileName);
  }
  meta.files.sort();
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

function ignoreNotFound(error: unknown): void {
  if (!(error instanceof Deno.errors.NotFound)) throw error;
}
