// Prometheus text exposition (version 0.0.4) of the coordinator's view. Off by default; when on, it listens
// on loopback only, because it names every node of the deployment.
import http from "node:http";
import type { StatusReport } from "../fleet/status.js";

export interface Counters {
  pushes: { ok: number; failed: number };
  lastPushSeconds: number | null;
  pushSecondsSum: number;
  repairs: Map<string, number>;
}

export function newCounters(): Counters {
  return { pushes: { ok: 0, failed: 0 }, lastPushSeconds: null, pushSecondsSum: 0, repairs: new Map() };
}

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

export function exposition(status: StatusReport, reconnects: Map<string, number>, c: Counters): string {
  const out: string[] = [];
  const metric = (name: string, type: string, help: string, rows: [Record<string, string>, number][]) => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of rows) {
      const l = Object.entries(labels)
        .map(([k, v]) => `${k}="${esc(v)}"`)
        .join(",");
      out.push(`${name}${l ? `{${l}}` : ""} ${value}`);
    }
  };
  metric(
    "vmmeet_node_up",
    "gauge",
    "1 when the node's agent is connected.",
    status.nodes.map((n) => [{ node: n.node }, n.connected ? 1 : 0]),
  );
  metric(
    "vmmeet_node_generation_lag",
    "gauge",
    "Desired generation minus the generation the node applied.",
    status.nodes.map((n) => [{ node: n.node }, Math.max(0, n.generation.desired - n.generation.applied)]),
  );
  const states = ["unknown", "starting", "healthy", "degraded", "failed"];
  metric(
    "vmmeet_component_health",
    "gauge",
    "1 for the state each component is in.",
    status.nodes.flatMap((n) =>
      n.health.flatMap((h) =>
        states.map(
          (s) =>
            [{ node: n.node, component: h.component, state: s }, h.state === s ? 1 : 0] as [
              Record<string, string>,
              number,
            ],
        ),
      ),
    ),
  );
  metric("vmmeet_pushes_total", "counter", "Pushes by result.", [
    [{ result: "ok" }, c.pushes.ok],
    [{ result: "failed" }, c.pushes.failed],
  ]);
  metric("vmmeet_push_duration_seconds_sum", "counter", "Total seconds spent in pushes.", [
    [{}, c.pushSecondsSum],
  ]);
  metric("vmmeet_push_last_duration_seconds", "gauge", "Duration of the last push.", [
    [{}, c.lastPushSeconds ?? 0],
  ]);
  metric(
    "vmmeet_agent_reconnects_total",
    "counter",
    "Agent reconnections seen by this coordinator.",
    [...reconnects].map(([node, v]) => [{ node }, v]),
  );
  metric(
    "vmmeet_repairs_total",
    "counter",
    "Repairs reported by agents, by node and kind.",
    [...c.repairs].map(([key, v]) => {
      const [node, kind] = key.split("\u0000");
      return [{ node: node ?? "", kind: kind ?? "" }, v];
    }),
  );
  return `${out.join("\n")}\n`;
}

export function metricsServer(render: () => string): http.Server {
  return http.createServer((req, res) => {
    if (req.method !== "GET" || (req.url !== "/metrics" && req.url !== "/")) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(render());
  });
}
