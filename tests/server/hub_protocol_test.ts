import { assert, assertEquals, assertThrows } from "@std/assert";
import { CLOSE, ERROR_CODES } from "../../lib/protocol/codes.ts";
import { isRoomId, newRoomId } from "../../lib/protocol/ids.ts";
import { isTooBig, MAX_FRAME_BYTES, parseClientFrame, utf8Length } from "../../lib/protocol/validate.ts";
import { configFromEnv, DEFAULT_CONFIG } from "../../lib/server/config.ts";
import { TokenBucket } from "../../lib/server/rate_limit.ts";
import { stamp } from "../../lib/server/room.ts";

Deno.test("room ids carry 128 random bits in 22 url-safe characters and are validated strictly", () => {
  const id = newRoomId();
  assertEquals(id.length, 22);
  assert(isRoomId(id));
  for (
    const bad of ["", "short", "a".repeat(21), "a".repeat(65), "a".repeat(21) + "/", "a".repeat(21) + "=", 42, null]
  ) {
    assert(!isRoomId(bad), String(bad));
  }
});

Deno.test("client frames are validated strictly, with the chat id kept for the error", () => {
  assert(parseClientFrame('{"type":"chat","id":"m1","data":"YQ"}').ok);
  assert(parseClientFrame('{"type":"chat","id":"m1","to":"p1","data":"YQ"}').ok);
  assert(parseClientFrame('{"type":"signal","to":"p1","data":null}').ok);
  assert(parseClientFrame('{"type":"hello","v":1,"since":0}').ok);
  assert(parseClientFrame('{"type":"ping"}').ok);
  assert(parseClientFrame('{"type":"bye"}').ok);
  assert(parseClientFrame('{"type":"ack","to":"p1","ids":["m1"],"mac":"AAAAAAAAAAA"}').ok);
  assert(parseClientFrame('{"type":"ack","to":"p1","ids":["m1","m2"],"mac":"AAAAAAAAAAA","volatile":true}').ok);
  const cases: [string, string, string?][] = [
    ["nope", "bad_frame"],
    ["null", "bad_frame"],
    ['"chat"', "bad_frame"],
    ["[]", "bad_frame"],
    ['{"type":7}', "bad_frame"],
    ['{"type":"x"}', "unknown_type"],
    ['{"type":"chat","id":"m1","data":"YQ","from":"p2"}', "bad_frame", "m1"],
    ['{"type":"chat","id":"m1","data":"YQ","\\u0066rom":"p2"}', "bad_frame", "m1"],
    ['{"type":"chat","id":"m1","data":"a b"}', "bad_frame", "m1"],
    ['{"type":"chat","id":"m1","data":""}', "bad_frame", "m1"],
    ['{"type":"chat","id":"m 1","data":"YQ"}', "bad_frame"],
    ['{"type":"chat","id":"m1","data":"YQ","to":""}', "bad_frame", "m1"],
    ['{"type":"signal","to":"p1"}', "bad_frame"],
    ['{"type":"signal","to":"p1","data":1,"seq":3}', "bad_frame"],
    ['{"type":"hello"}', "bad_version"],
    ['{"type":"hello","v":1,"since":-1}', "bad_frame"],
    ['{"type":"hello","v":1,"since":1.5}', "bad_frame"],
    ['{"type":"hello","v":1,"token":"short"}', "bad_frame"],
    ['{"type":"ping","n":"x"}', "bad_frame"],
    ['{"type":"bye","x":1}', "bad_frame"],
    ['{"type":"ack","ids":["m1"],"mac":"AAAAAAAAAAA"}', "bad_frame"],
    ['{"type":"ack","to":"p1","ids":[],"mac":"AAAAAAAAAAA"}', "bad_frame"],
    ['{"type":"ack","to":"p1","ids":["m 1"],"mac":"AAAAAAAAAAA"}', "bad_frame"],
    [`{"type":"ack","to":"p1","ids":${JSON.stringify(Array(401).fill("m"))},"mac":"AAAAAAAAAAA"}`, "bad_frame"],
    ['{"type":"ack","to":"p1","ids":["m1"],"mac":"short"}', "bad_frame"],
    ['{"type":"ack","to":"p1","ids":["m1"],"mac":"AAAAAAAAAAA","volatile":false}', "bad_frame"],
    ['{"type":"ack","to":"p1","ids":["m1"],"mac":"AAAAAAAAAAA","from":"p2"}', "bad_frame"],
  ];
  for (const [text, code, ref] of cases) {
    const result = parseClientFrame(text);
    assert(!result.ok, text);
    assertEquals([result.code, result.ref], [code, ref], text);
    assert(ERROR_CODES.includes(result.code));
  }
});

Deno.test("stamping appends the sender without re-serialising the frame", () => {
  const suffix = ',"from":"p1"}';
  assertEquals(
    stamp('{"type":"chat","id":"m","data":"YQ"}', suffix),
    '{"type":"chat","id":"m","data":"YQ","from":"p1"}',
  );
  assertEquals(JSON.parse(stamp('{"type":"signal","to":"p2","data":{"a":[1,{}]}} \n', suffix)), {
    type: "signal",
    to: "p2",
    data: { a: [1, {}] },
    from: "p1",
  });
});

Deno.test("frame size is measured in UTF-8 bytes", () => {
  assertEquals(utf8Length("aé€😀"), 1 + 2 + 3 + 4);
  assert(!isTooBig("a".repeat(MAX_FRAME_BYTES)));
  assert(isTooBig("a".repeat(MAX_FRAME_BYTES + 1)));
  assert(isTooBig("€".repeat(MAX_FRAME_BYTES / 3 + 1)));
  assert(!isTooBig("€".repeat(MAX_FRAME_BYTES / 3 - 1)));
});

Deno.test("config comes from env with defaults in one place and refuses nonsense", () => {
  const env = {
    RESUME_WINDOW: "30",
    ROOM_TTL: "60",
    ALLOWED_ORIGINS: "https://a.example, https://b.example",
    BUS: "kv",
  };
  const config = configFromEnv((name) => env[name as keyof typeof env]);
  assertEquals(config.resumeWindowMs, 30_000);
  assertEquals(config.roomTtlMs, 60_000);
  assertEquals(config.allowedOrigins, ["https://a.example", "https://b.example"]);
  assertEquals(config.bus, "kv");
  const defaults = configFromEnv(() => undefined);
  assertEquals(defaults.resumeWindowMs, 120_000);
  assertEquals(defaults.roomTtlMs, 86_400_000);
  assertEquals(defaults, { ...DEFAULT_CONFIG });
  assertThrows(() => configFromEnv((name) => (name === "BUS" ? "carrier-pigeon" : undefined)));
  assertThrows(() => configFromEnv((name) => (name === "ROOM_TTL" ? "soon" : undefined)));
});

Deno.test("the token bucket allows a burst, then the sustained rate", () => {
  let now = 0;
  const bucket = new TokenBucket({ perSecond: 2, burst: 3 }, () => now);
  assertEquals([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
  now += 500;
  assertEquals([bucket.take(), bucket.take()], [true, false]);
  now += 10_000;
  assertEquals([bucket.take(), bucket.take(), bucket.take(), bucket.take()], [true, true, true, false]);
});

Deno.test("close codes are the documented ones", () => {
  assertEquals(CLOSE.MESSAGE_TOO_BIG, 1009);
  assertEquals(CLOSE.POLICY_VIOLATION, 1008);
  assertEquals(CLOSE.SERVICE_RESTART, 1012);
  assertEquals(CLOSE.UNSUPPORTED_DATA, 1003);
});
