/**
 * The code shipped to browsers runs on every target of BROWSER_TARGETS
 * (Chrome 100, Firefox 115, Safari and iOS Safari 15.4): the build lowers
 * syntax those lack and refuses what it cannot lower, the built bundles have
 * nothing left to lower, and no module the islands load calls an API one of
 * them lacks without a guard. The browsers themselves run the app in
 * tests/browser/firefox_*_test.ts and webkit_*_test.ts.
 * @module
 */
import { assert, assertEquals, assertMatch, assertRejects } from "@std/assert";
import * as esbuild from "esbuild";
import { BROWSER_TARGETS, build, needsBuild } from "../../lib/fresh/build.ts";
import { finishModule, stopMinifier } from "../../lib/fresh/minify.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("lowering: newer syntax is rewritten for the targets, and the module is minified", async () => {
  try {
    const code = await finishModule(
      "lazy.js",
      'export class A{static{this.x=1}}\nexport function f(r){using handle=r;return handle?.y??"";}',
    );
    assert(!/static\s*\{/.test(code), `no class static block for Safari 15.4: ${code}`);
    assert(!/\busing\b/.test(code), `no \`using\` declaration: ${code}`);
    assert(!code.includes("handle"), `local names are mangled: ${code}`);
    assertMatch(
      code,
      /export\{[^}]*\bA\b[^}]*\bf\b[^}]*\}|export\{[^}]*\bf\b[^}]*\bA\b[^}]*\}/,
      "exports keep their names",
    );
  } finally {
    await stopMinifier();
  }
});

Deno.test("lowering: a regular expression the targets cannot parse fails the build", async () => {
  try {
    await assertRejects(() => finishModule("entry.js", "export const r = /(?<=a)b/;"), Error, "regular expression");
  } finally {
    await stopMinifier();
  }
});

Deno.test("the built bundles and the service worker have nothing left to lower for the targets", async () => {
  const options = { root: ROOT, outDir: "_fresh" };
  if (await needsBuild(options)) await build(options);
  const dir = `${ROOT}/_fresh/js`;
  const files: { path: string; format: "esm" | "iife" }[] = [{ path: `${ROOT}/static/sw.js`, format: "iife" }];
  for await (const item of Deno.readDir(dir)) {
    if (item.name.endsWith(".js")) files.push({ path: `${dir}/${item.name}`, format: "esm" });
  }
  assert(files.length > 1, "the build wrote bundles");
  try {
    for (const { path, format } of files) {
      const code = await Deno.readTextFile(path);
      const modern = await esbuild.transform(code, { format, target: "esnext", minify: true });
      const lowered = await esbuild.transform(code, { format, target: [...BROWSER_TARGETS], minify: true });
      assertEquals(lowered.code, modern.code, `${path} still has syntax newer than ${BROWSER_TARGETS}`);
    }
  } finally {
    await esbuild.stop();
  }
});

/** An API some target lacks: where it is used, the same file must test for it first. */
interface MissingApi {
  /** What it is. */
  name: string;
  /** A use of it. */
  use: RegExp;
  /** A test for it that makes the use safe; without one, any use fails. */
  guard?: RegExp;
  /** Which targets lack it. */
  lacking: string;
}

const MISSING_APIS: MissingApi[] = [
  {
    name: "Promise.withResolvers",
    use: /\bPromise\.withResolvers\b/,
    guard: /typeof Promise\.withResolvers/,
    lacking: "Safari < 17.4, Chrome < 119, Firefox < 121",
  },
  {
    name: "AbortSignal.timeout",
    use: /\bAbortSignal\.timeout\b/,
    guard: /typeof AbortSignal\.timeout/,
    lacking: "Safari < 16, Chrome < 103",
  },
  {
    name: "AbortSignal.any",
    use: /\bAbortSignal\.any\b/,
    guard: /typeof AbortSignal\.any/,
    lacking: "Safari < 17.4, Chrome < 116, Firefox < 124",
  },
  {
    name: "requestIdleCallback",
    use: /\brequestIdleCallback\s*\(/,
    guard: /typeof (globalThis\.|window\.)?requestIdleCallback/,
    lacking: "Safari",
  },
  {
    name: "navigator.connection",
    use: /\bnavigator\.connection\b(?!\?)/,
    guard: /navigator\.connection\s*\?\.|"connection" in navigator/,
    lacking: "Safari, Firefox",
  },
  { name: "Object.groupBy / Map.groupBy", use: /\b(Object|Map)\.groupBy\b/, lacking: "Safari < 17.4, Chrome < 117" },
  { name: "Array.fromAsync", use: /\bArray\.fromAsync\b/, lacking: "Safari < 16.4, Chrome < 121" },
  {
    name: "Array.prototype.toSorted / toReversed / toSpliced",
    use: /\.(toSorted|toReversed|toSpliced)\(/,
    lacking: "Safari < 16, Chrome < 110",
  },
  {
    name: "Uint8Array base64 / hex",
    use: /\bUint8Array\.(fromBase64|fromHex)\b|\.(toBase64|toHex)\(\)/,
    lacking: "Safari < 18.2, Chrome < 140, Firefox < 133",
  },
  { name: "Intl.Segmenter", use: /\bIntl\.Segmenter\b/, guard: /"Segmenter" in Intl/, lacking: "Firefox < 125" },
  {
    name: "Set methods (union, intersection, ...)",
    use: /\.(union|intersection|symmetricDifference|isSubsetOf|isSupersetOf|isDisjointFrom)\(/,
    lacking: "Safari < 17, Chrome < 122, Firefox < 127",
  },
  {
    name: "String.prototype.isWellFormed / toWellFormed",
    use: /\.(isWellFormed|toWellFormed)\(/,
    lacking: "Safari < 16.4, Chrome < 111, Firefox < 119",
  },
  {
    name: "CompressionStream",
    use: /\bnew (De)?CompressionStream\b/,
    guard: /typeof (De)?CompressionStream/,
    lacking: "Safari < 16.4",
  },
  { name: "scheduler.postTask / yield", use: /\bscheduler\.(postTask|yield)\b/, lacking: "Safari, Firefox < 142" },
  {
    name: "navigator.userActivation",
    use: /\bnavigator\.userActivation\b(?!\?)/,
    lacking: "Safari < 16.4, Firefox < 120",
  },
  {
    name: "document.startViewTransition",
    use: /\.startViewTransition\(/,
    guard: /startViewTransition\s*\?|typeof [\w.]*startViewTransition/,
    lacking: "Safari < 18, Firefox < 144",
  },
  {
    name: "RTCPeerConnection",
    use: /\bnew RTCPeerConnection\b/,
    guard: /typeof RTCPeerConnection/,
    lacking: "WebKitGTK's MiniBrowser and some in-app web views",
  },
  {
    name: "navigator.share",
    use: /\bnavigator\.share\(/,
    guard: /typeof navigator\.share|"share" in navigator/,
    lacking: "Firefox on desktop",
  },
  {
    name: "Ed25519 / X25519 in WebCrypto",
    use: /["'](Ed25519|X25519)["']/,
    lacking: "Safari < 17, Chrome < 137, Firefox < 129",
  },
  {
    name: "navigator.storage.estimate",
    use: /\bstorage\.estimate\(/,
    guard: /storage\??\.estimate\s*\?|typeof [\w.?]*estimate/,
    lacking: "Safari < 17",
  },
  { name: "indexedDB.databases", use: /\bindexedDB\.databases\(/, lacking: "Firefox < 126" },
  {
    name: "Error.captureStackTrace",
    use: /\bError\.captureStackTrace\(/,
    guard: /typeof Error\.captureStackTrace|Error\.captureStackTrace\s*\?/,
    lacking: "Firefox, Safari < 17",
  },
];

/** The project's own modules that the islands and the boot module load, static or lazy. */
async function shippedModules(): Promise<string[]> {
  const entries = [`${ROOT}/lib/fresh/runtime/boot.ts`];
  for await (const item of Deno.readDir(`${ROOT}/islands`)) entries.push(`${ROOT}/islands/${item.name}`);
  const files = new Set<string>();
  for (const entry of entries) {
    const { stdout, success } = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: ROOT,
      stderr: "inherit",
    }).output();
    assert(success, `deno info ${entry}`);
    const info = JSON.parse(new TextDecoder().decode(stdout)) as { modules: { specifier: string }[] };
    for (const { specifier } of info.modules) {
      if (specifier.startsWith(`file://${ROOT}/`) && !specifier.includes("/node_modules/")) {
        files.add(new URL(specifier).pathname);
      }
    }
  }
  return [...files].sort();
}

function withoutComments(code: string): string {
  return code.replace(/\/\*[\s\S]*?\*\//g, "").replace(/(^|[^:"'`\\])\/\/.*$/gm, "$1");
}

Deno.test("no module the browser loads calls an API a target lacks without testing for it first", async () => {
  const files = [...await shippedModules(), `${ROOT}/static/sw.js`];
  assert(files.some((file) => file.endsWith("/lib/client/mod.ts")), "the scan sees the client core");
  const problems: string[] = [];
  for (const file of files) {
    const code = withoutComments(await Deno.readTextFile(file));
    for (const api of MISSING_APIS) {
      if (api.use.test(code) && !(api.guard?.test(code) ?? false)) {
        problems.push(`${file.slice(ROOT.length + 1)}: ${api.name} without a guard (missing in ${api.lacking})`);
      }
    }
  }
  assertEquals(problems, []);
});
