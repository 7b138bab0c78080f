/**
 * What components and islands may import from the core, on the server and in
 * the browser alike (`$fresh/runtime.ts`).
 * @module
 */
import type { ComponentChildren, VNode } from "preact";
import { currentRender } from "./render_state.ts";

/** True in the browser, false while rendering on the server. */
export const IS_BROWSER: boolean = typeof document !== "undefined";

/** Props of `Head`. */
export interface HeadProps {
  /** Elements for the document's `<head>`: `<title>`, `<meta>`, `<link>`. */
  children: ComponentChildren;
}

/** Places its children in the document's `<head>` during the server render. */
export function Head(props: HeadProps): null {
  const render = currentRender();
  if (render) {
    const children = Array.isArray(props.children) ? props.children : [props.children];
    for (const child of children) {
      if (child && typeof child === "object") render.head.push(child as VNode);
    }
  }
  return null;
}
