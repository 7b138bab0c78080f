/**
 * Runs axe-core inside a page and returns its serious and critical
 * violations, each as "rule: target" lines a failure message can print.
 * @module
 */
import type { Page } from "playwright-core";

let source: string | undefined;

async function axeSource(): Promise<string> {
  if (source) return source;
  const main = new URL(import.meta.resolve("axe-core"));
  source = await Deno.readTextFile(new URL("axe.min.js", main));
  return source;
}

/** The serious and critical accessibility violations on the page as it is now. */
export async function seriousViolations(page: Page): Promise<string[]> {
  await page.addScriptTag({ content: await axeSource() });
  const violations = await page.evaluate(async () => {
    // deno-lint-ignore no-explicit-any
    const axe = (globalThis as any).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    // deno-lint-ignore no-explicit-any
    return result.violations.map((v: any) => ({
      id: v.id,
      impact: v.impact,
      // deno-lint-ignore no-explicit-any
      targets: v.nodes.map((n: any) => `${n.target.join(" ")} (${n.failureSummary?.split("\n")[1] ?? ""})`),
    }));
  });
  return violations
    .filter((v: { impact: string }) => v.impact === "serious" || v.impact === "critical")
    .flatMap((v: { id: string; targets: string[] }) => v.targets.map((target) => `${v.id}: ${target}`));
}
