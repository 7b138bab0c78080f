/**
 * The state of the page render in progress. Rendering to a string is
 * synchronous, so one module-level slot is enough and needs no context.
 * Shared by the server renderer and `Head`, so it imports nothing.
 * @module
 */
import type { VNode } from "preact";

/** One island instance found while rendering. */
export interface IslandInstance {
  /** The island's name, from its file name. */
  name: string;
  /** The props it was rendered with, to hydrate it with the same. */
  props: Record<string, unknown>;
}

/** What a render collects besides the markup. */
export interface RenderState {
  /** Islands in document order; the index is the `data-index` of their marker. */
  islands: IslandInstance[];
  /** Children of `<Head>` elements, placed at the end of `<head>`. */
  head: VNode[];
}

let current: RenderState | null = null;

/** The render in progress, or `null` outside a server render. */
export function currentRender(): RenderState | null {
  return current;
}

/** Runs `fn` with a fresh render state and returns both. */
export function withRenderState<T>(fn: () => T): { result: T; state: RenderState } {
  const state: RenderState = { islands: [], head: [] };
  const previous = current;
  current = state;
  try {
    return { result: fn(), state };
  } finally {
    current = previous;
  }
}
