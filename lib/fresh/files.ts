/**
 * File-system helpers shared by the manifest generator and the builder.
 * @module
 */

/** Lists files under `dir` (or `dir` itself if it is a file) whose paths match, sorted. */
export async function listSourceFiles(dir: string, match: RegExp): Promise<string[]> {
  const files: string[] = [];
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(dir);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return files;
    throw error;
  }
  if (info.isFile) return match.test(dir) ? [dir] : files;
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await listSourceFiles(path, match));
    else if (entry.isFile && match.test(path) && !/_test\.[jt]sx?$/.test(path)) files.push(path);
  }
  return files.sort();
}

/** The island name of a file under `islands/`: `chat/Room.tsx` becomes `chat_Room`. */
export function islandNameFromFile(relativePath: string): string {
  return relativePath.replace(/\.[jt]sx?$/, "").replaceAll(/[^A-Za-z0-9_$]/g, "_");
}
