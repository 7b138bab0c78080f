/**
 * The record `deno task build` leaves beside the bundles, read by the server
 * at start-up. Reading it needs no subprocess and no write, as on Deploy.
 * @module
 */

/** The URL prefix under which island bundles are served. */
export const BUNDLE_URL_PREFIX = "/_fresh/js/";

/** What a build produced. */
export interface BuildMeta {
  /** Hash of the sources the build read, to tell whether it is stale. */
  inputsHash: string;
  /** File name of each island's entry module (which also exports `boot`), by island name. */
  islands: Record<string, string>;
  /** The islands bundled together (rendered together by some route): one boot hydrates a page's islands of a group. */
  groups?: string[][];
  /** Every file the build wrote, entries and shared chunks. */
  files: string[];
  /** The static imports of each file (file names), so pages can preload a whole island at once. */
  imports?: Record<string, string[]>;
  /** The eager chunks each file imports dynamically (file names; see `EAGER_CHUNK` in rechunk.ts), where it has any. */
  eager?: Record<string, string[]>;
}

/**
 * The file names a page fetches with `entries`: what they import statically and the eager chunks they import
 * dynamically, directly or through other files, the entries included.
 */
export function preloadClosure(meta: BuildMeta, entries: string[]): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const dep of meta.imports?.[file] ?? []) visit(dep);
    for (const dep of meta.eager?.[file] ?? []) visit(dep);
  };
  entries.forEach(visit);
  return [...seen];
}

/** Reads the build record, or `null` when nothing has been built. */
export async function readBuildMeta(outDir: string): Promise<BuildMeta | null> {
  try {
    return JSON.parse(await Deno.readTextFile(`${outDir}/meta.json`)) as BuildMeta;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}
