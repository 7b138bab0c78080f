/**
 * The lab's bandwidth limits: a profile with a bandwidth puts a token bucket
 * (`tbf`) at that rate on the phone's egress (upload) and on the router's
 * egress toward the phone (download); a profile without one leaves neither.
 * Needs root and iproute2, like every netlab test.
 * @module
 */
import { assertEquals } from "@std/assert";
import { Lab, type Phone } from "./lab.ts";
import { PROFILES } from "./profiles.ts";

/** The root qdisc of `iface` as `tc -j` reports it: its kind and, for a tbf, its rate in bytes per second. */
async function rootQdisc(lab: Lab, where: Phone | "server", iface: string): Promise<{ kind: string; rate?: number }> {
  const { stdout } = await lab.exec(where, ["tc", "-j", "qdisc", "show", "dev", iface, "root"]);
  const [qdisc] = JSON.parse(stdout) as { kind: string; options?: { rate?: number } }[];
  return { kind: qdisc?.kind ?? "none", rate: qdisc?.options?.rate };
}

Deno.test("netlab: a profile's bandwidth is a tbf on both sides of the phone's link, and goes away with the profile", async () => {
  await using lab = await Lab.create({ phones: 1 });
  const phone = lab.phones[0];
  const sides = async () => ({
    up: await rootQdisc(lab, phone, phone.iface),
    down: await rootQdisc(lab, "server", phone.routerIface),
  });

  await lab.applyProfile(phone, "regular-3g");
  const bytesPerSecond = (kbit: number) => (kbit * 1000) / 8;
  assertEquals(await sides(), {
    up: { kind: "tbf", rate: bytesPerSecond(PROFILES["regular-3g"].bandwidth!.upKbit) },
    down: { kind: "tbf", rate: bytesPerSecond(PROFILES["regular-3g"].bandwidth!.downKbit) },
  });

  // Another limited profile replaces the limits; it does not stack a second qdisc.
  await lab.applyProfile(phone, "slow-4g");
  assertEquals(await sides(), {
    up: { kind: "tbf", rate: bytesPerSecond(PROFILES["slow-4g"].bandwidth!.upKbit) },
    down: { kind: "tbf", rate: bytesPerSecond(PROFILES["slow-4g"].bandwidth!.downKbit) },
  });

  await lab.applyProfile(phone, "lan");
  const clean = await sides();
  assertEquals([clean.up.kind === "tbf", clean.down.kind === "tbf"], [false, false], JSON.stringify(clean));
});
