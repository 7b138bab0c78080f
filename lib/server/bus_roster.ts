/**
 * Which server instances of a deployment exist, and which of them
 * BroadcastChannel does not reach: what the automatic bus (`bus_auto.ts`)
 * needs to know to turn the Deno KV bus on only when it is needed.
 *
 * - Every instance holds a **lease** in KV, `[ns, channel, "i", id]` →
 *   `{ until, listening }`, renewed every `renewMs` and dropped on close.
 *   `listening` says its KV bus is open, so others may publish to it there.
 * - Instances **answer each other over BroadcastChannel** (the group bus,
 *   control envelopes on the empty room): a new instance says `hi` and those
 *   that hear it answer `here`; a leased instance not heard from yet gets a
 *   `probe`. One that has not answered within `probeMs` is **remote**: it
 *   runs in another process, region or isolate. Any later word from it over
 *   BroadcastChannel makes it local again, so a slow answer costs KV traffic,
 *   never a lost message.
 * - The leases are read every `scanMs`, and at once when `kv.watch` of the
 *   roster key (bumped on every start, stop and `listening` change) reports
 *   another instance's write, which it does on Deno Deploy. Local SQLite does
 *   not report other processes' writes, so there the scan is what finds them.
 *   While a remote instance is not listening yet, the leases are read every
 *   `settleScanMs`, so held messages go out soon after it is.
 * @module
 */
import type { Bus, BusEnvelope } from "./bus.ts";
import { DEFAULT_BUS_CHANNEL } from "./bus_broadcast.ts";
import { retryKvBusy } from "./kv_busy.ts";

/** The room of control envelopes on the group bus: no room id is empty, so hubs ignore them. */
export const CONTROL_ROOM = "";

/** What instances say to each other over the group bus. */
type Control =
  /** I started: whoever hears this, answer. */
  | { k: "hi" }
  /** I exist, and BroadcastChannel carries my words to you. */
  | { k: "here" }
  /** The instances listed: answer if you hear this. */
  | { k: "probe"; ids: string[] }
  /** I am stopping. */
  | { k: "bye" };

/** One instance's lease as stored. */
interface Lease {
  /** When it stops counting unless renewed, ms since the epoch. */
  until: number;
  /** Whether the instance reads the KV bus. */
  listening: boolean;
}

/** The clock and timers the roster runs on; injectable for tests. */
export interface RosterClock {
  /** The current time, ms since the epoch. */
  now(): number;
  /** Runs `fn` after `ms`. */
  setTimeout(fn: () => void, ms: number): ReturnType<typeof setTimeout>;
  /** Cancels a timer. */
  clearTimeout(timer: ReturnType<typeof setTimeout> | undefined): void;
}

/** The real clock. */
export const SYSTEM_CLOCK: RosterClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (timer) => clearTimeout(timer),
};

/** Timings of the roster; every field has a default in `ROSTER_DEFAULTS`. */
export interface RosterTimings {
  /** How long a lease lasts without renewal, ms: a crashed instance stops counting after this. */
  leaseMs: number;
  /** How often an instance renews its lease, ms: one KV write each time. */
  renewMs: number;
  /** How often the leases are read, ms: the discovery delay where `kv.watch` does not see other writers. */
  scanMs: number;
  /** How often they are read while a remote instance is not listening yet, ms. */
  settleScanMs: number;
  /** How long an instance has to answer a probe over BroadcastChannel before it counts as remote, ms. */
  probeMs: number;
}

/** The defaults: per instance-hour, 120 lease writes and about 360 scans when nothing changes. */
export const ROSTER_DEFAULTS: Readonly<RosterTimings> = Object.freeze({
  leaseMs: 90_000,
  renewMs: 30_000,
  scanMs: 10_000,
  settleScanMs: 500,
  probeMs: 500,
});

/** Options of the roster. */
export interface InstanceRosterOptions extends Partial<RosterTimings> {
  /** The KV every instance of the deployment shares. */
  kv: Deno.Kv;
  /** The bus reaching the instances BroadcastChannel reaches; its instance id is this instance's. */
  group: Bus;
  /** The deployment's name: instances of another deployment sharing the KV stay apart. */
  channel?: string;
  /** First key part, so the roster can share a KV with the room log and the KV bus. */
  namespace?: string;
  /** Whether to watch the roster key; off, only scans find other instances. */
  watch?: boolean;
  /** The clock and timers. */
  clock?: RosterClock;
  /** Called when the remote instances, or whether they listen, change. */
  onChange?: () => void;
  /** Where background failures go (a lease write or a scan that failed is retried on the next turn). */
  onError?: (error: unknown, context: string) => void;
}

/** The deployment's instances as one instance sees them. */
export class InstanceRoster {
  /** This instance's id (the group bus's). */
  readonly instanceId: string;
  #kv: Deno.Kv;
  #group: Bus;
  #timings: RosterTimings;
  #clock: RosterClock;
  #watchEnabled: boolean;
  #onChange: () => void;
  #onError: (error: unknown, context: string) => void;
  #prefix: Deno.KvKey;
  #leaseKey: Deno.KvKey;
  #rosterKey: Deno.KvKey;
  /** Other instances' live leases, as of the last scan. */
  #leases = new Map<string, Lease>();
  /** Instances heard over the group bus. */
  #heard = new Set<string>();
  /** Instances probed and not heard yet, with when they were first probed. */
  #probed = new Map<string, number>();
  /** Leased instances that never answered over the group bus. */
  #remotes = new Set<string>();
  /** Since when each remote instance has been seen not listening. */
  #notListeningSince = new Map<string, number>();
  /** Instances whose roster-key writes `kv.watch` reported. */
  #watchSaw = new Set<string>();
  #listening = false;
  /** The next quiet scan interval: doubles up to `scanMs`, back to `settleScanMs` on any change. */
  #backoffMs: number;
  #unsubscribe: () => void;
  #scanTimer: ReturnType<typeof setTimeout> | undefined;
  #probeTimer: ReturnType<typeof setTimeout> | undefined;
  #renewTimer: ReturnType<typeof setTimeout> | undefined;
  #scanning: Promise<void> | null = null;
  #scanAgain = false;
  #watch: ReadableStreamDefaultReader<Deno.KvEntryMaybe<unknown>[]> | null = null;
  #watching: Promise<void> | null = null;
  #probesSettled: (() => void) | null = null;
  #closed = false;

  /** Builds the roster; `start()` announces this instance. */
  constructor(options: InstanceRosterOptions) {
    this.#kv = options.kv;
    this.#group = options.group;
    this.instanceId = options.group.instanceId;
    this.#timings = {
      leaseMs: options.leaseMs ?? ROSTER_DEFAULTS.leaseMs,
      renewMs: options.renewMs ?? ROSTER_DEFAULTS.renewMs,
      scanMs: options.scanMs ?? ROSTER_DEFAULTS.scanMs,
      settleScanMs: options.settleScanMs ?? ROSTER_DEFAULTS.settleScanMs,
      probeMs: options.probeMs ?? ROSTER_DEFAULTS.probeMs,
    };
    this.#backoffMs = this.#timings.settleScanMs;
    this.#clock = options.clock ?? SYSTEM_CLOCK;
    this.#watchEnabled = options.watch ?? true;
    this.#onChange = options.onChange ?? (() => {});
    this.#onError = options.onError ?? ((error, context) => console.error(`bus roster: ${context}:`, error));
    const ns = options.namespace ?? "bus_roster";
    const channel = options.channel ?? DEFAULT_BUS_CHANNEL;
    this.#prefix = [ns, channel, "i"];
    this.#leaseKey = [ns, channel, "i", this.instanceId];
    this.#rosterKey = [ns, channel, "roster"];
    this.#unsubscribe = this.#group.subscribe((envelope) => this.#onGroup(envelope));
  }

  /** Instances that hold a lease and never answered over BroadcastChannel. */
  get remotes(): ReadonlySet<string> {
    return this.#remotes;
  }

  /** Whether this instance's lease says it reads the KV bus. */
  get listening(): boolean {
    return this.#listening;
  }

  /** Whether `id` was heard over the group bus: it gets every message there, so not over KV. */
  isGroup(id: string): boolean {
    return this.#heard.has(id);
  }

  /** Whether every remote instance reads the KV bus (true when there is none). */
  allRemotesListening(): boolean {
    for (const id of this.#remotes) if (!this.#leases.get(id)?.listening) return false;
    return true;
  }

  /** Whether `kv.watch` reported a write by some remote instance: then it wakes readers here. */
  watchSeesRemotes(): boolean {
    for (const id of this.#remotes) if (this.#watchSaw.has(id)) return true;
    return false;
  }

  /**
   * Announces this instance (a `hi` over the group bus and a lease in KV),
   * reads the leases, and resolves once every instance found has answered or
   * had `probeMs` to.
   */
  async start(): Promise<void> {
    this.#say({ k: "hi" });
    await this.#writeLease(true);
    if (this.#watchEnabled) this.#watching = this.#watchRoster();
    const settled = new Promise<void>((resolve) => this.#probesSettled = resolve);
    await this.#scanNow();
    if (this.#probed.size === 0) this.#settleProbes();
    await settled;
    this.#scheduleRenew();
  }

  /** Records in the lease whether this instance reads the KV bus, and tells the others. */
  async setListening(listening: boolean): Promise<void> {
    if (this.#listening === listening || this.#closed) return;
    this.#listening = listening;
    await this.#writeLease(true);
  }

  /** Stops: says `bye`, drops the lease, and stops reading. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const timer of [this.#scanTimer, this.#probeTimer, this.#renewTimer]) this.#clock.clearTimeout(timer);
    this.#settleProbes();
    this.#say({ k: "bye" });
    this.#unsubscribe();
    await this.#scanning;
    try {
      await retryKvBusy(() =>
        this.#kv.atomic().delete(this.#leaseKey).set(this.#rosterKey, { by: this.instanceId }).commit()
      );
    } catch (error) {
      this.#onError(error, "dropping the lease (it runs out by itself)");
    }
    if (this.#watch) await this.#watch.cancel().catch(() => {});
    await this.#watching;
  }

  #say(control: Control): void {
    if (this.#closed && control.k !== "bye") return;
    try {
      this.#group.publish(CONTROL_ROOM, control);
    } catch (error) {
      this.#onError(error, `saying ${control.k}`);
    }
  }

  #onGroup(envelope: BusEnvelope): void {
    if (this.#closed) return;
    const id = envelope.origin;
    let changed = false;
    if (!this.#heard.has(id)) {
      this.#heard.add(id);
      changed = this.#remotes.delete(id);
      this.#notListeningSince.delete(id);
      if (this.#probed.delete(id) && this.#probed.size === 0) this.#settleProbes();
    }
    if (envelope.room === CONTROL_ROOM) {
      const control = envelope.body as Control;
      if (control.k === "hi" || (control.k === "probe" && control.ids?.includes(this.instanceId))) {
        this.#say({ k: "here" });
      } else if (control.k === "bye") {
        this.#heard.delete(id);
        this.#leases.delete(id);
      }
    }
    if (changed) this.#changed();
  }

  #changed(): void {
    this.#backoffMs = this.#timings.settleScanMs;
    try {
      this.#onChange();
    } catch (error) {
      this.#onError(error, "a change handler threw");
    }
  }

  /** Writes this instance's lease, and bumps the roster key when others should look now. */
  async #writeLease(bump: boolean): Promise<void> {
    const lease: Lease = { until: this.#clock.now() + this.#timings.leaseMs, listening: this.#listening };
    try {
      await retryKvBusy(() => {
        const atomic = this.#kv.atomic().set(this.#leaseKey, lease, { expireIn: 2 * this.#timings.leaseMs });
        if (bump) atomic.set(this.#rosterKey, { by: this.instanceId });
        return atomic.commit();
      });
    } catch (error) {
      this.#onError(error, "writing the lease");
    }
  }

  #scheduleRenew(): void {
    if (this.#closed) return;
    this.#renewTimer = this.#clock.setTimeout(async () => {
      await this.#writeLease(false);
      this.#scheduleRenew();
    }, this.#timings.renewMs);
  }

  #scheduleScan(): void {
    if (this.#closed) return;
    this.#clock.clearTimeout(this.#scanTimer);
    this.#scanTimer = this.#clock.setTimeout(() => void this.#scanNow(), this.#nextScanMs());
  }

  /**
   * Scans at the settle rate while a remote instance is not listening (for at most a lease's
   * time); otherwise at intervals doubling from the settle rate to `scanMs` after the start and
   * after every change, since instances tend to come and go together (a process manager starting
   * several, a rolling restart).
   */
  #nextScanMs(): number {
    const now = this.#clock.now();
    for (const since of this.#notListeningSince.values()) {
      if (now - since < this.#timings.leaseMs) return this.#timings.settleScanMs;
    }
    const next = this.#backoffMs;
    this.#backoffMs = Math.min(this.#timings.scanMs, next * 2);
    return Math.min(this.#timings.scanMs, next);
  }

  /** Reads the leases now, or right after the scan in flight. */
  #scanNow(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#scanning) {
      this.#scanAgain = true;
      return this.#scanning;
    }
    this.#scanning = (async () => {
      do {
        this.#scanAgain = false;
        try {
          await retryKvBusy(() => this.#scan());
        } catch (error) {
          if (!this.#closed) this.#onError(error, "reading the leases");
        }
      } while (this.#scanAgain && !this.#closed);
      this.#scanning = null;
      this.#scheduleScan();
    })();
    return this.#scanning;
  }

  async #scan(): Promise<void> {
    const leases = new Map<string, Lease>();
    for await (const entry of this.#kv.list<Lease>({ prefix: this.#prefix })) {
      const id = entry.key[entry.key.length - 1] as string;
      if (id !== this.instanceId && entry.value.until > this.#clock.now()) leases.set(id, entry.value);
    }
    if (this.#closed) return;
    const now = this.#clock.now();
    let changed = false;
    for (const id of this.#leases.keys()) {
      if (leases.has(id)) continue;
      // Gone (stopped, or its lease ran out): forget it everywhere.
      this.#heard.delete(id);
      this.#probed.delete(id);
      this.#notListeningSince.delete(id);
      this.#watchSaw.delete(id);
      if (this.#remotes.delete(id)) changed = true;
    }
    for (const [id, lease] of leases) {
      if (this.#remotes.has(id) && lease.listening !== this.#leases.get(id)?.listening) changed = true;
    }
    for (const id of leases.keys()) if (!this.#leases.has(id)) this.#backoffMs = this.#timings.settleScanMs;
    this.#leases = leases;
    const probe: string[] = [];
    for (const id of leases.keys()) {
      if (this.#heard.has(id)) continue;
      // Remote ones are asked again too: an answer, however late, makes them local.
      probe.push(id);
      if (!this.#remotes.has(id) && !this.#probed.has(id)) this.#probed.set(id, now);
    }
    this.#trackListening(now);
    if (probe.length) this.#say({ k: "probe", ids: probe });
    if (this.#probed.size) this.#scheduleProbeCheck();
    if (changed) this.#changed();
  }

  #trackListening(now: number): void {
    for (const id of this.#remotes) {
      if (this.#leases.get(id)?.listening) this.#notListeningSince.delete(id);
      else if (!this.#notListeningSince.has(id)) this.#notListeningSince.set(id, now);
    }
  }

  #scheduleProbeCheck(): void {
    if (this.#probeTimer !== undefined || this.#closed) return;
    const oldest = Math.min(...this.#probed.values());
    const wait = Math.max(0, oldest + this.#timings.probeMs - this.#clock.now());
    this.#probeTimer = this.#clock.setTimeout(() => {
      this.#probeTimer = undefined;
      this.#checkProbes();
    }, wait);
  }

  /** Instances that had `probeMs` to answer and did not are remote. */
  #checkProbes(): void {
    if (this.#closed) return;
    const now = this.#clock.now();
    let changed = false;
    for (const [id, since] of this.#probed) {
      if (now - since < this.#timings.probeMs) continue;
      this.#probed.delete(id);
      if (this.#leases.has(id) && !this.#heard.has(id)) {
        this.#remotes.add(id);
        changed = true;
      }
    }
    this.#trackListening(now);
    if (this.#probed.size) this.#scheduleProbeCheck();
    else this.#settleProbes();
    if (changed) {
      this.#scheduleScan();
      this.#changed();
    }
  }

  #settleProbes(): void {
    this.#probesSettled?.();
    this.#probesSettled = null;
  }

  /** Reads the leases whenever `kv.watch` reports a change of the roster key. */
  async #watchRoster(): Promise<void> {
    try {
      this.#watch = this.#kv.watch([this.#rosterKey]).getReader();
      let first = true;
      for (;;) {
        const { done, value } = await this.#watch.read();
        if (done || this.#closed) return;
        // The first report is the value as it was: news only from the second on.
        if (first) {
          first = false;
          continue;
        }
        const by = (value[0]?.value as { by?: unknown } | null)?.by;
        if (typeof by === "string" && by !== this.instanceId) this.#watchSaw.add(by);
        void this.#scanNow();
      }
    } catch (error) {
      if (!this.#closed) this.#onError(error, "watching the roster");
    }
  }
}
