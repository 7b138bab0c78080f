import { assertEquals, assertMatch } from "@std/assert";
import { generateManifest } from "$fresh/manifest.ts";

const root = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("fresh.gen.ts is up to date with routes/ and islands/", async () => {
  const expected = await generateManifest(root);
  const actual = await Deno.readTextFile(`${root}/fresh.gen.ts`);
  assertEquals(actual, expected, "fresh.gen.ts is stale: run `deno task manifest`");
});

Deno.test("the manifest lists every route and island file with a static import", async () => {
  const text = await generateManifest(root);
  for await (const entry of Deno.readDir(`${root}/islands`)) {
    assertEquals(text.includes(`from "./islands/${entry.name}"`), true, entry.name);
  }
  assertEquals(text.includes('from "./routes/index.tsx"'), true);
  assertEquals(text.includes("import("), false, "no dynamic imports: Deploy needs a static graph");
});

Deno.test("`deno task manifest` runs with just the permissions its task gives it (no bundler, no env)", async () => {
  const task = JSON.parse(await Deno.readTextFile(`${root}/deno.json`)).tasks.manifest as string;
  assertEquals(task.includes(" -A ") || task.includes("--allow-all") || task.includes("--allow-env"), false, task);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["task", "manifest"],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assertEquals(code, 0, output);
  assertMatch(output, /fresh\.gen\.ts (is up to date|written)/);
});
