/**
 * Which islands share a bundle: those that some route renders together. A
 * page then loads one copy of Preact and one boot for all its islands, and
 * the islands of other pages never split its code into extra chunks. Islands
 * no route imports (a component may) are bundles of their own.
 * @module
 */
import { listSourceFiles } from "./files.ts";

/** An import of a file under `islands/` from a route: the island's path below `islands/`. */
const ISLAND_IMPORT = /\bfrom\s*["'](?:\.{1,2}\/)+(?:[^"']*\/)?islands\/([^"']+\.[jt]sx?)["']/g;

/**
 * Groups island files (absolute paths under `<root>/islands/`) by the routes that import them: two islands
 * imported by one route are in one group, and so, transitively, are the islands of any route importing either.
 * Groups come sorted, as do the files in them.
 */
export async function islandGroups(root: string, islandFiles: readonly string[]): Promise<string[][]> {
  const parent = new Map(islandFiles.map((file) => [file, file]));
  const find = (file: string): string => {
    let top = file;
    while (parent.get(top) !== top) top = parent.get(top)!;
    parent.set(file, top);
    return top;
  };
  for (const route of await listSourceFiles(`${root}/routes`, /\.[jt]sx?$/)) {
    const source = await Deno.readTextFile(route);
    const used = [...source.matchAll(ISLAND_IMPORT)]
      .map((match) => `${root}/islands/${match[1]}`)
      .filter((file) => parent.has(file));
    for (const file of used.slice(1)) parent.set(find(file), find(used[0]));
  }
  const groups = new Map<string, string[]>();
  for (const file of islandFiles) {
    const top = find(file);
    groups.set(top, [...groups.get(top) ?? [], file]);
  }
  return [...groups.values()].map((files) => files.sort()).sort((a, b) => a[0].localeCompare(b[0]));
}
