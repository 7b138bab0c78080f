import { assert, assertEquals, assertThrows } from "@std/assert";
import { AdmissionGate } from "../../lib/server/admission_gate.ts";

const settle = async () => {
  for (let i = 0; i < 5; i++) await Promise.resolve();
};

Deno.test("the gate gives turns up to its bound at once, then queues", async () => {
  const gate = new AdmissionGate<string>({ concurrent: 2, perGroup: 10, queued: 100 });
  assertEquals(gate.enter("a1", "A"), true);
  assertEquals(gate.enter("a2", "A"), true);
  const third = gate.enter("a3", "A");
  assert(third instanceof Promise);
  assertEquals([gate.working, gate.queued], [2, 1]);
  let granted: boolean | null = null;
  third.then((ok) => granted = ok);
  await settle();
  assertEquals(granted, null, "no turn is free");
  gate.leave("a1");
  await settle();
  assertEquals(granted, true);
  assertEquals([gate.working, gate.queued], [2, 0]);
  assertThrows(() => gate.enter("a2", "A"), Error, "already at the gate");
});

Deno.test("waiting address groups are served in turn: one group's flood does not hold another's hello back", async () => {
  const gate = new AdmissionGate<string>({ concurrent: 1, perGroup: 100, queued: 1000 });
  assertEquals(gate.enter("flood0", "attacker"), true);
  const order: string[] = [];
  const wait = (who: string, group: string) => {
    const turn = gate.enter(who, group);
    assert(turn instanceof Promise);
    turn.then((ok) => ok && order.push(who));
  };
  for (let i = 1; i <= 20; i++) wait(`flood${i}`, "attacker");
  wait("honest", "member");
  for (let i = 0; i < 4; i++) {
    gate.leave(order.at(-1) ?? "flood0");
    await settle();
  }
  assertEquals(order, ["flood1", "honest", "flood2", "flood3"], "the member's group had its turn second, not 21st");
});

Deno.test("a group's queue and all queues are bounded: past them the gate refuses at once", () => {
  const gate = new AdmissionGate<string>({ concurrent: 1, perGroup: 2, queued: 3 });
  assertEquals(gate.enter("x", "A"), true);
  assert(gate.enter("a1", "A") instanceof Promise);
  assert(gate.enter("a2", "A") instanceof Promise);
  assertEquals(gate.enter("a3", "A"), false, "group A has 2 waiting");
  assert(gate.enter("b1", "B") instanceof Promise, "another group still may wait");
  assertEquals(gate.enter("c1", "C"), false, "3 waiting in all");
  assertEquals(gate.queued, 3);
});

Deno.test("a hello that leaves while waiting gets no turn; one that leaves while in work frees its turn", async () => {
  const gate = new AdmissionGate<string>({ concurrent: 1, perGroup: 10, queued: 10 });
  assertEquals(gate.enter("first", "A"), true);
  const gone = gate.enter("gone", "B") as Promise<boolean>;
  const next = gate.enter("next", "C") as Promise<boolean>;
  gate.cancel("gone");
  assertEquals(await gone, false);
  gate.cancel("first");
  assertEquals(gate.working, 1, "cancel keeps a turn in work: the work goes on until it leaves");
  gate.leave("first");
  assertEquals(await next, true);
  gate.leave("next");
  gate.leave("next");
  assertEquals([gate.working, gate.queued], [0, 0]);
});
