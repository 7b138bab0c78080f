/**
 * `deno task bench`: every benchmark, each printing ratios against a peer
 * measured in the same run. Exits non-zero when a budget or target is missed.
 * @module
 */
import { runDeliveryBench } from "./delivery_bench.ts";
import { runLandingBench } from "./landing_bench.ts";
import { runRoomBench } from "./room_bench.ts";

const results = [await runLandingBench(), await runRoomBench(), await runDeliveryBench()];
if (results.some((result) => !result.ok)) Deno.exit(1);
