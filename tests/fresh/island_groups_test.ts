import { assertEquals } from "@std/assert";
import { islandGroups } from "$fresh/island_groups.ts";

Deno.test("islands a route imports together are grouped, transitively; others stand alone", async () => {
  const root = await Deno.makeTempDir();
  try {
    await Deno.mkdir(`${root}/routes/nested`, { recursive: true });
    await Deno.mkdir(`${root}/islands/chat`, { recursive: true });
    const island = (name: string) => `${root}/islands/${name}`;
    await Deno.writeTextFile(
      `${root}/routes/index.tsx`,
      `import A from "../islands/A.tsx";\nimport B from '../islands/B.tsx';\nexport default () => null;\n`,
    );
    await Deno.writeTextFile(
      `${root}/routes/nested/page.tsx`,
      `import { x } from "../../lib/x.ts";\nimport C from "../../islands/chat/C.tsx";\nimport B from "../../islands/B.tsx";\n`,
    );
    await Deno.writeTextFile(`${root}/routes/other.tsx`, `import D from "../islands/D.tsx";\n`);
    const files = ["A.tsx", "B.tsx", "chat/C.tsx", "D.tsx", "E.tsx"].map(island);
    assertEquals(await islandGroups(root, files), [
      [island("A.tsx"), island("B.tsx"), island("chat/C.tsx")],
      [island("D.tsx")],
      [island("E.tsx")],
    ]);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
