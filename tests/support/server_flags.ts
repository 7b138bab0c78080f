/**
 * The V8 flags the app server runs with, read from `deno.json`'s `start`
 * task, so tests and benchmarks launch the server the way `deno task start`
 * does (one source for the flag, not a copy per launcher).
 * @module
 */

const DENO_JSON = new URL("../../deno.json", import.meta.url);

/** `deno run` arguments that set V8 flags in the `start` task (`["--v8-flags=..."]`, or none). */
export function serverV8Args(): string[] {
  const config = JSON.parse(Deno.readTextFileSync(DENO_JSON)) as { tasks?: Record<string, string> };
  const start = config.tasks?.start;
  if (!start) throw new Error("deno.json has no start task");
  const serve = start.split("&&").find((step) => step.includes("lib/fresh/listen.ts"));
  if (!serve) throw new Error("deno.json's start task does not run lib/fresh/listen.ts");
  return serve.trim().split(/\s+/).filter((arg) => arg.startsWith("--v8-flags="));
}
