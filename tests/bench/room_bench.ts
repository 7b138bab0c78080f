/**
 * Room page benchmark: what a first visit of the chat page moves before it is
 * interactive (the HTML with its inlined CSS, and the JavaScript the page
 * loads at once), as the server sends it (brotli, as browsers ask for it; no
 * HTTP headers), against issue 11's first-visit budget of 40 KB, which
 * `tests/browser/connect_first_test.ts` measures on the wire in Chromium (its
 * `FIRST_VISIT_TARGET`, headers included). Also printed: the lazy chunks
 * loaded after Connected or when a drawer first opens, as a second total, and
 * the room's JavaScript against the landing page's measured the same way.
 * @module
 */
import { appHandler } from "../support/app.ts";
import { gzipSize, type LoadedModule, pageModules } from "./page_weight.ts";

/** Issue 11: a first visit of a room page moves at most 40 KB of HTML, CSS and JS (the browser test's target). */
const FIRST_VISIT_BUDGET = 40 * 1024;
const ROOM_PATH = "/AAAAAAAAAAAAAAAAAAAAAA";
/** What Chromium asks for. */
const ACCEPT_ENCODING = "gzip, deflate, br, zstd";
const DYNAMIC_IMPORT = /import\(\s*["']([^"']+)["']\s*\)/g;

/** The modules a page loads first, plus every chunk its bundles may import later. */
async function allModules(fetchPath: (path: string) => Promise<Response>, page: string): Promise<LoadedModule[]> {
  const first = await pageModules(fetchPath, page);
  const seen = new Map(first.map((m) => [m.path, m]));
  const queue = [...seen.keys()];
  while (queue.length) {
    const path = queue.shift()!;
    // The boot module's lazy import of @preact/signals runs only for islands given signal props; this page has none.
    if (path.includes("/boot-")) continue;
    const text = await (await fetchPath(path)).text();
    for (const found of text.matchAll(DYNAMIC_IMPORT)) {
      const lazy = new URL(found[1], `http://x${path}`).pathname;
      if (seen.has(lazy)) continue;
      const res = await fetchPath(lazy);
      if (!res.ok) throw new Error(`${lazy} answered ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      seen.set(lazy, { path: lazy, bytes: bytes.byteLength, gzipBytes: await gzipSize(bytes) });
      queue.push(lazy);
      // Chunks a lazy chunk imports statically come along with it.
      for (const m of await pageModulesOfScript(fetchPath, lazy)) {
        if (!seen.has(m.path)) {
          seen.set(m.path, m);
          queue.push(m.path);
        }
      }
    }
  }
  return [...seen.values()];
}

/** Static imports below one script, measured like `pageModules` does for a page. */
function pageModulesOfScript(fetchPath: (path: string) => Promise<Response>, script: string): Promise<LoadedModule[]> {
  const fakePage = `<script type="module">import ${JSON.stringify(script)}</script>`;
  return pageModules(
    (path) => path === "/__page" ? Promise.resolve(new Response(fakePage)) : fetchPath(path),
    "/__page",
  );
}

/** The bytes of a response body as the server sends it to a browser (compressed when it compresses it). */
async function servedBytes(fetchPath: (path: string, init?: RequestInit) => Promise<Response>, path: string) {
  const res = await fetchPath(path, { headers: { "accept-encoding": ACCEPT_ENCODING } });
  if (!res.ok) throw new Error(`${path} answered ${res.status}`);
  return (await res.arrayBuffer()).byteLength;
}

/** Runs the room benchmark and prints its table. */
export async function runRoomBench(): Promise<{ ok: boolean }> {
  const app = await appHandler();
  const fetchPath = (path: string, init?: RequestInit) => app(new Request(new URL(path, "http://bench.local"), init));
  const firstLoad = await pageModules(fetchPath, ROOM_PATH);
  const modules = await allModules(fetchPath, ROOM_PATH);
  const landing = await pageModules(fetchPath, "/");
  const served = new Map<string, number>();
  for (const m of [...modules, ...landing]) served.set(m.path, await servedBytes(fetchPath, m.path));
  const sum = (list: LoadedModule[]) => list.reduce((total, m) => total + served.get(m.path)!, 0);
  const html = await servedBytes(fetchPath, ROOM_PATH);
  const eagerJs = sum(firstLoad);
  const firstVisit = html + eagerJs;
  const total = firstVisit + sum(modules) - eagerJs;

  console.log("\n## Room page, first visit (as served: brotli, no headers)");
  const eager = new Set(firstLoad.map((m) => m.path));
  const row = (name: string, bytes: number) => console.log(`  ${name.padEnd(56)} ${String(bytes).padStart(6)} B`);
  row(`${ROOM_PATH} (HTML, CSS inlined)`, html);
  for (const m of modules) row(m.path + (eager.has(m.path) ? "" : " (lazy)"), served.get(m.path)!);
  row("before interactive (HTML, CSS, JS)", firstVisit);
  row("total, lazy chunks included", total);
  console.log(
    `  first-visit budget ${FIRST_VISIT_BUDGET} B (issue 11): ${(firstVisit / FIRST_VISIT_BUDGET).toFixed(2)}x ` +
      `before interactive, ${(total / FIRST_VISIT_BUDGET).toFixed(2)}x with every lazy chunk loaded`,
  );
  console.log(`  room/landing JS = ${(eagerJs / sum(landing)).toFixed(2)}x (landing ${sum(landing)} B)`);
  const ok = firstVisit <= FIRST_VISIT_BUDGET;
  console.log(
    ok ? "  room first visit within budget" : `  ROOM FIRST VISIT OVER BUDGET: ${firstVisit} > ${FIRST_VISIT_BUDGET}`,
  );
  return { ok };
}

if (import.meta.main) {
  const { ok } = await runRoomBench();
  if (!ok) Deno.exit(1);
}
