/**
 * `deno task bench`: every benchmark, each printing ratios against a peer
 * measured in the same run. Exits non-zero when a budget or target is missed
 * (the server benchmark only reports; it fails only when its harness breaks).
 * @module
 */
import { runDeliveryBench } from "./delivery_bench.ts";
import { runLandingBench } from "./landing_bench.ts";
import { runRoomBench } from "./room_bench.ts";

/** Runs the server benchmark (PeerServer and a bare Deno relay side by side) in its own process. */
async function runServerBench(): Promise<{ ok: boolean }> {
  const script = new URL("./server_bench.ts", import.meta.url).pathname;
  const { success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", script, ...Deno.args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  return { ok: success };
}

const results = [await runLandingBench(), await runRoomBench(), await runDeliveryBench(), await runServerBench()];
if (results.some((result) => !result.ok)) Deno.exit(1);
