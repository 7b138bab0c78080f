/**
 * A tiny signaling relay for the netlab smoke tests, run inside the lab's
 * server namespace: `GET /` serves a blank page (so test pages have an http
 * origin on the lab network), and `/ws?room=R` forwards every text frame to
 * the room's other sockets. A joiner learns how many peers were there; the
 * others hear `{"type":"join"}`.
 *
 * Usage: deno run --allow-net tests/netlab/smoke_relay.ts <hostname> <port>
 * @module
 */

/** The page the relay serves; the test drives it with `page.evaluate`. */
export const SMOKE_PAGE = "<!doctype html><html><head><title>netlab smoke</title></head><body>netlab</body></html>";

/** Builds the relay's request handler; rooms live as long as their sockets. */
export function smokeRelay(): (request: Request) => Response {
  const rooms = new Map<string, Set<WebSocket>>();
  return (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/") return new Response(SMOKE_PAGE, { headers: { "content-type": "text/html" } });
    if (url.pathname !== "/ws") return new Response("not found", { status: 404 });
    const room = url.searchParams.get("room") ?? "";
    const { socket, response } = Deno.upgradeWebSocket(request);
    const members = rooms.get(room) ?? new Set();
    rooms.set(room, members);
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "peers", count: members.size }));
      for (const other of members) other.send(JSON.stringify({ type: "join" }));
      members.add(socket);
    };
    socket.onmessage = (event) => {
      for (const other of members) if (other !== socket) other.send(event.data);
    };
    socket.onclose = () => {
      members.delete(socket);
      if (members.size === 0) rooms.delete(room);
    };
    return response;
  };
}

if (import.meta.main) {
  const [hostname, port] = Deno.args;
  if (!hostname || !port) throw new Error("usage: smoke_relay.ts <hostname> <port>");
  Deno.serve({ hostname, port: Number(port) }, smokeRelay());
}
