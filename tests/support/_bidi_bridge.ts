/**
 * Carries one WebDriver BiDi WebSocket over stdin/stdout: run inside a network
 * namespace, where Firefox's BiDi port lives on that namespace's loopback, so a
 * driver outside can reach it (see tests/support/firefox.ts). Each line, both
 * ways, is one message as a JSON string literal. Exits when either side ends.
 *
 * Usage: `deno run --allow-net=127.0.0.1 tests/support/_bidi_bridge.ts ws://127.0.0.1:PORT/session`
 * @module
 */

const url = Deno.args[0];
if (!url?.startsWith("ws://127.0.0.1:")) {
  console.error("usage: _bidi_bridge.ts ws://127.0.0.1:PORT/session");
  Deno.exit(2);
}

const out = Deno.stdout.writable.getWriter();
const encoder = new TextEncoder();
const socket = new WebSocket(url);
const opened = new Promise<void>((resolve, reject) => {
  socket.onopen = () => resolve();
  socket.onerror = () => reject(new Error(`cannot reach ${url}`));
});
socket.onmessage = (event) => {
  out.write(encoder.encode(JSON.stringify(String(event.data)) + "\n")).catch(() => Deno.exit(0));
};
socket.onclose = () => Deno.exit(0);

try {
  await opened;
} catch (error) {
  console.error((error as Error).message);
  Deno.exit(1);
}
let partial = "";
for await (const text of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
  const lines = (partial + text).split("\n");
  partial = lines.pop() ?? "";
  for (const line of lines) if (line) socket.send(JSON.parse(line) as string);
}
socket.close();
