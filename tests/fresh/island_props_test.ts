import { assertEquals, assertThrows } from "@std/assert";
import { signal } from "@preact/signals";
import { jsonForScript, serializeIslands } from "$fresh/island_props.ts";

Deno.test("JSON props pass through and undefined fields are dropped", () => {
  const data = serializeIslands([{ name: "A", props: { label: "Hi", n: 2, list: [true, null], gone: undefined } }]);
  assertEquals(data, { islands: [{ name: "A", props: { label: "Hi", n: 2, list: [true, null] } }], signals: [] });
});

Deno.test("a signal shared by two islands becomes one shared reference", () => {
  const count = signal(3);
  const other = signal("x");
  const data = serializeIslands([
    { name: "A", props: { count } },
    { name: "B", props: { count, nested: { other } } },
  ]);
  assertEquals(data.signals, [3, "x"]);
  assertEquals(data.islands[0].props, { count: { $signal: 0 } });
  assertEquals(data.islands[1].props, { count: { $signal: 0 }, nested: { other: { $signal: 1 } } });
});

Deno.test("props that cannot reach the browser fail with a clear message", () => {
  assertThrows(
    () => serializeIslands([{ name: "A", props: { onClick: () => {} } }]),
    TypeError,
    "props.onClick is a function",
  );
  assertThrows(() => serializeIslands([{ name: "A", props: { when: new Date() } }]), TypeError, "is a Date");
  assertThrows(() => serializeIslands([{ name: "A", props: { n: NaN } }]), TypeError, "JSON cannot carry");
  assertThrows(() => serializeIslands([{ name: "A", props: { children: "x" } }]), TypeError, "children");
  assertThrows(() => serializeIslands([{ name: "A", props: { x: { $signal: 1 } } }]), TypeError, "reserved");
});

Deno.test("island data cannot break out of its script element", () => {
  const json = jsonForScript({ text: "</script><script>alert(1)</script><!--" });
  assertEquals(json.includes("<"), false);
  assertEquals(JSON.parse(json).text, "</script><script>alert(1)</script><!--");
});
