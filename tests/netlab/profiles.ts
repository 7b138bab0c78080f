/**
 * Network profiles for one phone's link, and the firewall rules that make
 * them real. Pure: this module only builds rule text; lab.ts applies it.
 *
 * Every drop happens where a packet ENTERS a namespace (the phone's ingress,
 * or the router's ingress from that phone), never on egress: an egress drop
 * makes the sender's `sendto` fail, which no real network does, and Chromium
 * reacts to that error instead of to silence.
 * @module
 */

/** How a link goes down and up again on a schedule, for the `flaky` profile. */
export interface FlapSchedule {
  /** How long the link stays up between cuts. */
  upMs: number;
  /** How long each cut lasts. */
  downMs: number;
}

/** What a phone's link does to its traffic. */
export interface NetworkProfile {
  /** A name for logs and bench tables. */
  name: string;
  /** Delay added to each packet in EACH direction on the phone's link, so RTT to the server is twice this. */
  delayMs: number;
  /** Fraction (0..1) of packets arriving at the phone that are dropped (iptables `-m statistic` on INPUT). */
  lossRate: number;
  /** Drop all UDP both ways, as some mobile carriers and corporate Wi-Fi do; TCP (and TURN over TCP) still works. */
  blockUdp: boolean;
  /** Drop traffic to coturn (its port and relay ports), so the app must do without TURN. */
  blockTurn: boolean;
  /**
   * Allow only the server's own services: other phones and coturn's relay ports are unreachable and
   * cannot reach in, like two phones behind strict NATs, so ICE can only use relay-to-relay pairs.
   */
  blockPeers: boolean;
  /** Cut the link repeatedly while the profile is applied; null: never. */
  flap: FlapSchedule | null;
  /** Bandwidth of the phone's link (a `tbf` on each side's egress); absent: unlimited. */
  bandwidth?: Bandwidth;
}

/** A link's bandwidth in each direction, as Lighthouse's throttling presets give it. */
export interface Bandwidth {
  /** Toward the phone (the router's egress), kbit/s (1 kbit = 1000 bit). */
  downKbit: number;
  /** From the phone (the phone's egress), kbit/s. */
  upKbit: number;
}

/** The names of the preset profiles. */
export type ProfileName =
  | "lan"
  | "lossy-3g"
  | "udp-blocked"
  | "no-turn-udp-blocked"
  | "flaky"
  | "turn-only"
  | "turn-only-udp-blocked"
  | "slow-4g"
  | "regular-3g";

const CLEAN: Omit<NetworkProfile, "name"> = {
  delayMs: 0,
  lossRate: 0,
  blockUdp: false,
  blockTurn: false,
  blockPeers: false,
  flap: null,
};

/** The preset profiles; spread one to make a variant (`{ ...PROFILES.flaky, flap: {...} }`). */
export const PROFILES: Readonly<Record<ProfileName, Readonly<NetworkProfile>>> = {
  /** A clean link: host candidates connect directly. */
  "lan": { ...CLEAN, name: "lan" },
  /** About 300 ms RTT to the server and 3% loss of incoming packets. */
  "lossy-3g": { ...CLEAN, name: "lossy-3g", delayMs: 150, lossRate: 0.03 },
  /** All UDP dropped; TCP, including TURN over TCP, works. */
  "udp-blocked": { ...CLEAN, name: "udp-blocked", blockUdp: true },
  /** All UDP dropped and coturn unreachable: only the server's WebSocket relay can carry chat. */
  "no-turn-udp-blocked": { ...CLEAN, name: "no-turn-udp-blocked", blockUdp: true, blockTurn: true },
  /** A link cut for 2 s every 4 s. */
  "flaky": { ...CLEAN, name: "flaky", flap: { upMs: 4_000, downMs: 2_000 } },
  /** Phones cannot reach each other: only relay candidates (TURN over UDP) connect. */
  "turn-only": { ...CLEAN, name: "turn-only", blockPeers: true },
  /** Phones cannot reach each other and UDP is dropped: only TURN over TCP connects. */
  "turn-only-udp-blocked": { ...CLEAN, name: "turn-only-udp-blocked", blockPeers: true, blockUdp: true },
  /** Lighthouse's "Slow 4G": 150 ms RTT to the server, 1.6 Mbps down (1.6 x 1024 kbit), 750 kbps up. */
  "slow-4g": { ...CLEAN, name: "slow-4g", delayMs: 75, bandwidth: { downKbit: 1_638, upKbit: 750 } },
  /** Lighthouse's "Regular 3G" (300 ms RTT, 700 kbps both ways) with 3% loss of incoming packets. */
  "regular-3g": {
    ...CLEAN,
    name: "regular-3g",
    delayMs: 150,
    lossRate: 0.03,
    bandwidth: { downKbit: 700, upKbit: 700 },
  },
};

/** A preset name or a full profile. */
export type ProfileInput = ProfileName | NetworkProfile;

/** The profile a name or object stands for; throws on an unknown name. */
export function resolveProfile(profile: ProfileInput): NetworkProfile {
  if (typeof profile !== "string") return profile;
  const found = PROFILES[profile];
  if (!found) throw new Error(`unknown network profile "${profile}"; known: ${Object.keys(PROFILES).join(", ")}`);
  return found;
}

/** Where the rules of one phone link apply: names and addresses the lab chose. */
export interface LinkContext {
  /** The phone's interface, inside the phone namespace. */
  phoneIface: string;
  /** The router's interface toward this phone, inside the server namespace. */
  routerIface: string;
  /** The server's address (signaling and coturn). */
  serverAddress: string;
  /** coturn's STUN/TURN port. */
  turnPort: number;
  /** coturn's relay port range. */
  relayPorts: readonly [number, number];
  /** The NFQUEUE number the delay tool reads, inside the phone namespace. */
  queueNum: number;
}

/** The name of the nft table holding a link's profile rules (one per namespace side). */
export const PROFILE_TABLE = "netlab";
/** The name of the nft table that cuts a link while it exists. */
export const CUT_TABLE = "netlab_cut";

function table(name: string, iface: string, rules: string[]): string {
  const body = rules.map((rule) => `    iifname "${iface}" ${rule}\n`).join("");
  // Declaring the table first makes the delete valid when it does not exist yet: the swap is atomic.
  return `table inet ${name} {}\ndelete table inet ${name}\ntable inet ${name} {\n` +
    `  chain pre {\n    type filter hook prerouting priority -150; policy accept;\n${body}  }\n}\n`;
}

/** The nft script for the phone side of a link: what the phone refuses to receive. */
export function phoneNftScript(profile: NetworkProfile, link: LinkContext): string {
  const rules: string[] = [];
  const [lo, hi] = link.relayPorts;
  if (profile.blockUdp) rules.push("meta l4proto udp drop");
  if (profile.blockPeers) {
    rules.push(`ip saddr != ${link.serverAddress} drop`);
    // A relayed peer reaching this phone's host address straight from a relay port.
    rules.push(`ip saddr ${link.serverAddress} udp sport ${lo}-${hi} drop`);
  }
  return table(`${PROFILE_TABLE}_${link.phoneIface}`, link.phoneIface, rules);
}

/** The nft script for the router side of a link: what the network refuses to carry from the phone. */
export function routerNftScript(profile: NetworkProfile, link: LinkContext): string {
  const rules: string[] = [];
  const [lo, hi] = link.relayPorts;
  const server = link.serverAddress;
  if (profile.blockUdp) rules.push("meta l4proto udp drop");
  if (profile.blockTurn) {
    rules.push(`ip daddr ${server} meta l4proto { tcp, udp } th dport ${link.turnPort} drop`);
    rules.push(`ip daddr ${server} udp dport ${lo}-${hi} drop`);
  }
  if (profile.blockPeers) {
    rules.push(`ip daddr != ${server} drop`);
    // This phone's host address sending straight to a peer's relayed address.
    rules.push(`ip daddr ${server} udp dport ${lo}-${hi} drop`);
  }
  return table(`${PROFILE_TABLE}_${link.routerIface}`, link.routerIface, rules);
}

/** The nft script that cuts a link on one side while its table exists. */
export function cutNftScript(iface: string): string {
  return table(`${CUT_TABLE}_${iface}`, iface, ["drop"]);
}

/** The `iptables` argument lists (without `iptables`) for the phone side: loss, then the delay queue. */
export function phoneIptablesRules(profile: NetworkProfile, link: LinkContext): string[][] {
  const rules: string[][] = [];
  const i = link.phoneIface;
  if (profile.lossRate > 0) {
    rules.push([
      "-A",
      "INPUT",
      "-i",
      i,
      "-m",
      "statistic",
      "--mode",
      "random",
      "--probability",
      String(profile.lossRate),
      "-j",
      "DROP",
    ]);
  }
  if (profile.delayMs > 0) {
    const queue = ["-j", "NFQUEUE", "--queue-num", String(link.queueNum)];
    rules.push(["-A", "INPUT", "-i", i, ...queue]);
    rules.push(["-A", "OUTPUT", "-o", i, ...queue]);
  }
  return rules;
}

/**
 * Bucket of a bandwidth limit: two full-size frames, so a packet never waits for tokens it could not
 * get, and no burst of a page's worth of bytes passes at line rate (Lighthouse's throttling has none).
 */
export const SHAPER_BURST_BYTES = 3_028;
/** Longest a packet may wait in a shaper's queue before it is dropped: a deep buffer, as carriers have. */
export const SHAPER_LATENCY_MS = 2_000;

/**
 * The `tc` argument lists (without `tc`) that give `iface`'s egress `kbit` of bandwidth (a token bucket),
 * or remove any limit when `kbit` is absent. The first list deletes what was there (it may fail: none).
 */
export function shaperCommands(iface: string, kbit: number | undefined): { reset: string[]; set: string[] | null } {
  return {
    reset: ["qdisc", "del", "dev", iface, "root"],
    set: kbit === undefined ? null : [
      "qdisc",
      "add",
      "dev",
      iface,
      "root",
      "tbf",
      "rate",
      `${kbit}kbit`,
      "burst",
      String(SHAPER_BURST_BYTES),
      "latency",
      `${SHAPER_LATENCY_MS}ms`,
    ],
  };
}
