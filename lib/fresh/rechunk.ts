/**
 * Re-chunks one group's bundle with rollup: `deno bundle` (esbuild) resolves,
 * compiles and splits the islands, but it moves every module that a lazy
 * chunk shares with the entry into a chunk of its own, so a page's first load
 * is several files (a request, its headers and a separate compression window
 * each). Rollup, given esbuild's output, keeps what the entry loads anyway in
 * the entry, and lets lazy chunks import it from there: the page loads one
 * file per group of islands (plus what only some of its islands share).
 * Files are named `<name>-<hash>.js`, the hash (12 hex digits) covering their
 * content, the hashes of the files they import, and a tag of the steps that
 * come after (see `minify.ts`).
 * @module
 */
import { rollup, type RollupLog } from "rollup";

/** One file rollup wrote. */
export interface ChunkFile {
  /** Its file name, hashed. */
  fileName: string;
  /** The island it is the entry of, if it is one. */
  island?: string;
  /** Its code (not minified yet). */
  code: string;
  /** File names it imports statically. */
  imports: string[];
  /** File names of the eager chunks it imports dynamically (see {@link EAGER_CHUNK}). */
  eagerImports: string[];
}

/**
 * An eager chunk: the chunk of a module whose file name ends in `.eager.ts` (or `.eager.tsx`), imported dynamically.
 * A page fetches it with the island (`modulepreload`), in parallel with it, but it runs only when imported: the
 * island hydrates without waiting for it. For what an island needs soon after hydration, not to hydrate.
 */
export const EAGER_CHUNK = /\.eager-[0-9a-f]{12}\.js$/;

/** esbuild's chunk names end with its own content hash (`drawers-MROC5NJR`); rollup's hash replaces it. */
const ESBUILD_HASH = /-[A-Z0-9]{8}$/;

/**
 * Re-chunks the ES modules esbuild wrote to `dir`, starting at `entries` (island name → file name in `dir`). `tag`
 * goes into every file's hash. Warnings fail the build: a circular chunk or a missing export would fail in browsers.
 */
export async function rechunk(dir: string, entries: Record<string, string>, tag: string): Promise<ChunkFile[]> {
  const warnings: RollupLog[] = [];
  const bundle = await rollup({
    input: Object.fromEntries(Object.entries(entries).map(([island, file]) => [island, `${dir}/${file}`])),
    // Entries keep their exports (the component, boot, signal) and may gain some for their lazy chunks.
    preserveEntrySignatures: "allow-extension",
    plugins: [{ name: "tag", augmentChunkHash: () => tag }],
    onLog(level, log) {
      if (level === "warn") warnings.push(log);
    },
  });
  try {
    const { output } = await bundle.generate({
      format: "es",
      generatedCode: "es2015",
      hashCharacters: "hex",
      entryFileNames: "[name]-[hash:12].js",
      chunkFileNames: (chunk) => `${chunk.name.replace(ESBUILD_HASH, "")}-[hash:12].js`,
    });
    if (warnings.length) {
      throw new Error(`rollup warned: ${warnings.map((log) => `${log.code}: ${log.message}`).join("; ")}`);
    }
    const files: ChunkFile[] = [];
    for (const item of output) {
      if (item.type !== "chunk") throw new Error(`rollup emitted an asset: ${item.fileName}`);
      files.push({
        fileName: item.fileName,
        island: item.isEntry ? item.name : undefined,
        code: item.code,
        imports: item.imports,
        eagerImports: [...new Set(item.dynamicImports.filter((file) => EAGER_CHUNK.test(file)))],
      });
    }
    return files;
  } finally {
    await bundle.close();
  }
}
