/**
 * Measures the JavaScript a page makes the browser download: the modules its
 * boot script imports, followed through their static imports, gzip-compressed.
 * @module
 */

/** One module a page loads. */
export interface LoadedModule {
  /** The module's URL path. */
  path: string;
  /** Its size, uncompressed. */
  bytes: number;
  /** Its size, gzip-compressed. */
  gzipBytes: number;
}

/** Gzips bytes with the platform's CompressionStream. */
export async function gzipSize(bytes: Uint8Array<ArrayBuffer>): Promise<number> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

const STATIC_IMPORT = /(?:^|[;}\s])(?:import|export)\s*(?:[^"'()]*?from\s*)?["']([^"']+)["']/g;
const DYNAMIC_IMPORT = /import\(\s*["']([^"']+)["']\s*\)/g;

/**
 * Lists the modules a page loads before it is interactive: module scripts in
 * the HTML, the islands they import, and every static import below them.
 * Lazy imports inside bundles (loaded only when needed) are not counted.
 */
export async function pageModules(
  fetchPath: (path: string) => Promise<Response>,
  pagePath: string,
): Promise<LoadedModule[]> {
  const html = await (await fetchPath(pagePath)).text();
  const queue: string[] = [];
  for (const script of html.matchAll(/<script type="module">([\s\S]*?)<\/script>/g)) {
    for (const found of script[1].matchAll(STATIC_IMPORT)) queue.push(found[1]);
    // The boot script imports each island on the page right away.
    for (const found of script[1].matchAll(DYNAMIC_IMPORT)) queue.push(found[1]);
  }
  const seen = new Map<string, LoadedModule>();
  while (queue.length) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    const res = await fetchPath(path);
    if (!res.ok) throw new Error(`${path} answered ${res.status}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    seen.set(path, { path, bytes: bytes.byteLength, gzipBytes: await gzipSize(bytes) });
    const text = new TextDecoder().decode(bytes);
    for (const found of text.matchAll(STATIC_IMPORT)) queue.push(new URL(found[1], `http://x${path}`).pathname);
  }
  return [...seen.values()];
}
