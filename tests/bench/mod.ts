/**
 * `deno task bench`: every benchmark, each printing ratios against a peer
 * measured in the same run. Exits non-zero when a budget is broken.
 * @module
 */
import { runLandingBench } from "./landing_bench.ts";

const results = [await runLandingBench()];
if (results.some((result) => !result.ok)) Deno.exit(1);
