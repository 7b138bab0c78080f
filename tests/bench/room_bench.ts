/**
 * Room page benchmark: what a first visit of the chat page moves before it is
 * interactive, as served (brotli: the HTML with its inline CSS, and the
 * modules it loads), against the 40 KiB first-visit budget of issue 11
 * (bodies only here; `tests/browser/connect_first_test.ts` measures the same
 * in Chromium with headers). The JavaScript's gzip size is printed too, next
 * to the landing page measured the same way, and the lazy chunks (drawers,
 * QR code, ...) as a second total.
 * @module
 */
import { appHandler } from "../support/app.ts";
import { gzipSize, type LoadedModule, pageModules } from "./page_weight.ts";

/** The first visit's budget: HTML, CSS and JS as served (issue 11). */
const FIRST_VISIT_BUDGET = 40 * 1024;
const ROOM_PATH = "/AAAAAAAAAAAAAAAAAAAAAA";
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

/** Runs the room benchmark and prints its table. */
export async function runRoomBench(): Promise<{ ok: boolean }> {
  const app = await appHandler();
  const fetchPath = (path: string) => app(new Request(new URL(path, "http://bench.local")));
  const firstLoad = await pageModules(fetchPath, ROOM_PATH);
  const modules = await allModules(fetchPath, ROOM_PATH);
  const landing = await pageModules(fetchPath, "/");
  const sum = (list: LoadedModule[]) => list.reduce((total, m) => total + m.gzipBytes, 0);
  const total = sum(modules);
  const landingTotal = sum(landing);

  console.log("\n## Room page JavaScript (gzip)");
  const eager = new Set(firstLoad.map((m) => m.path));
  for (const m of modules) {
    const note = eager.has(m.path) ? "" : " (lazy)";
    console.log(`  ${(m.path + note).padEnd(52)} ${String(m.gzipBytes).padStart(6)} B`);
  }
  console.log(`  ${"before interactive".padEnd(52)} ${String(sum(firstLoad)).padStart(6)} B`);
  console.log(`  ${"total, lazy chunks included".padEnd(52)} ${String(total).padStart(6)} B`);
  const eagerTotal = sum(firstLoad);
  console.log(`  room/landing = ${(eagerTotal / landingTotal).toFixed(2)}x (landing ${landingTotal} B)`);

  // As served: the page and its first-load modules with Accept-Encoding: br.
  const served = async (path: string) => {
    const res = await app(new Request(new URL(path, "http://bench.local"), { headers: { "accept-encoding": "br" } }));
    return (await res.arrayBuffer()).byteLength;
  };
  const html = await served(ROOM_PATH);
  let js = 0;
  for (const m of firstLoad) js += await served(m.path);
  const firstVisit = html + js;
  console.log("\n## Room page first visit, as served (brotli, bodies)");
  console.log(`  HTML with its CSS ${String(html).padStart(6)} B`);
  console.log(`  JavaScript        ${String(js).padStart(6)} B`);
  console.log(
    `  total             ${String(firstVisit).padStart(6)} B: ${(firstVisit / FIRST_VISIT_BUDGET).toFixed(2)}x ` +
      `of the ${FIRST_VISIT_BUDGET} B budget`,
  );
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
