import { formatSkew } from "../../fleet/clock.js";
import type { StatusReport } from "../../fleet/status.js";
import { adminSocketPath, call } from "../admin.js";
import { BOOLEAN, parse, STRING, str } from "../args.js";
import { type Command, EXIT, type Io } from "../io.js";

function age(iso: string | null, now: number): string {
  if (!iso) return "never";
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  return s < 120 ? `${s}s ago` : s < 7200 ? `${Math.round(s / 60)}m ago` : `${Math.round(s / 3600)}h ago`;
}

const bytes = (n: number) =>
  n >= 1 << 30 ? `${(n / (1 << 30)).toFixed(1)}G` : `${Math.round(n / (1 << 20))}M`;

export function formatStatus(r: StatusReport): string {
  const now = Date.parse(r.at);
  const lines: string[] = [];
  lines.push(
    `deployment: ${r.verdict.verdict}${r.verdict.reasons.length ? ` (${r.verdict.reasons.join("; ")})` : ""}`,
  );
  if (r.alarm) lines.push(`ALARM: down since ${r.alarm.since}: ${r.alarm.reasons.join("; ")}`);
  lines.push(
    `desired generation ${r.desiredGeneration}${r.pushRunning ? `, push of ${r.pushRunning.generation} by ${r.pushRunning.by} running` : ""}`,
  );
  for (const n of r.nodes) {
    const link = n.connected ? "connected" : `last seen ${age(n.lastSeen, now)}`;
    const gen =
      n.generation.applied === n.generation.desired
        ? `gen ${n.generation.applied}`
        : `gen ${n.generation.applied}/${n.generation.desired} (behind)`;
    // The skew is shown once it exceeds its own measuring bound by a second (a VM that keeps time does not).
    const skew =
      n.clock && Math.abs(n.clock.skewMs) - n.clock.uncertaintyMs > 1000
        ? `, clock ${formatSkew(n.clock.skewMs)} ours (±${n.clock.uncertaintyMs} ms)`
        : "";
    lines.push(`${n.node.padEnd(10)} ${n.role.padEnd(7)} ${link.padEnd(20)} ${gen}${skew}`);
    if (n.clock?.warning) lines.push(`  WARNING: ${n.clock.warning}`);
    for (const s of n.services) {
      lines.push(
        `  service ${s.name.padEnd(10)} ${s.state}${s.running ? "" : " (not running)"}${s.restarts ? `, ${s.restarts} restarts` : ""}${s.detail ? `: ${s.detail}` : ""}`,
      );
    }
    for (const h of n.health) {
      lines.push(
        `  ${h.component.padEnd(16)} ${h.state} for ${h.ageSeconds}s: ${h.explain}${h.bridges ? ` [bridges: ${h.bridges.join(", ") || "none"}]` : ""}`,
      );
      if (h.fix && h.state !== "healthy") lines.push(`    fix: ${h.fix}`);
      for (const sig of h.signals.filter((s) => s.label !== "info").slice(-3)) {
        lines.push(
          `    ${sig.label.padEnd(8)} ${sig.signal} ${age(sig.at, now)}${sig.detail ? ` (${sig.detail})` : ""}`,
        );
      }
    }
    for (const v of n.vms ?? []) {
      lines.push(
        `  vm ${v.name.padEnd(13)} ${v.state}${v.id !== null ? ` (id ${v.id}${v.memory ? `, ${v.memory}` : ""})` : ""}${v.wanted === false ? " - not in the spec (or disabled)" : ""}`,
      );
    }
    if (n.metrics) {
      const m = n.metrics;
      lines.push(
        `  host load ${m.load1.toFixed(2)}, mem ${bytes(m.memUsedBytes)}/${bytes(m.memTotalBytes)}, ${m.disks.map((d) => `${d.mount} ${Math.round((100 * d.usedBytes) / Math.max(1, d.sizeBytes))}%`).join(" ")}${m.netErrors ? `, ${m.netErrors} net errors` : ""}`,
      );
    }
    for (const e of n.events.slice(-3)) lines.push(`  event ${age(e.at, now)} ${e.kind}: ${e.message}`);
  }
  return `${lines.join("\n")}\n`;
}

async function once(io: Io, socket: string, json: boolean): Promise<string> {
  const r = await call(io, socket, "status", {});
  return json ? `${JSON.stringify(r, null, 2)}\n` : formatStatus(r);
}

export const status: Command = {
  name: "status",
  usage: `vmmeet status [SPEC] [--state DIR] [--json] [--watch]

Shows what the running coordinator knows: per node whether its agent is connected (or when it was last seen),
the generation applied against the one desired, its services, the health of its component with the signals
read from the component's logs and their age, host metrics and recent repairs; and the deployment verdict
(conference-ready when web serves, prosody accepts focus and jvb, and jicofo has a bridge in its brewery).
--watch redraws whenever something changes (Ctrl-C to leave).

Exit status: 0, 1 when no coordinator answers, 64 bad command line.`,
  async run(argv, io) {
    const { values, positionals } = parse(argv, { state: STRING, json: BOOLEAN, watch: BOOLEAN });
    const socket = adminSocketPath(io, positionals[0], str(values.state));
    const json = values.json === true;
    if (!values.watch) {
      io.out(await once(io, socket, json));
      return EXIT.ok;
    }
    let last = "";
    for (;;) {
      const text = await once(io, socket, json);
      // Ages tick every second; redraw on a change of anything but the clock.
      const key = text.replace(/\d+s ago|for \d+s/g, "");
      if (key !== last) {
        last = key;
        io.out(json ? text : `\x1b[H\x1b[2J${text}`);
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  },
};
