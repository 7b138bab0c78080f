import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { type ComponentType, h } from "preact";
import { signal } from "@preact/signals";
import { Head } from "$fresh/runtime.ts";
import { registerIslands, renderPage } from "$fresh/render.ts";
import type { AppProps, PageProps } from "$fresh/server.ts";

const props: PageProps = { url: new URL("http://x/"), params: {}, data: undefined, state: {}, route: "/" };
const assets = { islands: { Counter: "/_fresh/js/Counter-1.js", Other: "/_fresh/js/Other-1.js" } };

function Counter(props: { start: number; shared?: unknown }) {
  return h("button", null, String(props.start));
}
function Other() {
  return h("i", null, "other");
}
registerIslands([["Counter", Counter as ComponentType], ["Other", Other as ComponentType]]);

Deno.test("a page without islands renders a document with no script", () => {
  const html = renderPage(() => h("p", null, "plain"), props, { plugins: [], assets });
  assertEquals(html, '<!DOCTYPE html><html><head><meta charset="utf-8"/></head><body><p>plain</p></body></html>');
});

Deno.test("islands get markers, their props, and one boot script calling the island bundle's boot", () => {
  const shared = signal(1);
  const page = () => h("main", null, h(Counter, { start: 5, shared }), h(Counter, { start: 6, shared }));
  const html = renderPage(page, props, { plugins: [], assets });
  assertStringIncludes(
    html,
    '<island-root data-island="Counter" data-index="0" style="display:contents"><button>5</button></island-root>',
  );
  assertStringIncludes(html, 'data-index="1"');
  assertStringIncludes(
    html,
    '{"islands":[{"name":"Counter","props":{"start":5,"shared":{"$signal":0}}},' +
      '{"name":"Counter","props":{"start":6,"shared":{"$signal":0}}}],"signals":[1]}',
  );
  assertEquals(html.match(/<script type="module">/g)?.length, 1);
  assertStringIncludes(
    html,
    '<script type="module">import{boot as b0}from"/_fresh/js/Counter-1.js";' +
      'b0({"Counter":()=>import("/_fresh/js/Counter-1.js")});</script></body>',
  );
});

Deno.test("each island kind is hydrated by the boot of its own bundle", () => {
  const page = () => h("main", null, h(Counter, { start: 1 }), h(Other, null), h(Counter, { start: 2 }));
  const html = renderPage(page, props, { plugins: [], assets });
  const script = html.match(/<script type="module">(.*?)<\/script>/)?.[1];
  assertEquals(
    script,
    'import{boot as b0}from"/_fresh/js/Counter-1.js";import{boot as b1}from"/_fresh/js/Other-1.js";' +
      'b0({"Counter":()=>import("/_fresh/js/Counter-1.js")});b1({"Other":()=>import("/_fresh/js/Other-1.js")});',
  );
});

Deno.test("Head children land in <head>", () => {
  const page = () => h("div", null, h(Head, { children: h("title", null, "T") }), "body");
  const html = renderPage(page, props, { plugins: [], assets });
  assertStringIncludes(html, '<head><meta charset="utf-8"/><title>T</title></head><body><div>body</div>');
});

Deno.test("plugins may rewrite markup and add styles", () => {
  const plugin = {
    name: "test",
    render: (page: { html: string; islands: string[] }) => ({
      html: page.html.replace("x", "y"),
      styles: [{ cssText: "p{color:red}</style><script>", id: "s" }],
    }),
  };
  const html = renderPage(() => h("p", null, "x"), props, { plugins: [plugin], assets });
  assertStringIncludes(html, '<style id="s">p{color:red}<\\/style><script></style></head>');
  assertStringIncludes(html, "<p>y</p>");
});

Deno.test("a page with islands but no build fails loudly", () => {
  assertThrows(
    () => renderPage(() => h(Counter, { start: 1 }), props, { plugins: [], assets: null }),
    Error,
    "deno task build",
  );
});

Deno.test("twind compiles the classes of a data-twind-only element, then drops the element", async () => {
  const { twindPlugin } = await import("$fresh/plugins/twind.ts");
  const { default: presetTailwind } = await import("@twind/preset-tailwind");
  const plugin = twindPlugin({ presets: [presetTailwind()] });
  const page = () =>
    h(
      "main",
      null,
      h("div", { hidden: true, "data-twind-only": "", class: "text-center underline" }),
      h("p", null, "x"),
    );
  const html = renderPage(page, props, { plugins: [plugin], assets });
  assertStringIncludes(html, ".text-center{");
  assertStringIncludes(html, ".underline{");
  assertStringIncludes(html, "<body><main><p>x</p></main></body>");
});

Deno.test("an alias class gets the CSS of its utilities, in twind's order, variants and media queries included", async () => {
  const { twindPlugin } = await import("$fresh/plugins/twind.ts");
  const { default: presetTailwind } = await import("@twind/preset-tailwind");
  const plugin = twindPlugin({ presets: [presetTailwind()], darkMode: "media" }, {
    aliases: { _a: "flex px-2.5 hover:underline dark:text-center", _b: "flex-1 flex" },
  });
  const page = () => h("main", { class: "flex" }, h("p", { class: "_a" }, "a"), h("p", { class: "_b" }, "b"));
  const html = renderPage(page, props, { plugins: [plugin], assets });
  const css = html.match(/<style id="__twind">([^<]*)<\/style>/)?.[1] ?? "";
  assertStringIncludes(css, ".flex,._a,._b{display:flex}", "the markup's own .flex stays, the aliases join it");
  assertStringIncludes(css, "._a{padding-left:0.625rem;padding-right:0.625rem}");
  assertStringIncludes(css, "._a:hover{text-decoration-line:underline}");
  assertStringIncludes(css, "@media (prefers-color-scheme:dark){._a{text-align:center}}");
  assertStringIncludes(css, "._b{flex:1 1 0%}", ".flex-1 is not taken for .flex");
  assertEquals(css.includes(".px-2\\.5"), false, "a utility only aliases use is named by them alone");
  assertEquals(css.includes("._a,._b{flex"), false);
});

Deno.test("aliasRule repeats a selector per alias, inside lists and at-rules, and leaves other rules alone", async () => {
  const { aliasRule } = await import("$fresh/plugins/twind.ts");
  const served = new Map([["gap-1.5", ["_x", "_y"]], ["sm:text-lg", ["_z"]]]);
  assertEquals(aliasRule(".gap-1\\.5{gap:0.375rem}", served, new Set()), "._x,._y{gap:0.375rem}");
  assertEquals(
    aliasRule("@media (min-width:640px){.sm\\:text-lg{font-size:1.125rem}}", served, new Set(["sm:text-lg"])),
    "@media (min-width:640px){.sm\\:text-lg,._z{font-size:1.125rem}}",
  );
  assertEquals(
    aliasRule("*,::before,::after{box-sizing:border-box}", served, new Set()),
    "*,::before,::after{box-sizing:border-box}",
  );
  assertEquals(aliasRule(".gap-1{gap:0.25rem}", served, new Set()), ".gap-1{gap:0.25rem}");
});

Deno.test("a page's <Head> title replaces the document's, which stays for pages without one", () => {
  const app = ({ Component }: AppProps) =>
    h("html", null, h("head", null, h("title", null, "App")), h("body", null, h(Component, null)));
  const titled = () => h("main", null, h(Head, null, h("title", null, "Room · App")), h("p", null, "x"));
  const html = renderPage(titled, props, { plugins: [], assets, app });
  assertEquals(html.match(/<title>[^<]*<\/title>/g), ["<title>Room · App</title>"]);
  const plain = renderPage(() => h("p", null, "x"), props, { plugins: [], assets, app });
  assertEquals(plain.match(/<title>[^<]*<\/title>/g), ["<title>App</title>"]);
});

Deno.test("islands bundled together are hydrated by one boot call", () => {
  const grouped = { ...assets, groups: [["Counter", "Other"]] };
  const page = () => h("main", null, h(Counter, { start: 1 }), h(Other, null));
  const html = renderPage(page, props, { plugins: [], assets: grouped });
  const script = html.match(/<script type="module">(.*?)<\/script>/)?.[1];
  assertEquals(
    script,
    'import{boot as b0}from"/_fresh/js/Counter-1.js";' +
      'b0({"Counter":()=>import("/_fresh/js/Counter-1.js"),"Other":()=>import("/_fresh/js/Other-1.js")});',
  );
});
