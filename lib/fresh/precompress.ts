/**
 * Build-time compression: writes `.br` and `.gz` beside each compressible
 * bundle, and for `static/` into `<outDir>/static/` with a record of the
 * source each variant was made from, so a changed source is never served
 * from a stale variant. Deploy has no time to spare per request, and its
 * file system is read-only at run time, so this happens in `deno task build`.
 * @module
 */
import { BUILD_BROTLI_QUALITY, compress, type Encoding, ENCODING_SUFFIX, isCompressible } from "./compression.ts";
import { listSourceFiles } from "./files.ts";
import { contentTypeOf, etagOf } from "./static_files.ts";

/** Where precompressed `static/` variants live, relative to the build's output directory. */
export const COMPRESSED_STATIC_DIR = "static";
/** The record of sources: URL path → entity tag of the bytes the variants were made from. */
export const COMPRESSED_STATIC_RECORD = "sources.json";

const ENCODINGS: Encoding[] = ["br", "gzip"];

/** Writes `<target>.br` and `<target>.gz` for `bytes`. */
async function writeVariants(bytes: Uint8Array, target: string): Promise<void> {
  for (const encoding of ENCODINGS) {
    await Deno.writeFile(target + ENCODING_SUFFIX[encoding], compress(bytes, encoding, BUILD_BROTLI_QUALITY));
  }
}

/** Compresses every bundle file named in `files` inside `dir`, in place. Returns how many it wrote. */
export async function precompressBundles(dir: string, files: string[]): Promise<number> {
  let count = 0;
  for (const name of files) {
    if (!isCompressible(contentTypeOf(name))) continue;
    await writeVariants(await Deno.readFile(`${dir}/${name}`), `${dir}/${name}`);
    count++;
  }
  return count;
}

/** Compresses the compressible files of `staticDir` into `<outDir>/static/` and records their sources' tags. */
export async function precompressStatic(staticDir: string, outDir: string): Promise<number> {
  const target = `${outDir}/${COMPRESSED_STATIC_DIR}`;
  await Deno.remove(target, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const record: Record<string, string> = {};
  for (const path of await listSourceFiles(staticDir, /./)) {
    if (!isCompressible(contentTypeOf(path))) continue;
    const urlPath = path.slice(staticDir.length);
    const bytes = await Deno.readFile(path);
    await Deno.mkdir(`${target}${urlPath.slice(0, urlPath.lastIndexOf("/"))}`, { recursive: true });
    await writeVariants(bytes, `${target}${urlPath}`);
    record[urlPath] = await etagOf(bytes);
  }
  await Deno.mkdir(target, { recursive: true });
  await Deno.writeTextFile(`${target}/${COMPRESSED_STATIC_RECORD}`, JSON.stringify(record, null, 2) + "\n");
  return Object.keys(record).length;
}
