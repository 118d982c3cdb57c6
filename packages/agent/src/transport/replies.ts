// The answers to the coordinator's desired states, kept so that none is applied twice. When the link drops
// during an apply, the coordinator sends the same frame (same id) again on the next link (shared
// protocol/requests.ts RESENT_ON_RECONNECT). Such a resend is answered here, never handed to the apply engine
// again: from the answer kept when that apply ended (sent or lost with the link), or, while it still runs,
// by the answer it sends when it ends (on whichever link is open then). Another request for the very state an
// apply is busy with (the catch-up a reconnect brings beside the resend) gets a copy of that answer. A desired
// state of a new request for a generation already applied is applied again, as it should be: the
// coordinator's heal schedule re-pushes the generation in force to restore drifted files.
//
// Kept in memory, the last KEPT_ANSWERS requests: a resend comes within the request's timeout (minutes), and
// an agent restart enforces its persisted state anew anyway.
import { sha256 } from "@vmmeet/node";
import type { AgentToCoordinator, CoordinatorToAgent } from "@vmmeet/shared";

export const KEPT_ANSWERS = 16;

type DesiredFrame = Extract<CoordinatorToAgent, { type: "desired" }>;
type ApplyResultFrame = Extract<AgentToCoordinator, { type: "apply-result" }>;

interface Kept {
  generation: number;
  /** sha256 of the desired state: an id reused with another state (another coordinator) is a new request. */
  digest: string;
  /** The apply's answer once it went out (null while the apply runs). */
  answer: ApplyResultFrame | null;
  /** The request whose apply answers this one too (a request that came while that apply ran). */
  joined?: string;
}

/** What to do with a desired frame. */
export type DesiredSeen =
  | { kind: "apply" }
  /** A resend of an apply that ended: send this again. */
  | { kind: "answer"; frame: ApplyResultFrame }
  /** The apply it repeats runs still: its answer goes out when it ends (to this request too). */
  | { kind: "running"; request: string };

export class ApplyAnswers {
  readonly #kept = new Map<string, Kept>();

  /** A desired frame arrived: to apply, or a repeat of an apply kept here. */
  seen(frame: DesiredFrame): DesiredSeen {
    const digest = sha256(JSON.stringify(frame.desired));
    const same = (k: Kept) => k.generation === frame.generation && k.digest === digest;
    const kept = this.#kept.get(frame.id);
    if (kept && same(kept)) {
      if (kept.answer) return { kind: "answer", frame: kept.answer };
      return { kind: "running", request: kept.joined ?? frame.id };
    }
    const running = [...this.#kept].find(([, k]) => k.answer === null && k.joined === undefined && same(k));
    this.#keep(frame.id, {
      generation: frame.generation,
      digest,
      answer: null,
      ...(running ? { joined: running[0] } : {}),
    });
    return running ? { kind: "running", request: running[0] } : { kind: "apply" };
  }

  /**
   * An answer goes out (or would, the link being down): kept for its request. Returns the copies owed to
   * the requests that joined its apply, each with its own replyTo.
   */
  answered(frame: AgentToCoordinator): ApplyResultFrame[] {
    if (frame.type !== "apply-result") return [];
    const kept = this.#kept.get(frame.replyTo);
    if (!kept || kept.answer !== null || kept.joined !== undefined) return [];
    kept.answer = frame;
    const copies: ApplyResultFrame[] = [];
    for (const [id, k] of this.#kept)
      if (k.joined === frame.replyTo && k.answer === null) {
        k.answer = { ...frame, replyTo: id };
        copies.push(k.answer);
      }
    return copies;
  }

  /**
   * What an apply did was undone after its answer was made (pf's confirm window ran out and the rules of
   * before are back): a resend of that request must not say the generation holds. Its kept answers become
   * this failure, so the push that sent it fails and rolls back as it did before resends existed.
   */
  revoke(generation: number, error: string): void {
    for (const k of this.#kept.values())
      if (k.generation === generation && k.answer?.ok) k.answer = { ...k.answer, ok: false, error };
  }

  #keep(id: string, kept: Kept): void {
    this.#kept.delete(id);
    this.#kept.set(id, kept);
    for (const old of this.#kept.keys()) {
      if (this.#kept.size <= KEPT_ANSWERS) break;
      this.#kept.delete(old);
    }
  }
}
