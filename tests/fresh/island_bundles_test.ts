import { assert, assertEquals, assertMatch } from "@std/assert";
import { build, needsBuild } from "$fresh/build.ts";
import { preloadClosure, readBuildMeta } from "$fresh/build_meta.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

async function meta() {
  const options = { root: ROOT, outDir: "_fresh" };
  if (await needsBuild(options)) await build(options);
  const found = await readBuildMeta(`${ROOT}/_fresh`);
  assert(found, "built");
  return found;
}

/** The names an ES module exports, from esbuild's trailing `export{a as b,...}`. */
function exportsOf(code: string): string[] {
  const list = code.match(/export\{([^}]*)\};?\s*$/)?.[1] ?? "";
  return list.split(",").map((item) => item.trim().split(/\s+as\s+/).at(-1)!).filter(Boolean).sort();
}

/** The names of an entry that boot and the page use (an entry also exports minified names to its lazy chunks). */
const PUBLIC = new Set(["boot", "default", "signal"]);

Deno.test("islands a route renders together are one bundle; every entry exports boot, signal only where used", async () => {
  const built = await meta();
  assertEquals(built.groups, [["ChatRoom"], ["NewChat", "RecentChats"]], "by the routes that import them");
  const exported: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(built.islands)) {
    exported[name] = exportsOf(await Deno.readTextFile(`${ROOT}/_fresh/js/${file}`)).filter((n) => PUBLIC.has(n));
  }
  assertEquals(exported.NewChat, ["boot", "default"]);
  assertEquals(exported.RecentChats, ["boot", "default"]);
  assertEquals(exported.ChatRoom, ["boot", "default", "signal"]);
  assert(!built.files.some((file) => file.startsWith("boot-")), "no boot module of its own");
});

Deno.test("the room's first load is its entry and its client core: code shared with its lazy parts or the landing is not split out", async () => {
  const built = await meta();
  const room = preloadClosure(built, [built.islands.ChatRoom]);
  const landing = preloadClosure(built, [built.islands.NewChat, built.islands.RecentChats]);
  assertMatch(room[0], /^ChatRoom-[0-9a-f]{12}\.js$/);
  assertEquals(room.length, 2, `the room loads its entry and the core's eager chunk: ${room.join(", ")}`);
  assertMatch(room[1], /^core\.eager-[0-9a-f]{12}\.js$/);
  assertEquals(
    built.imports?.[built.islands.ChatRoom],
    [],
    "the entry does not wait for the core: it imports it lazily",
  );
  assertEquals(built.eager?.[built.islands.ChatRoom], [room[1]], "but the page fetches it with the entry");
  assert(landing.length <= 3, `the landing loads ${landing.join(", ")}`);
  assertEquals(room.filter((file) => landing.includes(file)), [], "nothing split out for the other page");
});

Deno.test("the room's lazy parts import what they share with the room from the files it loaded already", async () => {
  const built = await meta();
  const lazy = built.files.filter((file) =>
    /^(drawers|p2p|store_recovery|store_idb|store_resilient)-[0-9a-f]{12}\.js$/.test(file)
  );
  assertEquals(
    lazy.length,
    5,
    "the drawers, the P2P code, the storage recovery, and the resilient store and IndexedDB code (a first visit's) " +
      "are lazy chunks: " +
      built.files.join(", "),
  );
  const room = preloadClosure(built, [built.islands.ChatRoom]);
  for (const file of lazy) {
    const imports = built.imports?.[file] ?? [];
    assert(imports.length > 0 && imports.every((dep) => room.includes(dep)), `${file} imports ${imports.join(", ")}`);
  }
  for (const file of built.files) {
    const code = await Deno.readTextFile(`${ROOT}/_fresh/js/${file}`);
    for (const found of code.matchAll(/from"\.\/([^"]+)"|import\("\.\/([^"]+)"\)/g)) {
      const target = found[1] ?? found[2];
      assert(built.files.includes(target), `${file} names ${target}, a file the build wrote`);
    }
  }
});

Deno.test("the room's bundle names its parts by short classes: the utility lists stay on the server", async () => {
  const built = await meta();
  const code = await Deno.readTextFile(`${ROOT}/_fresh/js/${built.islands.ChatRoom}`);
  for (const utility of ["focus-visible:ring-emerald-500", "dark:border-slate-700", "whitespace-pre-wrap"]) {
    assert(!code.includes(utility), `${utility} is not in the room's bundle`);
  }
});
