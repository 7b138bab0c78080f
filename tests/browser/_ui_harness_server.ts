/**
 * Serves the UI harness: the components bundled for the browser with
 * `deno bundle`, styled by the app's own twind configuration.
 * @module
 */
import { h } from "preact";
import { renderToString } from "preact-render-to-string";
import config from "../../fresh.config.ts";
import { RoomScreen } from "../../lib/ui/RoomScreen.tsx";
import { safelist } from "../../lib/ui/styles_css.ts";
import { STRINGS } from "../../lib/ui/i18n.ts";
import type { Browser } from "playwright-core";
import { launchChromium } from "../support/chromium.ts";

const ROOT = new URL("../..", import.meta.url).pathname;
const BODY_CLASS = "min-h-screen bg-slate-50 text-slate-900 dark:bg-slate-900 dark:text-slate-100 antialiased";

/** A running harness server. */
export interface UiHarness {
  /** The origin, e.g. `http://127.0.0.1:41234`. */
  origin: string;
  /** Stops the server and removes the bundle. */
  close(): Promise<void>;
}

async function bundle(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "parley-ui-harness-" });
  try {
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=browser", `--output=${dir}/harness.js`, "tests/browser/_ui_harness.tsx"],
      cwd: ROOT,
      stdout: "inherit",
      stderr: "piped",
    }).output();
    if (!success) throw new Error(`bundling the UI harness failed:\n${new TextDecoder().decode(stderr)}`);
    return await Deno.readTextFile(`${dir}/harness.js`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function styles(): string {
  const shell = renderToString(
    h(RoomScreen, { view: null, lang: "en", t: STRINGS.en, onLang: () => {}, inviteLink: "" }),
  );
  const html = `<body class="${BODY_CLASS}"><div class="${safelist()}"></div>${shell}</body>`;
  const out = config.plugins?.map((plugin) => plugin.render?.({ html, islands: [] })) ?? [];
  return out.flatMap((result) => result?.styles ?? []).map((style) => style.cssText).join("\n");
}

/** Bundles the harness and serves it on loopback. */
export async function serveUiHarness(): Promise<UiHarness> {
  const js = await bundle();
  const page = `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="color-scheme" content="light dark">` +
    // Links in the sample messages (example.com) must not make the browser look their hosts up: traffic stays local.
    `<meta http-equiv="x-dns-prefetch-control" content="off">` +
    `<title>Parley UI harness</title><style>${styles()}</style></head>` +
    `<body class="${BODY_CLASS}"><div id="root"></div><script type="module" src="/harness.js"></script></body></html>`;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const { pathname } = new URL(req.url);
    if (pathname === "/harness.js") return new Response(js, { headers: { "content-type": "text/javascript" } });
    if (pathname === "/") return new Response(page, { headers: { "content-type": "text/html; charset=utf-8" } });
    return new Response("not found", { status: 404 });
  });
  const { port } = server.addr as Deno.NetAddr;
  return { origin: `http://127.0.0.1:${port}`, close: () => server.shutdown() };
}

/** Runs `fn` with a fresh harness and a fresh Chromium, and closes both afterwards, whatever happens. */
export async function withHarness(fn: (harness: UiHarness, browser: Browser) => Promise<void>): Promise<void> {
  const harness = await serveUiHarness();
  const browser = await launchChromium();
  try {
    await fn(harness, browser);
  } finally {
    await browser.close();
    await harness.close();
  }
}
