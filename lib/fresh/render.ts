/**
 * Server rendering of pages: the page inside `_app`, islands wrapped in
 * markers with their props recorded, `<Head>` children and plugin styles in
 * `<head>`, and the boot script only when the page has islands.
 * @module
 */
import { type ComponentType, Fragment, h, options, type VNode } from "preact";
import { renderToString } from "preact-render-to-string";
import { jsonForScript, serializeIslands } from "./island_props.ts";
import { currentRender, withRenderState } from "./render_state.ts";
import type { AppProps, PageProps, Plugin, PluginStyle } from "./types.ts";

/** Where the browser finds the built island bundles. */
export interface IslandAssets {
  /** URL of each island's entry module, by island name; each entry also exports `boot`. */
  islands: Record<string, string>;
  /** The islands bundled together, by group; an island in none is a bundle of its own. */
  groups?: string[][];
  /** Every module URL to preload for each island (its static imports and eager chunks, transitively), by island name. */
  preload?: Record<string, string[]>;
}

/** What `renderPage` needs besides the page. */
export interface RenderOptions {
  /** The `_app.tsx` component, if the app has one. */
  app?: ComponentType<AppProps>;
  /** Plugins that add styles or rewrite markup. */
  plugins: Plugin[];
  /** Built bundles; `null` when islands have not been built. */
  assets: IslandAssets | null;
}

const islandNames = new Map<unknown, string>();
let creatingIslandChild = false;

/** Registers the components whose server renders get island markers. */
export function registerIslands(islands: Iterable<[string, ComponentType]>): void {
  for (const [name, component] of islands) islandNames.set(component, name);
}

function IslandMarker(
  props: { island: ComponentType; name: string; islandProps: Record<string, unknown> },
): VNode {
  const render = currentRender()!;
  const index = render.islands.push({ name: props.name, props: props.islandProps }) - 1;
  creatingIslandChild = true;
  let child: VNode;
  try {
    child = h(props.island, props.islandProps);
  } finally {
    creatingIslandChild = false;
  }
  const attributes = { "data-island": props.name, "data-index": String(index), style: "display:contents" };
  return h("island-root", attributes, child) as VNode;
}

// Swap island vnodes for markers while a server render runs. The hook sees
// every vnode, so it returns fast for everything else.
const previousVnodeHook = options.vnode;
options.vnode = (vnode) => {
  if (!creatingIslandChild && typeof vnode.type === "function" && currentRender()) {
    const name = islandNames.get(vnode.type);
    if (name !== undefined) {
      const island = vnode.type as ComponentType;
      const islandProps = vnode.props as Record<string, unknown>;
      (vnode as { props: unknown }).props = { island, name, islandProps };
      vnode.type = IslandMarker as ComponentType;
    }
  }
  previousVnodeHook?.(vnode);
};

function DefaultDocument({ Component }: AppProps): VNode {
  return h(
    "html",
    null,
    h("head", null, h("meta", { charset: "utf-8" })),
    h("body", null, h(Component, null)),
  );
}

function styleTag(style: PluginStyle): string {
  // A style sheet cannot contain markup, but a closing tag inside it would end the element.
  const css = style.cssText.replaceAll("</style", "<\\/style");
  return `<style${style.id ? ` id="${style.id}"` : ""}>${css}</style>`;
}

/**
 * Islands are bundled in groups (those some route renders together), each bundle with its own copy of Preact and a
 * `boot` that every island entry of it exports: the page's islands of one bundle are hydrated by one call to it.
 */
function bootScript(assets: IslandAssets, names: string[]): string {
  const bundleOf = new Map<string, number>();
  for (const [index, group] of (assets.groups ?? []).entries()) for (const name of group) bundleOf.set(name, index);
  const byBundle = new Map<string, string[]>();
  for (const name of names) {
    const key = bundleOf.has(name) ? `g${bundleOf.get(name)}` : `i${name}`;
    byBundle.set(key, [...byBundle.get(key) ?? [], name]);
  }
  const imports: string[] = [];
  const calls: string[] = [];
  for (const [i, group] of [...byBundle.values()].entries()) {
    imports.push(`import{boot as b${i}}from${JSON.stringify(assets.islands[group[0]])};`);
    const loaders = group.map((name) => `${JSON.stringify(name)}:()=>import(${JSON.stringify(assets.islands[name])})`);
    calls.push(`b${i}({${loaders.join(",")}});`);
  }
  return `<script type="module">${imports.join("")}${calls.join("")}</script>`;
}

function insertBefore(html: string, closingTag: string, insert: string): string {
  const at = html.lastIndexOf(closingTag);
  if (at === -1) throw new Error(`The document has no ${closingTag}; _app.tsx must render <html>, <head> and <body>`);
  return html.slice(0, at) + insert + html.slice(at);
}

/** Renders a page to a full HTML document. */
export function renderPage<Data>(
  page: ComponentType<PageProps<Data>>,
  props: PageProps<Data>,
  renderOptions: RenderOptions,
): string {
  const app = renderOptions.app ?? DefaultDocument;
  const { result: markup, state } = withRenderState(() => {
    const Component = () => h(page, props);
    return renderToString(h(app, { ...props, data: props.data as unknown, Component }));
  });

  const islandNamesUsed = [...new Set(state.islands.map((island) => island.name))];
  let html = markup;
  const styles: PluginStyle[] = [];
  for (const plugin of renderOptions.plugins) {
    const result = plugin.render?.({ html, islands: islandNamesUsed });
    if (result?.html !== undefined) html = result.html;
    if (result?.styles) styles.push(...result.styles);
  }

  const head = renderToString(h(Fragment, null, state.head));
  // A page's own <title> (through <Head>) replaces the document's: browsers show the first title of a document.
  if (/<title[\s>]/.test(head)) html = html.replace(/<title[\s>][\s\S]*?<\/title>/, "");
  let preloads = "";
  if (state.islands.length > 0 && renderOptions.assets?.preload) {
    // One round trip fetches the whole import chain, instead of one per level on a slow link.
    const urls = new Set<string>();
    for (const name of islandNamesUsed) {
      for (const url of renderOptions.assets.preload[name] ?? []) urls.add(url);
    }
    preloads = [...urls].map((url) => `<link rel="modulepreload" href="${url}">`).join("");
  }
  html = insertBefore(html, "</head>", head + preloads + styles.map(styleTag).join(""));

  if (state.islands.length > 0) {
    const assets = renderOptions.assets;
    if (!assets) {
      throw new Error("This page has islands but they are not built: run `deno task build`");
    }
    const data = jsonForScript(serializeIslands(state.islands));
    html = insertBefore(
      html,
      "</body>",
      `<script id="__islands" type="application/json">${data}</script>${bootScript(assets, islandNamesUsed)}`,
    );
  }
  return "<!DOCTYPE html>" + html;
}
