import { assert, assertEquals } from "@std/assert";
import type { ChatFrame } from "../../lib/protocol/frames.ts";
import { isPlainChat, parseClientFrame, utf8Length } from "../../lib/protocol/validate.ts";
import { openKvRoomLog } from "../../lib/server/room_log_kv.ts";

const HOUR = 3600_000;

/** Parses a text that must be a valid chat frame. */
function chat(text: string): ChatFrame {
  const parsed = parseClientFrame(text);
  assert(parsed.ok && parsed.frame.type === "chat", `not a valid chat frame: ${text}`);
  return parsed.frame as ChatFrame;
}

Deno.test("a chat frame counts as plain ASCII only when nothing but its fields fits in it", async (t) => {
  await t.step("compact frames, in any key order, with or without `to`, are plain", () => {
    for (
      const text of [
        JSON.stringify({ type: "chat", id: "m1", data: "QUJD" }),
        JSON.stringify({ type: "chat", id: "m-_1", to: "peerA", data: "x".repeat(500) }),
        JSON.stringify({ data: "QUJD", to: "p", id: "m1", type: "chat" }),
      ]
    ) {
      assert(isPlainChat(text, chat(text)), text);
      assertEquals(utf8Length(text), text.length);
    }
  });
  await t.step("whitespace, escapes and duplicate keys are not (a discarded value may carry any character)", () => {
    for (
      const text of [
        ' {"type":"chat","id":"m1","data":"QUJD"}',
        '{"type":"chat","id":"m1","data":"QUJD"}\n',
        '{"type":"chat","id":"m\\u0031","data":"QUJD"}',
        '{"type":"chat","id":"m1","data":"é€😀","data":"QUJD"}',
        '{"type":"chat","id":"m1","to":"é","to":"p","data":"QUJD"}',
      ]
    ) {
      assertEquals(isPlainChat(text, chat(text)), false, text);
    }
  });
});

Deno.test("kv room log gives consecutive positions when two handles take turns on one room", async () => {
  // Each handle remembers the head it committed; the other's commit makes that stale every turn.
  const dir = await Deno.makeTempDir({ prefix: "room_log_turns_" });
  const path = `${dir}/kv.sqlite`;
  const options = { ttlMs: HOUR, maxEntries: 100_000, maxBytes: 100_000_000 };
  const [a, b] = [await openKvRoomLog(path, options), await openKvRoomLog(path, options)];
  try {
    const seqs: number[] = [];
    for (let i = 0; i < 40; i++) {
      const log = i % 3 === 0 ? b : a; // a runs twice in a row too, where its remembered head is current
      seqs.push((await log.append("r", `m${i}`, true)).seq);
    }
    assertEquals(seqs, Array.from({ length: 40 }, (_, i) => i + 1));
    const page = await b.readAfter("r", 0, 100);
    assertEquals(page.entries.map((e) => e.data), Array.from({ length: 40 }, (_, i) => `m${i}`));
  } finally {
    a.close();
    b.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kv room log bounds bytes the same whether the caller says a frame is ASCII or not", async () => {
  const options = { ttlMs: HOUR, maxEntries: 1_000, maxBytes: 100, now: () => 1_700_000_000_000 };
  const [told, measured] = [await openKvRoomLog(":memory:", options), await openKvRoomLog(":memory:", options)];
  try {
    for (let i = 0; i < 12; i++) {
      const data = `${i}`.padStart(30, "x");
      assertEquals(await told.append("r", data, true), await measured.append("r", data), `append ${i}`);
    }
    const [a, b] = [await told.readAfter("r", 0, 100), await measured.readAfter("r", 0, 100)];
    assertEquals(a.firstSeq, b.firstSeq);
    assertEquals(a.entries.map((e) => e.data), b.entries.map((e) => e.data));
    assertEquals(a.entries.length, 3, "100 bytes keep three 30-byte entries");
  } finally {
    told.close();
    measured.close();
  }
});
