/**
 * What tests and benchmarks read from a running server: its `/metrics`
 * (Prometheus text) as numbers, and the settings of a server a test floods on
 * purpose.
 * @module
 */

/** Reads `/metrics` at `httpUrl` (e.g. `http://127.0.0.1:8000`): each series, name and labels, to its value. */
export async function readMetrics(httpUrl: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const values = new Map<string, number>();
  for (const row of text.split("\n")) {
    if (row.startsWith("#") || !row.includes(" ")) continue;
    values.set(row.slice(0, row.lastIndexOf(" ")), Number(row.slice(row.lastIndexOf(" ") + 1)));
  }
  return values;
}

/**
 * The environment of a server that a test floods on purpose: the per-connection and per-address rate limits lifted
 * (they are not what such a test is about) and a room log large enough to keep the whole flood (96 MiB, 5,000 entries).
 */
export const FLOOD_ENV: Readonly<Record<string, string>> = {
  RATE_CONN: "1000",
  RATE_CONN_BURST: "1000",
  RATE_CONN_BYTES: "1000000000",
  RATE_ADDR_BYTES: "1000000000",
  RATE_ADDR_BYTES_BURST: "1000000000",
  ROOM_LOG_MAX_BYTES: String(96 * 1024 * 1024),
  ROOM_LOG_MAX_ENTRIES: "5000",
};
