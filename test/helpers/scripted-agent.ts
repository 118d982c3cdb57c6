// A scripted agent: speaks the real protocol over a real websocket but applies nothing. Tests use it to drive
// the coordinator through rollouts, gates and failures, and to misbehave on purpose (never answer, fail an
// apply, report a failed component). Not a simulator of a VM: the agent daemon tests use real agents.
import { entryDigest } from "@vmmeet/node";
import {
  type ComponentHealth,
  type CoordinatorToAgent,
  decodeCoordinatorFrame,
  type NodeDesired,
  type NodeStatus,
  PROTOCOL_VERSION,
} from "@vmmeet/shared";
import WebSocket from "ws";

export interface Script {
  /** Health the agent reports after applying a desired state. */
  health?: (desired: NodeDesired, generation: number) => NodeStatus["health"];
  /** Fail the apply of these generations. */
  failApply?: (generation: number) => string | null;
  /** Never answer desired frames. */
  silent?: boolean;
}

export class ScriptedAgent {
  ws: WebSocket | null = null;
  generation = 0;
  desired: NodeDesired | null = null;
  received: CoordinatorToAgent[] = [];
  closedWith: number | null = null;
  welcomed = false;

  constructor(
    readonly url: string,
    readonly node: string,
    public script: Script = {},
  ) {}

  status(): NodeStatus {
    const d = this.desired;
    return {
      generation: this.generation,
      applying: null,
      files: (d?.files ?? []).map((f) => ({
        path: f.path,
        sha256: entryDigest(f),
        mode: f.mode,
        owner: f.owner,
        group: f.group,
      })),
      services: (d?.services ?? []).map((s) => ({
        name: s.name,
        enabled: true,
        running: true,
        flags: s.flags,
        state: "ok" as const,
        restarts: 0,
      })),
      health: d && this.script.health ? this.script.health(d, this.generation) : [],
      metrics: null,
    };
  }

  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.on("open", () =>
        ws.send(
          JSON.stringify({
            type: "hello",
            protocol: PROTOCOL_VERSION,
            node: this.node,
            role: null,
            agentVersion: "scripted",
            generation: this.generation,
          }),
        ),
      );
      ws.on("error", reject);
      ws.on("close", (code) => {
        this.closedWith = code;
        resolve();
      });
      ws.on("message", (data) => {
        const res = decodeCoordinatorFrame(data.toString());
        if (!res.ok) return;
        const f = res.frame;
        this.received.push(f);
        if (f.type === "welcome") {
          this.welcomed = true;
          ws.send(JSON.stringify({ type: "snapshot", status: this.status() }));
          resolve();
        } else if (f.type === "desired" && !this.script.silent) {
          this.answer(f);
        } else if (f.type === "repair") {
          // A cross-node repair: a scripted agent says it restarted the service (unless told to be silent).
          if (this.script.silent) return;
          const managed = this.desired?.services.some((s) => s.name === f.service) ?? false;
          ws.send(
            JSON.stringify({
              type: "apply-result",
              replyTo: f.id,
              generation: this.generation,
              ok: managed,
              unchanged: !managed,
              items: [{ kind: "service", target: f.service, status: managed ? "restarted" : "refused" }],
            }),
          );
        } else if (f.type === "ping") {
          ws.send(JSON.stringify({ type: "pong", replyTo: f.id, sentAt: f.sentAt }));
        }
      });
    });
  }

  /** Applies a desired frame as the script says and answers it (also one held back while silent). */
  answer(f: Extract<CoordinatorToAgent, { type: "desired" }>): void {
    const fail = this.script.failApply?.(f.generation) ?? null;
    if (!fail) {
      const unchanged = JSON.stringify(this.desired) === JSON.stringify(f.desired);
      this.desired = f.desired;
      this.generation = f.generation;
      this.ws?.send(
        JSON.stringify({
          type: "apply-result",
          replyTo: f.id,
          generation: f.generation,
          ok: true,
          unchanged,
          items: [],
        }),
      );
    } else {
      this.ws?.send(
        JSON.stringify({
          type: "apply-result",
          replyTo: f.id,
          generation: f.generation,
          ok: false,
          unchanged: false,
          items: [{ kind: "service", target: "x", status: "failed", detail: fail }],
          error: fail,
        }),
      );
    }
    this.ws?.send(JSON.stringify({ type: "snapshot", status: this.status() }));
  }

  /** Re-sends the status (after a test changed the script). */
  report(): void {
    this.ws?.send(JSON.stringify({ type: "snapshot", status: this.status() }));
  }

  close(): void {
    this.ws?.terminate();
  }
}

export function healthy(
  component: ComponentHealth["component"],
  extra: Partial<ComponentHealth> = {},
): ComponentHealth {
  return {
    component,
    state: "healthy",
    explain: "scripted",
    since: new Date().toISOString(),
    signals: [],
    ...extra,
  };
}

/** The bridges of a deployment as the jicofo node's rendered /etc/hosts names them (jvb, jvb2, ...). */
function bridgesIn(desired: NodeDesired): string[] {
  const hosts = desired.files.find((f) => f.path === "/etc/hosts")?.content ?? "";
  return [...hosts.matchAll(/^\S+\s+(jvb\d*)\b/gm)].map((m) => m[1]!).sort();
}

/**
 * Health as a well-behaved deployment reports it: every component healthy, and jicofo seeing every bridge of
 * the spec, joined at the moment of the report (a real jicofo logs the join after a bridge's restart).
 */
export function goodHealth(desired: NodeDesired): ComponentHealth[] {
  switch (desired.role) {
    case "xmpp":
      return [healthy("prosody")];
    case "web":
      return [healthy("nginx")];
    case "jicofo": {
      const bridges = bridgesIn(desired);
      const now = new Date().toISOString();
      return [healthy("jicofo", { bridges, bridgesSince: Object.fromEntries(bridges.map((b) => [b, now])) })];
    }
    case "jvb":
      return [healthy("jvb")];
    default:
      return [];
  }
}
