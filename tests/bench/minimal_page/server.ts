/**
 * The network bench's minimal contender, and the wire bench's bare JSON relay:
 * a plain relay chat as anyone would write it in an afternoon. One page of a
 * few KB (HTML with its CSS and JS inline, gzip-compressed once at start-up),
 * served at any room path, and one WebSocket per page at `/ws?room=<room>`:
 *
 * - server to client: `{"t":"peers","ids":[...]}` on open, then `{"t":"join","id"}`,
 *   `{"t":"leave","id"}` and `{"t":"msg","from","text"}`;
 * - client to server: `{"t":"msg","text"}`, parsed, stamped with `from`,
 *   serialised again and sent to every other socket of the room.
 *
 * No acknowledgements, no log, no encryption, no reconnection state: the floor
 * of what a relay chat costs on the wire and in round trips.
 *
 * Run: `HOSTNAME=127.0.0.1 PORT=8200 deno run --allow-net --allow-env --allow-read tests/bench/minimal_page/server.ts`.
 * Prints `listening <port>` once ready.
 * @module
 */

/** The page, read once; its gzip form is made once at start-up, as a static site would. */
const PAGE = await Deno.readFile(new URL("./page.html", import.meta.url));
const PAGE_GZIP = new Uint8Array(
  await new Response(new Blob([PAGE]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer(),
);
const ID_BYTES = 6;
const MAX_TEXT = 4_000;

const rooms = new Map<string, Map<string, WebSocket>>();

function newId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(ID_BYTES));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

function broadcast(room: Map<string, WebSocket>, except: string, text: string): void {
  for (const [id, socket] of room) {
    if (id !== except && socket.readyState === WebSocket.OPEN) socket.send(text);
  }
}

function relay(req: Request): Response {
  const name = new URL(req.url).searchParams.get("room") ?? "";
  const { socket, response } = Deno.upgradeWebSocket(req);
  const id = newId();
  let room = rooms.get(name);
  if (!room) rooms.set(name, room = new Map());
  const members = room;
  socket.onopen = () => {
    socket.send(JSON.stringify({ t: "peers", ids: [...members.keys()] }));
    broadcast(members, id, JSON.stringify({ t: "join", id }));
    members.set(id, socket);
  };
  socket.onmessage = (event) => {
    let frame: { t?: unknown; text?: unknown };
    try {
      frame = JSON.parse(String(event.data));
    } catch {
      return;
    }
    if (frame.t !== "msg" || typeof frame.text !== "string" || frame.text.length > MAX_TEXT) return;
    broadcast(members, id, JSON.stringify({ t: "msg", from: id, text: frame.text }));
  };
  socket.onclose = () => {
    if (members.get(id) !== socket) return;
    members.delete(id);
    broadcast(members, id, JSON.stringify({ t: "leave", id }));
    if (members.size === 0) rooms.delete(name);
  };
  return response;
}

function page(req: Request): Response {
  const gzip = /\bgzip\b/.test(req.headers.get("accept-encoding") ?? "");
  const headers = new Headers({ "content-type": "text/html; charset=utf-8", "vary": "accept-encoding" });
  if (gzip) headers.set("content-encoding", "gzip");
  return new Response(gzip ? PAGE_GZIP : PAGE, { headers });
}

Deno.serve({
  hostname: Deno.env.get("HOSTNAME") ?? "127.0.0.1",
  port: Number(Deno.env.get("PORT") ?? "8200"),
  onListen: ({ port }) => console.log(`listening ${port}`),
}, (req) => {
  const { pathname } = new URL(req.url);
  if (pathname === "/ws") return relay(req);
  if (/^\/[A-Za-z0-9_-]{1,64}$/.test(pathname) && req.method === "GET") return page(req);
  return new Response("not found", { status: 404 });
});
