/**
 * The floor of our runtime for the server benchmark: a bare
 * `Deno.upgradeWebSocket` server with nothing of Parley in it.
 *
 * - `--mode=relay`: clients connect to `/relay?id=<id>`; each text frame is
 *   PeerServer-shaped JSON `{type, dst, payload}`; the server parses it, stamps
 *   `src`, re-serialises it and sends it to `dst`. This is the least work any
 *   JSON relay on Deno can do, so it bounds what Parley can reach.
 * - `--mode=forward`: the same routing without JSON: `dst` is found with
 *   `indexOf` and `src` spliced before the closing brace (as Parley stamps
 *   `from`). The ceiling of any relay on `Deno.upgradeWebSocket`.
 * - `--mode=echo`: every frame is sent back; used for memory per idle socket.
 *
 * Run: `deno run -A tests/bench/server_bare.ts --mode=relay --port=8101`.
 * Prints `listening <port>` once ready.
 * @module
 */

const args = new Map(Deno.args.map((a) => a.replace(/^--/, "").split("=") as [string, string]));
const MODE = args.get("mode") ?? "relay";
const PORT = Number(args.get("port") ?? "8101");
const OPEN_FRAME = '{"type":"OPEN"}';

const peers = new Map<string, WebSocket>();

function relay(req: Request): Response {
  const id = new URL(req.url).searchParams.get("id");
  if (!id) return new Response("missing id", { status: 400 });
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onopen = () => {
    peers.set(id, socket);
    socket.send(OPEN_FRAME);
  };
  socket.onmessage = (e) => {
    const frame = JSON.parse(e.data as string);
    frame.src = id;
    const dst = peers.get(frame.dst);
    if (dst && dst.readyState === WebSocket.OPEN) dst.send(JSON.stringify(frame));
  };
  socket.onclose = () => {
    if (peers.get(id) === socket) peers.delete(id);
  };
  return response;
}

const DST = '"dst":"';

function forward(req: Request): Response {
  const id = new URL(req.url).searchParams.get("id");
  if (!id) return new Response("missing id", { status: 400 });
  const { socket, response } = Deno.upgradeWebSocket(req);
  const suffix = ',"src":"' + id + '"}';
  socket.onopen = () => {
    peers.set(id, socket);
    socket.send(OPEN_FRAME);
  };
  socket.onmessage = (e) => {
    const text = e.data as string;
    const at = text.indexOf(DST) + DST.length;
    const dst = peers.get(text.slice(at, text.indexOf('"', at)));
    if (dst && dst.readyState === WebSocket.OPEN) dst.send(text.slice(0, text.lastIndexOf("}")) + suffix);
  };
  socket.onclose = () => {
    if (peers.get(id) === socket) peers.delete(id);
  };
  return response;
}

function echo(req: Request): Response {
  const { socket, response } = Deno.upgradeWebSocket(req);
  socket.onopen = () => socket.send(OPEN_FRAME);
  socket.onmessage = (e) => socket.send(e.data);
  return response;
}

Deno.serve({
  hostname: "127.0.0.1",
  port: PORT,
  onListen: ({ port }) => console.log(`listening ${port}`),
}, MODE === "echo" ? echo : MODE === "forward" ? forward : relay);
