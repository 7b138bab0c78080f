/**
 * Load-generator process that opens many idle sockets and holds them.
 *
 * Usage: `deno run -A idle_load.ts '<json IdleLoadConfig>'`. Prints one JSON
 * line `{ready, failed, errors}` once every connect has finished; then on each
 * stdin line `check` prints `{open}` (sockets still open); exits when stdin
 * closes. Pings are answered (the raw socket does it), so servers with an
 * idle timeout keep the sockets.
 * @module
 */

import { clientProtocol, type Endpoint, type ProtocolName } from "./protocols.ts";

/** Configuration passed as the first argument. */
export interface IdleLoadConfig {
  /** Which wire protocol to speak. */
  protocol: ProtocolName;
  /** Server address. */
  hostname: string;
  /** Server port. */
  port: number;
  /** Sockets to open. */
  count: number;
  /** First client index, so ids stay unique across processes (keep it even). */
  indexBase: number;
  /** Connects in flight at once: keeps the server's accept backlog from overflowing. */
  concurrency: number;
}

const config = JSON.parse(Deno.args[0]) as IdleLoadConfig;
const proto = clientProtocol(config.protocol, { hostname: config.hostname, port: config.port });
const endpoints: Endpoint[] = [];
const errors: string[] = [];
let failed = 0;
let nextIndex = 0;
const ignore = (_text: string) => {};

async function worker(): Promise<void> {
  while (nextIndex < config.count) {
    const i = nextIndex++;
    try {
      endpoints.push(await proto.connect(config.indexBase + i, ignore));
    } catch (err) {
      failed++;
      if (errors.length < 5) errors.push(String(err instanceof Error ? err.message : err).slice(0, 300));
    }
  }
}

await Promise.all(Array.from({ length: config.concurrency }, worker));
console.log(JSON.stringify({ ready: endpoints.length, failed, errors }));

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let pending = "";
for await (const chunk of lines) {
  pending += chunk;
  let nl: number;
  while ((nl = pending.indexOf("\n")) >= 0) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line === "check") console.log(JSON.stringify({ open: endpoints.filter((e) => !e.socket.closed).length }));
  }
}
for (const e of endpoints) e.socket.abort();
Deno.exit(0);
