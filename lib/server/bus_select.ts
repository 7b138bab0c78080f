/**
 * Chooses the cross-instance bus from the configuration: `auto` (the
 * default) needs no choosing and works in a single process, across
 * `deno serve --parallel` workers, across processes sharing one KV file and
 * on Deno Deploy; `broadcast` and `kv` force one transport.
 * @module
 */
import type { Bus } from "./bus.ts";
import { AutoBus } from "./bus_auto.ts";
import { BroadcastBus } from "./bus_broadcast.ts";
import { KvBus } from "./bus_kv.ts";
import type { BusKind } from "./config.ts";

/** Opens the bus `kind` names, on `kv` where it needs one (the caller owns `kv`). */
export async function openBus(kind: BusKind, kv: Deno.Kv): Promise<Bus> {
  switch (kind) {
    case "broadcast":
      return new BroadcastBus();
    case "kv":
      return await KvBus.open(kv);
    case "auto":
      return await AutoBus.open({ kv });
  }
}
