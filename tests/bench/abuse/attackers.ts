/**
 * The attackers of the abuse bench, run as their own process so their work
 * does not slow the honest members' clocks:
 * `deno run -A attackers.ts '<AttackConfig as JSON>'`; prints one line of
 * JSON ({@linkcode AttackResult}) when done.
 *
 * Every attack stays within the per-connection frame rate and frame size
 * (except the oversized one) and runs bounded loops on loopback until the
 * deadline. The slow room's sender (1.8 MB/s) is over the per-connection byte
 * rate the server enforces since (`RATE_CONN_BYTES`): it is refused past its
 * burst, and closed (1008) when it keeps on; the attack is left as it was.
 * Per unit of `scale`:
 * - slow readers: one room where 10 members join and never read while one
 *   member sends 4 frames of 45 KB every 100 ms (40 frames/s, under 50/s);
 * - flooders: 4 sockets in one room sending 45 small chat frames per second each;
 * - churn: 4 loops joining a room and leaving (bye or a dropped socket);
 * - hello flood: 4 loops sending hellos with a wrong proof to a real room, plus
 *   20 sockets that never say hello;
 * - fresh rooms: 2 loops each walking through new rooms (join, one chat, bye);
 * - oversized: 1 loop sending 70 KB frames (closed with 1009).
 *
 * With `addressPrefix`, each attack of each unit comes from its own client
 * address (sent as `X-Forwarded-For` to a server that trusts loopback as its
 * proxy): the server's per-address limits apply to each attack on its own, as
 * they would to attackers on other machines.
 * @module
 */
import { newRoomId } from "../../../lib/protocol/ids.ts";
import { admit, type RoomKey, roomKey } from "./admit.ts";
import { Wire } from "./wire.ts";
import { ATTACK_KINDS, type AttackConfig, type AttackKind, type AttackResult } from "./attack_config.ts";

const config = JSON.parse(Deno.args[0]) as AttackConfig;
const end = Date.now() + config.durationMs;
const result: AttackResult = { sockets: 0, closes: {}, errors: {}, chats: 0, chatBytes: 0, freshRooms: 0, failures: 0 };
const BIG = "B".repeat(45_000);
const SMALL = "s".repeat(200);
const OVERSIZED = "O".repeat(70 * 1024);
/** Every socket opened, for the final clean-up. */
const opened = new Set<Wire>();

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const running = () => Date.now() < end;

/** The client address of one attack of one unit (undefined: the socket's own, 127.0.0.1). */
function addressOf(unit: number, kind: AttackKind): string | undefined {
  if (config.addressPrefix === undefined) return undefined;
  return config.addressPrefix + (unit * ATTACK_KINDS.length + ATTACK_KINDS.indexOf(kind) + 1);
}

async function open(room: string, address: string | undefined): Promise<Wire> {
  const wire = await Wire.open({
    port: config.port,
    room,
    address,
    onFrame: (frame) => {
      if (frame.type === "error") result.errors[frame.code as string] = (result.errors[frame.code as string] ?? 0) + 1;
      // Keep what admission waits for; drop the rest (a flood would fill the inbox).
      return frame.type !== "welcome" && frame.type !== "challenge" && frame.type !== "error";
    },
  });
  result.sockets++;
  opened.add(wire);
  wire.closed.then((code) => {
    result.closes[code] = (result.closes[code] ?? 0) + 1;
    opened.delete(wire);
  });
  return wire;
}

async function join(key: RoomKey, address: string | undefined, create = false, extra = {}): Promise<Wire> {
  const wire = await open(key.room, address);
  await admit(wire, config.mode, key, extra, create);
  return wire;
}

/** Repeats `step` until the deadline; a failed step is counted and paced. */
async function loop(step: () => Promise<void>): Promise<void> {
  while (running()) {
    try {
      await step();
    } catch {
      result.failures++;
      await sleep(100);
    }
  }
}

function chat(wire: Wire, data: string): void {
  wire.send({ type: "chat", id: crypto.randomUUID(), data });
  result.chats++;
  result.chatBytes += data.length;
}

async function slowRoom(address: string | undefined): Promise<void> {
  const key = await roomKey(newRoomId());
  const sender = await join(key, address, true);
  // The readers join (with since, as Parley does) and stop reading for good.
  for (let i = 0; i < 10; i++) (await join(key, address, false, { since: 0 })).pause();
  while (running() && !sender.isClosed) {
    for (let i = 0; i < 4; i++) chat(sender, BIG);
    await sleep(100);
  }
}

async function flooders(address: string | undefined): Promise<void> {
  const key = await roomKey(newRoomId());
  const wires = [await join(key, address, true)];
  for (let i = 1; i < 4; i++) wires.push(await join(key, address));
  while (running()) {
    for (const wire of wires) if (!wire.isClosed) chat(wire, SMALL);
    await sleep(1_000 / 45);
  }
}

async function churn(key: RoomKey, address: string | undefined): Promise<void> {
  await loop(async () => {
    const wire = await join(key, address, false, { since: 0 });
    await sleep(Math.random() * 200);
    if (Math.random() < 0.5) wire.send({ type: "bye" });
    await wire.abort();
    await sleep(50);
  });
}

async function helloFlood(victim: RoomKey, address: string | undefined): Promise<void> {
  const wrong = await roomKey(victim.room);
  await loop(async () => {
    const wire = await open(victim.room, address);
    try {
      await admit(wire, config.mode, wrong);
    } catch { /* refused, as it should be */ }
    await wire.abort();
    await sleep(50);
  });
}

async function silent(address: string | undefined): Promise<void> {
  // Sockets that never say hello: the server closes them after its hello timeout; open new ones.
  await loop(async () => {
    const wire = await open(newRoomId(), address);
    await Promise.race([wire.closed, sleep(Math.max(0, end - Date.now()))]);
    await wire.abort();
  });
}

async function freshRooms(address: string | undefined): Promise<void> {
  await loop(async () => {
    const wire = await join(await roomKey(newRoomId()), address, true);
    result.freshRooms++;
    chat(wire, SMALL);
    wire.send({ type: "bye" });
    await Promise.race([wire.closed, sleep(1_000)]);
    await wire.abort();
    await sleep(100);
  });
}

async function oversized(address: string | undefined): Promise<void> {
  // Each refused socket stays "away" (it could resume), so a room fills up: move on every 25.
  let key = await roomKey(newRoomId());
  let used = 0;
  await loop(async () => {
    if (++used % 25 === 1) key = await roomKey(newRoomId());
    const wire = await join(key, address, used % 25 === 1);
    wire.send({ type: "chat", id: "big", data: OVERSIZED });
    await Promise.race([wire.closed, sleep(1_000)]);
    await wire.abort();
    await sleep(200);
  });
}

const kinds = new Set<AttackKind>(config.kinds ?? ATTACK_KINDS);
const tasks: Promise<void>[] = [];
for (let unit = 0; unit < config.scale; unit++) {
  const at = (kind: AttackKind) => addressOf(unit, kind);
  if (kinds.has("slow")) tasks.push(slowRoom(at("slow")));
  if (kinds.has("flood")) tasks.push(flooders(at("flood")));
  if (kinds.has("oversized")) tasks.push(oversized(at("oversized")));
  if (kinds.has("churn")) {
    const churnRoom = await roomKey(newRoomId());
    await (await join(churnRoom, at("churn"), true)).close();
    for (let i = 0; i < 4; i++) tasks.push(churn(churnRoom, at("churn")));
  }
  if (kinds.has("hello")) {
    const victim = await roomKey(newRoomId());
    await join(victim, at("hello"), true); // stays in: the room exists while the flood tries to get in
    for (let i = 0; i < 4; i++) tasks.push(helloFlood(victim, at("hello")));
    for (let i = 0; i < 20; i++) tasks.push(silent(at("hello")));
  }
  if (kinds.has("fresh")) { for (let i = 0; i < 2; i++) tasks.push(freshRooms(at("fresh"))); }
}
const settled = await Promise.allSettled(tasks);
result.failures += settled.filter((s) => s.status === "rejected").length;
await Promise.all([...opened].map((wire) => wire.abort()));
console.log(JSON.stringify(result));
