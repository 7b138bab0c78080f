/**
 * Room page benchmark: the JavaScript the chat page ships (gzip) before it is
 * interactive, against its 30 KB budget and against the landing page measured
 * the same way, plus the lazy chunks (drawers, QR code) loaded when a drawer
 * first opens, reported as a second total.
 * @module
 */
import { appHandler } from "../support/app.ts";
import { gzipSize, type LoadedModule, pageModules } from "./page_weight.ts";

const ROOM_BUDGET_GZIP = 30 * 1024;
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
  console.log(
    `  budget ${ROOM_BUDGET_GZIP} B: ${(eagerTotal / ROOM_BUDGET_GZIP).toFixed(2)}x before interactive, ` +
      `${(total / ROOM_BUDGET_GZIP).toFixed(2)}x with every drawer opened`,
  );
  console.log(`  room/landing = ${(eagerTotal / landingTotal).toFixed(2)}x (landing ${landingTotal} B)`);
  const ok = eagerTotal <= ROOM_BUDGET_GZIP;
  console.log(ok ? "  room JS within budget" : `  ROOM JS OVER BUDGET: ${eagerTotal} > ${ROOM_BUDGET_GZIP}`);
  return { ok };
}

if (import.meta.main) {
  const { ok } = await runRoomBench();
  if (!ok) Deno.exit(1);
}
