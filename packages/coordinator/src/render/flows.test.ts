// The flows of topology.svg against the pf.conf files the renderers write, in both directions: every rule a
// flow names is a pass rule of the pf.conf it names, and every pass rule of every pf.conf (host and VMs)
// belongs to a flow. The pf.conf files are read back with the pf.conf checker (grammar/pf.ts), macros
// expanded, so this compares what pfctl would load with what the picture draws.
import type { Spec } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { everyFlow, paperInput, threeJvbs } from "../../../../test/helpers/render.js";
import { deploymentFlows, flowLabel } from "./flows.js";
import { type PfHost, type PfPort, type PfRule, parsePfConf } from "./grammar/pf.js";
import { renderDeployment } from "./index.js";
import { gatewayOf } from "./system.js";
import type { RenderInput } from "./types.js";

/** The pass rules of every node's pf.conf, one canonical rule (flows.ts) per protocol, host and port. */
function pfRules(input: RenderInput): Set<string> {
  const { spec } = input;
  const out = new Set<string>();
  for (const [node, desired] of Object.entries(renderDeployment(input))) {
    const text = desired.files.find((f) => f.path === "/etc/pf.conf")?.content;
    if (text === undefined) throw new Error(`${node}: no /etc/pf.conf rendered`);
    const { conf, errors } = parsePfConf(text);
    expect(errors, `${node} pf.conf`).toEqual([]);
    for (const rule of conf.rules)
      if (rule.action === "pass") for (const r of canonical(spec, node, rule)) out.add(r);
  }
  return out;
}

function canonical(spec: Spec, file: string, rule: PfRule): string[] {
  const isHost = file === spec.host.name;
  const self = spec.nodes.find((n) => n.name === file);
  const end = (h: PfHost | undefined): string => {
    if (h === undefined || h.addr === "any") return "any";
    if (h.not) throw new Error(`${file}: negated host ${h.addr} is not in the flows model`);
    if (h.addr === "self") return isHost ? "host" : file;
    if (self && h.addr === gatewayOf(self.address)) return "host";
    if (spec.host.adminNetworks.includes(h.addr)) return "admin";
    if (spec.host.monitorNetworks.includes(h.addr)) return "monitor";
    const n = spec.nodes.find((x) => x.address === h.addr);
    if (n) return n.name;
    throw new Error(`${file}: address ${h.addr} is no node, network or gateway`);
  };
  const port = (p: PfPort | undefined) =>
    p === undefined
      ? "any"
      : p.op === ":"
        ? `${p.port}:${p.to}`
        : p.op === "="
          ? String(p.port)
          : `${p.op}${p.port}`;
  const many = <T>(xs: T[]): (T | undefined)[] => (xs.length > 0 ? xs : [undefined]);
  const out: string[] = [];
  for (const proto of many(rule.proto))
    for (const from of many(rule.from.hosts))
      for (const fromPort of many(rule.from.ports))
        for (const to of many(rule.to.hosts))
          for (const toPort of many(rule.to.ports)) {
            let rdr = "";
            if (rule.rdrTo) {
              const target = rule.rdrTo.hosts[0]?.addr;
              rdr =
                target === spec.host.resolver
                  ? " rdr-to resolver"
                  : ` rdr-to ${spec.nodes.find((n) => n.address === target)?.name ?? `?${target}`}`;
            }
            const src = fromPort ? `${end(from)}:${port(fromPort)}` : end(from);
            out.push(
              `${file} ${rule.direction ?? "both"} ${proto ?? "any"} ${src} > ${end(to)}:${port(toPort)}${rdr}`,
            );
          }
  return out;
}

/**
 * jicofo's own pf.conf lets it out to prosody on 5280 too, the paper's rule ("pass out quick on egress
 * proto tcp to xmpp port { 5222 5280 }"), but neither the host nor prosody's VM let that in: no flow
 * crosses it. vmmeet keeps the paper's rule; it is the one pass rule no flow uses.
 */
const ONE_SIDED = ["jicofo out tcp any > xmpp:5280"];

function expectFlowsEqualPf(input: RenderInput) {
  const flows = deploymentFlows(input.spec, { coordinatorPort: input.spec.host.coordinatorPort });
  const rules = pfRules(input);
  const fromFlows = new Set(flows.flatMap((f) => f.rules));
  // A flow in the picture is a rule in pf.conf ...
  expect([...fromFlows].filter((r) => !rules.has(r))).toEqual([]);
  // ... and a rule in pf.conf is a flow in the picture.
  expect([...rules].filter((r) => !fromFlows.has(r))).toEqual(ONE_SIDED);
  return flows;
}

describe("deploymentFlows", () => {
  it("equals the pf rules of the paper's topology, both ways", () => {
    const flows = expectFlowsEqualPf(paperInput());
    const labels = flows.map((f) => `${f.from.join("+")} > ${f.to.join("+")} ${flowLabel(f)}`);
    expect(labels).toEqual(
      expect.arrayContaining([
        "@world > web tcp 80,443",
        "@world > jvb udp 10000",
        "jicofo+jvb > xmpp tcp 5222",
        "web > xmpp tcp 5280",
        "web+xmpp+jicofo+jvb > @resolver tcp/udp 53",
        "web+xmpp+jicofo+jvb > @host tcp 7443",
      ]),
    );
    expect(new Set(flows.map((f) => f.id)).size).toBe(flows.length);
  });

  it("equals the pf rules with 3 jvbs, each with its own UDP port", () => {
    const flows = expectFlowsEqualPf(paperInput(threeJvbs));
    const media = flows.filter((f) => f.rdr && f.proto === "udp").map((f) => `${f.to[0]} ${f.ports[0]}`);
    expect(media).toEqual(["jvb 10000", "jvb2 10001", "jvb3 10002"]);
    expect(flows.find((f) => f.ports[0] === "5222")?.from).toEqual(["jicofo", "jvb", "jvb2", "jvb3"]);
  });

  it("equals the pf rules with TURN, colibri websockets, debug BOSH, admin and monitor networks", () => {
    const flows = expectFlowsEqualPf(paperInput(everyFlow));
    const kinds = new Set(flows.map((f) => f.kind));
    expect(kinds).toEqual(new Set(["public", "internal", "egress", "control", "admin", "monitor"]));
    expect(flows.filter((f) => f.kind === "public" && f.to.includes("turn")).map(flowLabel)).toEqual([
      "udp 3478",
      "tcp 5349",
      "udp 49152:65535",
    ]);
  });

  it("fails the comparison when a flow names a rule pf.conf does not have", () => {
    const input = paperInput();
    const flows = deploymentFlows(input.spec, { coordinatorPort: input.spec.host.coordinatorPort });
    const rules = pfRules(input);
    const wrong = flows.find((f) => f.ports[0] === "5222")!.rules.map((r) => r.replace(":5222", ":5223"));
    expect(wrong.filter((r) => !rules.has(r)).length).toBe(wrong.length);
  });
});
