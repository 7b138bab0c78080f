/**
 * Tailwind's preflight (the reset twind puts before the utilities) without
 * the rules for elements and inputs Parley never renders: every page inlines
 * its CSS, so each unused rule is bytes on every first visit. The rules kept
 * are upstream's, unchanged and in upstream's order. Server only (twind runs
 * in `fresh.config.ts`).
 * @module
 */
import type { CSSBase } from "@twind/core";
import preflight from "@twind/preset-tailwind/preflight";

/** Preflight selectors for what no page of Parley has: rules, abbreviations, sub/superscripts, progress bars, ... */
export const UNUSED_PREFLIGHT: readonly string[] = [
  "hr",
  "abbr:where([title])",
  "b,strong",
  "small",
  "sub,sup",
  "sub",
  "sup",
  "progress",
  "::-webkit-inner-spin-button,::-webkit-outer-spin-button",
  "[type='search']",
  "::-webkit-search-decoration",
  "::-webkit-file-upload-button",
  "summary",
  "fieldset",
  "legend",
  "img,video",
];

/** Tailwind's preflight less {@link UNUSED_PREFLIGHT}. */
export function parleyPreflight(): CSSBase {
  const rules = preflight as Record<string, CSSBase>;
  for (const selector of UNUSED_PREFLIGHT) {
    if (!(selector in rules)) throw new Error(`Tailwind's preflight has no rule ${selector} any more: update the list`);
  }
  return Object.fromEntries(
    Object.entries(rules).filter(([selector]) => !UNUSED_PREFLIGHT.includes(selector)),
  ) as CSSBase;
}
