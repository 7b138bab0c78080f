import { assert, assertEquals, assertMatch } from "@std/assert";
import { build, needsBuild } from "$fresh/build.ts";
import { readBuildMeta, staticClosure } from "$fresh/build_meta.ts";

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

Deno.test("islands a route renders together are one bundle; every entry exports boot, signal only where used", async () => {
  const built = await meta();
  assertEquals(built.groups, [["ChatRoom"], ["NewChat", "RecentChats"]], "by the routes that import them");
  const exported: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(built.islands)) {
    exported[name] = exportsOf(await Deno.readTextFile(`${ROOT}/_fresh/js/${file}`));
  }
  assertEquals(exported.NewChat, ["boot", "default"]);
  assertEquals(exported.RecentChats, ["boot", "default"]);
  assertEquals(exported.ChatRoom, ["boot", "default", "signal"]);
  assert(!built.files.some((file) => file.startsWith("boot-")), "no boot module of its own");
});

Deno.test("the room's first load is a few files: code shared with the landing's islands is not split into chunks", async () => {
  const built = await meta();
  const room = staticClosure(built, [built.islands.ChatRoom]);
  const landing = staticClosure(built, [built.islands.NewChat, built.islands.RecentChats]);
  assertMatch(room[0], /^ChatRoom-[0-9a-f]{12}\.js$/);
  assert(room.length <= 3, `the room loads ${room.join(", ")}`);
  assert(landing.length <= 3, `the landing loads ${landing.join(", ")}`);
  assertEquals(room.filter((file) => landing.includes(file)), [], "nothing split out for the other page");
});
