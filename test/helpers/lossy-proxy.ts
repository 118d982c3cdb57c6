// A loopback TCP proxy between one agent and its coordinator, for link faults (these machines' kernels have
// no netem): each direction's bytes are delayed (latency), the whole link can stall for a while (nothing
// forwarded, nothing lost), connections can be cut at random (both sides destroyed), and the link can be
// cut off altogether (every connection destroyed, new ones refused at once). Seeded, so a run replays.
import { connect, createServer, type Server, type Socket } from "node:net";
import { backoffDelay, DEFAULT_BACKOFF } from "@vmmeet/node";
import type { Rng } from "./fuzz.js";

export interface LinkFaults {
  /** Added to every chunk, each direction (ms). */
  latencyMs: number;
  /** Per forwarded chunk: the chance that the link stalls, and for how long (ms, uniformly up to). */
  stallChance: number;
  stallMaxMs: number;
  /** Per forwarded chunk: the chance that the connection is cut. */
  cutChance: number;
}

export const CLEAN: LinkFaults = { latencyMs: 0, stallChance: 0, stallMaxMs: 0, cutChance: 0 };

export interface LossyProxy {
  port: number;
  /** Connections accepted so far (each is an agent's attempt). */
  readonly accepted: number;
  readonly cuts: number;
  faults: LinkFaults;
  /** Cut off: destroys every connection and refuses new ones until false again. */
  setCutOff(off: boolean): void;
  /**
   * Silent: a cable pulled. Connections stay open and nothing goes through either way (what is sent is
   * lost); new connections are accepted and get nothing either, until false again.
   */
  setSilent(silent: boolean): void;
  /** Cuts the connection at the next chunk going that way, which is lost. */
  cutOnNext(direction: "to-coordinator" | "to-agent"): void;
  /** Cuts every connection now (what is still on its way, delayed in the proxy, is lost with it). */
  cutNow(): void;
  close(): Promise<void>;
}

export async function lossyProxy(
  upstreamPort: number,
  r: Rng,
  faults: LinkFaults = CLEAN,
): Promise<LossyProxy> {
  const live = new Set<Socket>();
  let cutOff = false;
  let silent = false;
  let stalledUntil = 0;
  const cutNext = { "to-coordinator": false, "to-agent": false };
  const state = { accepted: 0, cuts: 0 };
  const proxy: LossyProxy = {
    port: 0,
    get accepted() {
      return state.accepted;
    },
    get cuts() {
      return state.cuts;
    },
    faults,
    cutOnNext(direction) {
      cutNext[direction] = true;
    },
    cutNow() {
      if (live.size === 0) return;
      state.cuts += 1;
      for (const s of live) s.destroy();
    },
    setSilent(on) {
      silent = on;
    },
    setCutOff(off) {
      cutOff = off;
      if (off) for (const s of live) s.destroy();
    },
    close: () =>
      new Promise<void>((res) => {
        for (const s of live) s.destroy();
        server.close(() => res());
      }),
  };
  // Half-open allowed on both sides: a connection's end (FIN) goes through like its bytes, one direction at a
  // time, after the bytes sent before it. (Closing the other side at once when one side closed lost an answer
  // that was still delayed in the proxy: an HTTP server's answer followed by its close, as in enrollment.)
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    state.accepted += 1;
    if (cutOff) {
      client.destroy();
      return;
    }
    const upstream = connect({ port: upstreamPort, host: "127.0.0.1", allowHalfOpen: true });
    live.add(client);
    live.add(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    for (const s of [client, upstream]) {
      // While silent, one side's end does not reach the other (a FIN or RST lost with everything else):
      // that side finds out by its own timeouts.
      s.on("error", () => {
        if (!silent) cut();
      });
    }
    // Each direction keeps its order: a chunk, or the end, leaves no earlier than the chunk before it.
    const pipe = (from: Socket, to: Socket, direction: keyof typeof cutNext) => {
      let lastAt = 0;
      const later = (send: () => void) => {
        const now = Date.now();
        const at = Math.max(now + proxy.faults.latencyMs, stalledUntil, lastAt);
        lastAt = at;
        setTimeout(() => {
          if (!to.destroyed) send();
        }, at - now);
      };
      from.on("data", (chunk: Buffer) => {
        if (silent) return;
        const f = proxy.faults;
        if (cutNext[direction] || r.next() < f.cutChance) {
          cutNext[direction] = false;
          state.cuts += 1;
          cut();
          return;
        }
        if (r.next() < f.stallChance)
          stalledUntil = Math.max(stalledUntil, Date.now() + r.next() * f.stallMaxMs);
        later(() => to.write(chunk));
      });
      from.on("end", () => {
        if (!silent) later(() => to.end());
      });
      from.on("close", () => {
        live.delete(from);
        // Gone without an end or an error (destroyed): the other side gets its end after what is on its way.
        if (!silent) later(() => to.end());
      });
    };
    pipe(client, upstream, "to-coordinator");
    pipe(upstream, client, "to-agent");
  });
  await new Promise<void>((res) => server.listen(0, "127.0.0.1", () => res()));
  proxy.port = (server.address() as { port: number }).port;
  return proxy;
}

/**
 * Connection attempts at most that the agent's backoff can make in `ms` (each wait at least half its step):
 * more would be a reconnect storm.
 */
export function attemptsWithin(ms: number): number {
  let n = 0;
  let spent = 0;
  while (spent <= ms) {
    // The shortest wait the agent's default backoff allows (its jitter takes off up to half of each step).
    spent += backoffDelay(n, DEFAULT_BACKOFF, () => 1);
    n += 1;
  }
  return n;
}
