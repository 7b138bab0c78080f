import { assert, assertEquals } from "@std/assert";
import { qrPath } from "../../lib/ui/qr.ts";

const LINK = "https://parley.example/AAAAAAAAAAAAAAAAAAAAAA#" + "k".repeat(43);

function darkModules(d: string, size: number): boolean[][] {
  const grid = Array.from({ length: size }, () => Array<boolean>(size).fill(false));
  for (const run of d.matchAll(/M(\d+) (\d+)h(\d+)v1h-\d+z/g)) {
    const [x, y, n] = [Number(run[1]), Number(run[2]), Number(run[3])];
    for (let i = 0; i < n; i++) grid[y][x + i] = true;
  }
  return grid;
}

Deno.test("the invite QR code is a square with finder patterns inside a quiet zone", () => {
  const { size, d } = qrPath(LINK);
  assert(size >= 21 + 4 && (size - 4 - 17) % 4 === 0, `a valid QR version plus the quiet zone, got ${size}`);
  const grid = darkModules(d, size);
  assertEquals(grid[0].some(Boolean), false, "quiet zone on top");
  assertEquals(grid.map((row) => row[0]).some(Boolean), false, "quiet zone on the left");
  // The top-left finder: a 7-module dark ring starting right after the quiet zone.
  assertEquals(grid[2].slice(2, 9), Array(7).fill(true));
  assertEquals(grid[3].slice(2, 9), [true, false, false, false, false, false, true]);
  assertEquals(grid[4].slice(2, 9), [true, false, true, true, true, false, true]);
});

Deno.test("the same link always draws the same code, and another link another one", () => {
  assertEquals(qrPath(LINK), qrPath(LINK));
  assert(qrPath(LINK).d !== qrPath(LINK.replace("#k", "#j")).d);
});
