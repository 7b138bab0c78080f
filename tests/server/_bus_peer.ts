/**
 * One bus instance driven by a test, run either as a Web Worker (messages on
 * `self`) or as a separate process (`deno run -A _bus_peer.ts`, JSON lines
 * on stdin/stdout). Commands: open, publish, close. Events: opened (with the
 * instance id), message (every envelope received), closed.
 * @module
 */
import type { Bus, BusEnvelope } from "../../lib/server/bus.ts";
import { BroadcastBus } from "../../lib/server/bus_broadcast.ts";
import { openKvBus } from "../../lib/server/bus_kv.ts";

/** What the test sends. */
export type PeerCommand =
  | { cmd: "open"; kind: "broadcast" | "kv"; channel: string; path?: string; pollIntervalMs?: number }
  | { cmd: "publish"; room: string; bodies: unknown[] }
  | { cmd: "close" };

/** What the peer reports. */
export type PeerEvent =
  | { event: "opened"; instanceId: string }
  | { event: "message"; envelope: BusEnvelope }
  | { event: "closed" }
  | { event: "error"; message: string };

function run(send: (event: PeerEvent) => void): (command: PeerCommand) => Promise<boolean> {
  let bus: Bus | null = null;
  return async (command) => {
    try {
      if (command.cmd === "open") {
        bus = command.kind === "broadcast"
          ? new BroadcastBus({ channel: command.channel })
          : await openKvBus(command.path, {
            channel: command.channel,
            pollIntervalMs: command.pollIntervalMs,
            onError: (error, context) => send({ event: "error", message: `${context}: ${error}` }),
          });
        bus.subscribe((envelope) => send({ event: "message", envelope }));
        send({ event: "opened", instanceId: bus.instanceId });
      } else if (command.cmd === "publish") {
        for (const body of command.bodies) bus!.publish(command.room, body);
      } else {
        await bus?.close();
        send({ event: "closed" });
        return false;
      }
    } catch (error) {
      send({ event: "error", message: String(error) });
    }
    return true;
  };
}

const IN_WORKER = typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";

if (IN_WORKER) {
  const scope = self as unknown as Worker;
  const handle = run((event) => scope.postMessage(event));
  scope.onmessage = (event: MessageEvent<PeerCommand>) => void handle(event.data);
} else if (import.meta.main) {
  // A separate process: JSON lines both ways.
  const encoder = new TextEncoder();
  const handle = run((event) => Deno.stdout.writeSync(encoder.encode(JSON.stringify(event) + "\n")));
  let buffer = "";
  const decoder = new TextDecoder();
  outer: for await (const chunk of Deno.stdin.readable) {
    buffer += decoder.decode(chunk, { stream: true });
    let newline;
    while ((newline = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + 1);
      if (line && !(await handle(JSON.parse(line)))) break outer;
    }
  }
}
