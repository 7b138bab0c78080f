import { assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { type ComponentType, h } from "preact";
import { signal } from "@preact/signals";
import { Head } from "$fresh/runtime.ts";
import { registerIslands, renderPage } from "$fresh/render.ts";
import type { PageProps } from "$fresh/server.ts";

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
