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

Deno.test("each island is one bundle whose entry also exports boot; only islands using signals export signal", async () => {
  const built = await meta();
  const exported: Record<string, string[]> = {};
  for (const [name, file] of Object.entries(built.islands)) {
    exported[name] = exportsOf(await Deno.readTextFile(`${ROOT}/_fresh/js/${file}`));
  }
  assertEquals(exported.NewChat, ["boot", "default"]);
  assertEquals(exported.ChatRoom, ["boot", "default", "signal"]);
  assert(!built.files.some((file) => file.startsWith("boot-")), "no boot module of its own");
});

Deno.test("the room's first load is a few files: code shared with the landing is not split into chunks", async () => {
  const built = await meta();
  const room = staticClosure(built, [built.islands.ChatRoom]);
  const landing = staticClosure(built, [built.islands.NewChat]);
  assertMatch(room[0], /^ChatRoom-[0-9a-f]{12}\.js$/);
  assert(room.length <= 3, `the room loads ${room.join(", ")}`);
  assertEquals(landing, [built.islands.NewChat], "the landing loads one file");
  assertEquals(room.filter((file) => landing.includes(file)), [], "nothing split out for the other island");
});
