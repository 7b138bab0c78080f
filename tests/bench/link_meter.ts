/**
 * Counts a lab phone's page traffic on its link: every TCP and UDP packet
 * between it and the lab's addresses (the server, coturn, the other phone:
 * HTTP, WebSocket, STUN/TURN, DTLS/SCTP), as IP bytes (header and payload, no
 * Ethernet header), both directions added. Left out: packets to addresses
 * outside the lab, ICMP and ARP. In the lab, Chromium keeps asking a DNS
 * resolver it cannot reach (its own background lookups, not the page's: the
 * pages are opened by IP address; about 1.7 packets a second), and counting
 * that chatter would charge it to whichever page was open.
 *
 * The counters are nft named counters in a `netdev` table on the phone's
 * interface (ingress and egress hooks), so they see packets before the lab's
 * loss and delay rules: what the radio carries.
 * @module
 */
import { type Lab, LAB_NET, type Phone } from "../netlab/lab.ts";
import type { LinkCount } from "./net_report.ts";

const TABLE = "bench_meter";
/** Bytes of Ethernet header the egress hook counts and the ingress hook does not. */
const ETHERNET_HEADER = 14;

function script(iface: string): string {
  // Addresses, not ports: `th` (ports) is not reliable on the netdev egress hook here (DNS matched `th dport != 53`).
  const lab = `${LAB_NET}.0.0/16`;
  const chain = (name: string, hook: "ingress" | "egress", match: string, counter: string) =>
    `  chain ${name} {\n    type filter hook ${hook} device "${iface}" priority 0; policy accept;\n` +
    `    ${match} ${lab} ip protocol { tcp, udp } counter name "${counter}"\n  }\n`;
  // Declaring the table first makes the delete valid when it does not exist yet.
  return `table netdev ${TABLE} {}\ndelete table netdev ${TABLE}\ntable netdev ${TABLE} {\n` +
    `  counter page_in {}\n  counter page_out {}\n` +
    chain("in", "ingress", "ip saddr", "page_in") + chain("out", "egress", "ip daddr", "page_out") + "}\n";
}

/** Installs (or resets to zero) the meter on a phone's interface. */
export async function installLinkMeter(lab: Lab, phone: Phone): Promise<void> {
  await lab.exec(phone, ["nft", "-f", "-"], { stdin: script(phone.iface) });
}

/** What the meter counted so far on a phone: the page's packets and IP bytes, both directions added. */
export async function readLinkMeter(lab: Lab, phone: Phone): Promise<LinkCount> {
  const { stdout } = await lab.exec(phone, ["nft", "-j", "list", "counters", "table", "netdev", TABLE]);
  const counters = new Map<string, { packets: number; bytes: number }>();
  for (
    const item of (JSON.parse(stdout) as { nftables: { counter?: { name: string; packets: number; bytes: number } }[] })
      .nftables
  ) {
    if (item.counter) counters.set(item.counter.name, item.counter);
  }
  const into = counters.get("page_in");
  const out = counters.get("page_out");
  if (!into || !out) throw new Error(`the link meter on ${phone.ns} is missing: call installLinkMeter first`);
  return {
    packets: into.packets + out.packets,
    bytes: into.bytes + out.bytes - ETHERNET_HEADER * out.packets,
  };
}
