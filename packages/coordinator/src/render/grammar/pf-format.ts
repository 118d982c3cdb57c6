// pf.conf rules printed back, one canonical line each, as tests and the pfctl test double compare them.
import type { PfEndpoint, PfHost, PfPort, PfRule, PfTranslation } from "./pf-types.js";

function formatList(items: readonly string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(" ")} }`;
}

function formatPorts(ports: readonly PfPort[]): string {
  return formatList(
    ports.map((p) =>
      p.op === "="
        ? String(p.port)
        : p.op === ":"
          ? `${p.port}:${p.to}`
          : p.to === undefined
            ? `${p.op} ${p.port}`
            : `${p.port} ${p.op} ${p.to}`,
    ),
  );
}

function formatHosts(hosts: readonly PfHost[]): string {
  return formatList(hosts.map((h) => `${h.not ? "! " : ""}${h.addr}`));
}

function formatEndpoint(e: PfEndpoint): string {
  return `${e.hosts.length === 0 ? "any" : formatHosts(e.hosts)}${e.ports.length > 0 ? ` port ${formatPorts(e.ports)}` : ""}`;
}

function formatTranslation(kind: string, t: PfTranslation | undefined): string[] {
  if (!t) return [];
  return [
    kind,
    formatHosts(t.hosts),
    ...(t.ports.length > 0 ? ["port", formatPorts(t.ports)] : []),
    ...t.options,
  ];
}

/**
 * One canonical line per rule, with macros expanded and lists normalised (`port { 80 }` -> `port 80`;
 * a missing from/to -> `any`), in the spirit of `pfctl -sr`: lets tests and test doubles compare rules
 * by value rather than by text.
 */
export function formatPfRule(rule: PfRule): string {
  const parts: string[] = [rule.action];
  if (rule.blockPolicy) parts.push(rule.blockPolicy);
  if (rule.direction) parts.push(rule.direction);
  if (rule.log) parts.push("log");
  if (rule.quick) parts.push("quick");
  if (rule.on.length > 0) parts.push("on", formatList(rule.on));
  if (rule.af) parts.push(rule.af);
  if (rule.proto.length > 0) parts.push("proto", formatList(rule.proto));
  parts.push(rule.all ? "all" : `from ${formatEndpoint(rule.from)} to ${formatEndpoint(rule.to)}`);
  parts.push(...rule.options);
  if (rule.state) parts.push(rule.state === "no" ? "no state" : `${rule.state} state`);
  parts.push(...formatTranslation("nat-to", rule.natTo), ...formatTranslation("binat-to", rule.binatTo));
  parts.push(...formatTranslation("rdr-to", rule.rdrTo));
  return parts.join(" ");
}
