/**
 * Serves an entry module's default export on `HOSTNAME:PORT`, the way
 * `deno serve` would, but honouring those environment variables:
 * `deno run ... lib/fresh/listen.ts main.ts`.
 * @module
 */

const entry = Deno.args[0];
if (!entry) {
  console.error("Usage: deno run --allow-net --allow-read --allow-env lib/fresh/listen.ts <entry.ts>");
  Deno.exit(2);
}

const rawPort = Deno.env.get("PORT") ?? "8000";
const port = Number(rawPort);
if (!/^\d+$/.test(rawPort) || port > 65535) {
  console.error(`PORT must be a port number from 0 to 65535, got "${rawPort}"`);
  Deno.exit(2);
}
const hostname = Deno.env.get("HOSTNAME") ?? "0.0.0.0";

const module = await import(new URL(entry, `file://${Deno.cwd()}/`).href);
const app = module.default as Deno.ServeDefaultExport | undefined;
if (typeof app?.fetch !== "function") {
  console.error(`${entry} has no default export with a fetch function`);
  Deno.exit(2);
}
Deno.serve({ port, hostname }, app.fetch);
