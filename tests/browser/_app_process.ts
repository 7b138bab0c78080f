/**
 * The real app (`main.ts`, through tests/browser/_logged_app.ts) in a process
 * of its own on 127.0.0.1 and a free port, with a fresh KV file: what the
 * cross-browser tests open. The islands are built first if they are stale.
 * @module
 */
import { ProcessGroup } from "../support/process_group.ts";

const ROOT = new URL("../..", import.meta.url).pathname;

/** A running app server. */
export interface AppProcess extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string;
  /** Stops the server and removes its KV file. */
  close(): Promise<void>;
}

let built: Promise<void> | undefined;

/** Builds the islands once per test process, if the sources changed since the last build. */
export function buildIslandsIfNeeded(): Promise<void> {
  built ??= (async () => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "lib/fresh/dev.ts", "build", "--if-needed", "--keep-manifest"],
      cwd: ROOT,
      stdin: "null",
    }).output();
    if (!out.success) {
      const text = new TextDecoder().decode(out.stderr) + new TextDecoder().decode(out.stdout);
      throw new Error(`building the islands failed (${out.code}):\n${text}`);
    }
  })();
  return built;
}

/** Starts the app and waits until it answers. */
export async function startAppProcess(): Promise<AppProcess> {
  await buildIslandsIfNeeded();
  const dir = await Deno.makeTempDir({ prefix: "parley-app-" });
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  const server = ProcessGroup.spawn(
    [Deno.execPath(), "run", "-A", `${ROOT}tests/browser/_logged_app.ts`],
    { env: { PORT: String(port), HOSTNAME: "127.0.0.1", KV_PATH: `${dir}/kv.sqlite3` } },
  );
  const origin = `http://127.0.0.1:${port}`;
  const close = async () => {
    await server.stop();
    await Deno.remove(dir, { recursive: true });
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const up = await fetch(`${origin}/robots.txt`).then(async (response) => {
      await response.body?.cancel();
      return response.ok;
    }, () => false);
    if (up) break;
    if (server.exited || Date.now() > deadline) {
      await close();
      throw new Error(`the app did not start on ${origin}:\n${server.output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { origin, close, [Symbol.asyncDispose]: close };
}
