/** The twind plugin's sheet compaction: opaque colours as hex, neighbouring at-rules merged, nothing else changed. */
import { assertEquals } from "@std/assert";
import { compactSheet } from "../../lib/fresh/plugins/twind.ts";

Deno.test("an opaque colour becomes its hex value, for text, background and border, in and out of at-rules", () => {
  assertEquals(
    compactSheet([
      "._a{--tw-text-opacity:1;color:rgba(4,120,87,var(--tw-text-opacity))}",
      "._b:hover{--tw-bg-opacity:1;background-color:rgba(255,251,235,var(--tw-bg-opacity))}",
      "@media (prefers-color-scheme:dark){._c{--tw-border-opacity:1;border-color:rgba(15,23,42,var(--tw-border-opacity))}}",
    ]),
    "._a{color:#047857}._b:hover{background-color:#fffbeb}@media (prefers-color-scheme:dark){._c{border-color:#0f172a}}",
  );
});

Deno.test("a colour keeps its variable when a rule sets that opacity to another value", () => {
  const rules = [
    "._a{--tw-bg-opacity:1;background-color:rgba(4,120,87,var(--tw-bg-opacity))}",
    ".bg-opacity-50{--tw-bg-opacity:0.5}",
    "._b{--tw-text-opacity:1;color:rgba(0,0,0,var(--tw-text-opacity))}",
  ];
  assertEquals(compactSheet(rules), rules[0] + rules[1] + "._b{color:#000000}");
});

Deno.test("neighbouring rules under the same at-rule share one block; others keep their order", () => {
  assertEquals(
    compactSheet([
      "@media (min-width:640px){._a{width:1px}}",
      "@media (min-width:640px){._b{width:2px}}",
      "._c{width:3px}",
      "@media (min-width:640px){._d{width:4px}}",
      "@media (prefers-color-scheme:dark){._e{width:5px}}",
      "@media (prefers-color-scheme:dark){._f:hover{width:6px}}",
    ]),
    "@media (min-width:640px){._a{width:1px}._b{width:2px}}._c{width:3px}@media (min-width:640px){._d{width:4px}}" +
      "@media (prefers-color-scheme:dark){._e{width:5px}._f:hover{width:6px}}",
  );
});
