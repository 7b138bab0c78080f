/**
 * Admission of a `hello`: challenge-response against the room's verifier, the
 * registration of a new room's verifier, the squat check, and the optional
 * member proof. It decides; the verifier is written only by the join's commit,
 * which the hub runs once every limit has passed.
 * @module
 */
import { checkMemberProof } from "../protocol/admission.ts";
import { checkHelloProofNow } from "./server_crypto.ts";
import type { GroupPace } from "./group_pace.ts";
import { CLOSE } from "../protocol/codes.ts";
import type { HelloFrame } from "../protocol/frames.ts";
import type { JoinAdmission, JoinRefusal } from "./hub.ts";
import { metrics } from "./metrics.ts";
import type { RoomLog } from "./room_log.ts";
import type { SessionStore } from "./session_store.ts";

const refusals = metrics.counter("parley_admission_refused_total", "Hellos refused by admission, by reason.");

/** Why admission refused a hello (typed, for metrics and tests; the client sees the error code). */
export type AdmissionRefusalReason =
  /** The hello carried no proof. */
  | "no_proof"
  /** The proof does not match the room's verifier (wrong key, or a proof replayed from another nonce). */
  | "wrong_proof"
  /** The room has log entries or presence but no verifier: registering one would be a squat. */
  | "squat"
  /** The member signature does not verify. */
  | "bad_member"
  /** Another verifier was registered between the check and the write. */
  | "lost_race"
  /** The check itself failed (e.g. KV unavailable): `internal`, close 1011, retry later. */
  | "failed"
  /** A room without a verifier, past the address group's pace of such hellos (`budget_exceeded`, close 4429). */
  | "paced";

/** What admission decided. */
export type AdmissionDecision =
  /** Admitted: join with this, whose commit writes (or refreshes) the verifier once every limit passed. */
  | { kind: "admit"; admission: JoinAdmission }
  /** A new room and no `verifier` in the hello: ask for it (the socket stays open, same nonce). */
  | { kind: "verifier_required" }
  /** Refused: send the error and close. */
  | { kind: "refuse"; reason: AdmissionRefusalReason; refusal: JoinRefusal };

/** The refusal of a network past its new-room pace: `budget_exceeded`, close 4429. */
function paced(): AdmissionDecision & { kind: "refuse" } {
  refusals.inc({ reason: "paced" });
  const message = "this address opens new rooms too fast; retry later";
  return {
    kind: "refuse",
    reason: "paced",
    refusal: { ok: false, code: "budget_exceeded", message, close: CLOSE.TOO_MANY_ROOMS },
  };
}

function refused(reason: AdmissionRefusalReason, message: string): AdmissionDecision & { kind: "refuse" } {
  refusals.inc({ reason });
  const refusal: JoinRefusal = reason === "bad_member"
    ? { ok: false, code: "bad_frame", message, close: CLOSE.BAD_REQUEST }
    : { ok: false, code: "admission_refused", message, close: CLOSE.ADMISSION_REFUSED };
  return { kind: "refuse", reason, refusal };
}

/** Decides whether a hello is admitted to its room. */
export class Admission {
  #store: SessionStore;
  #log: RoomLog;
  #newRoom: GroupPace | undefined;

  /**
   * Reads verifiers and presence from `store`, log bounds from `log`; `newRoom`, when given, paces
   * hellos to rooms without a verifier per network (see group_pace.ts).
   */
  constructor(store: SessionStore, log: RoomLog, newRoom?: GroupPace) {
    this.#store = store;
    this.#log = log;
    this.#newRoom = newRoom;
  }

  /** Checks `hello`, sent on the connection whose challenge was `nonce`, for `room`, from network `group` (its pace). */
  async decide(room: string, nonce: string, hello: HelloFrame, group = ""): Promise<AdmissionDecision> {
    const proof = hello.proof;
    if (proof === undefined) return refused("no_proof", "hello needs a proof of the room key");
    // A network that has spent its new-room pace is refused before a verifier lookup that needs KV (a room not
    // remembered here may be made up): hellos to made-up rooms would otherwise cost a KV read each, without end.
    if (this.#newRoom && !this.#newRoom.has(group) && !this.#store.knowsVerifier(room)) return paced();
    const verifier = await this.#store.verifier(room);
    if (verifier !== null) {
      if (!checkHelloProofNow(verifier, room, nonce, proof)) {
        return refused("wrong_proof", "the proof does not match the room's verifier");
      }
      return await this.#admit(room, nonce, hello, async () => {
        if (await this.#store.refreshVerifier(room, verifier)) return null;
        return refused("lost_race", "the room's verifier changed; reconnect").refusal;
      });
    }
    // No verifier: a new room, or none at all. Paced per network before the KV work that tells them apart.
    if (this.#newRoom && !this.#newRoom.take(group)) return paced();
    if (await this.#hasData(room)) return refused("squat", "the room has data but no verifier");
    const mine = hello.verifier;
    if (mine === undefined) return { kind: "verifier_required" };
    if (!checkHelloProofNow(mine, room, nonce, proof)) {
      return refused("wrong_proof", "the proof does not match the verifier");
    }
    return await this.#admit(room, nonce, hello, async () => {
      // Atomic: registers only if the room still has no verifier; of two creators racing, one wins.
      if (await this.#store.registerVerifier(room, mine) === mine) return null;
      return refused("lost_race", "another verifier was registered for this room").refusal;
    }, true);
  }

  async #admit(
    room: string,
    nonce: string,
    hello: HelloFrame,
    commit: () => Promise<JoinRefusal | null>,
    registers = false,
  ): Promise<AdmissionDecision> {
    if (hello.member === undefined) return { kind: "admit", admission: { commit, registers } };
    const member = await checkMemberProof(hello.member, room, nonce);
    if (member === null) return refused("bad_member", "the member signature does not verify");
    return { kind: "admit", admission: { member, commit, registers } };
  }

  /** Whether the room holds anything: presence that still counts, or log entries still kept. */
  async #hasData(room: string): Promise<boolean> {
    if ((await this.#store.roster(room)).length > 0) return true;
    return (await this.#log.readAfter(room, 0, 1)).entries.length > 0;
  }
}
