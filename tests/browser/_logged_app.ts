/**
 * The app as `main.ts` exports it, served on `HOSTNAME:PORT` with every
 * request line printed (`REQUEST {"url":...}`), so browser tests running
 * the server in another namespace can prove what the server received.
 * @module
 */
import app from "../../main.ts";

const port = Number(Deno.env.get("PORT") ?? "8000");
const hostname = Deno.env.get("HOSTNAME") ?? "127.0.0.1";

Deno.serve({ port, hostname, onListen() {} }, (req, info) => {
  const referer = req.headers.get("referer");
  console.log(`REQUEST ${JSON.stringify({ method: req.method, url: req.url, referer })}`);
  return app.fetch(req, info);
});
