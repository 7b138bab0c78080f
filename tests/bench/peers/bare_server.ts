/** The floor for start-up time: a bare Deno.serve answering 200, started the same way as the app. */
const port = Number(Deno.env.get("PORT") ?? "8000");
Deno.serve({ port, hostname: "127.0.0.1", onListen() {} }, () => new Response("ok"));
