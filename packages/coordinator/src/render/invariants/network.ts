// How the VMs reach each other and the world: nginx and jicofo and every bridge reach prosody at its
// address, the bridges' NAT mapping and UDP port agree with the host's pf rules, and the REST servers listen
// exactly where pf lets the monitoring networks in.
import { hasChange, type NodeDesired, releaseOf } from "@vmmeet/shared";
import {
  hoconGet,
  isLuaTable,
  isHoconObject as isObject,
  luaString,
  nginxLocations,
  type PfPort,
  type PfRule,
} from "../grammar/index.js";
import { JICOFO_CONF, JICOFO_REST_PORT } from "../jicofo.js";
import { JVB_CONF, JVB_PRIVATE_HTTP_PORT, JVB_PROPERTIES } from "../jvb.js";
import { PF_CONF } from "../system.js";
import { WEB_PATHS } from "../web.js";
import { XMPP_PATHS } from "../xmpp.js";
import { type Checker, type Found, Unreadable } from "./checker.js";
import {
  JICOFO_XMPP_DOMAIN_RELEASE,
  JVB_DEFAULT_UDP_PORT,
  jicofoAt,
  jicofoHostFlag,
  parseHttpUrl,
  scalar,
  type View,
} from "./view.js";

export function checkProsodyHost(c: Checker, v: View): void {
  const xmpp = v.one("xmpp");
  const address = v.address(xmpp);
  if (address === undefined) throw new Unreadable(`the spec has no address for the xmpp node ${xmpp.node}`);
  const ref = `${xmpp.node}'s address ${address}`;
  const reaches = (node: NodeDesired, found: Found) => {
    if (found.value === undefined) {
      c.fail(`${found.at} is missing`);
      return;
    }
    const r = v.resolve(node, found.value);
    if (r.address === undefined)
      c.fail(
        `${found.at} "${found.value}" does not resolve on ${node.node} (${r.via}); it must reach ${ref}`,
      );
    else
      c.expect(
        r.address === address,
        () =>
          `${found.at} "${found.value}" is ${r.address} (${r.via}) but prosody is on ${ref} (${xmpp.node}:${XMPP_PATHS.config})`,
      );
  };
  // nginx on the web VM: BOSH and XMPP websocket proxy_pass to prosody's HTTP port.
  const web = v.one("web");
  const global = v.prosody(xmpp).find((s) => s.kind === "global")?.settings ?? {};
  const httpPorts = isLuaTable(global.http_ports) ? global.http_ports.items : [];
  let proxies = 0;
  for (const location of nginxLocations(v.nginx(web))) {
    if (location.path !== "/http-bind" && location.path !== "/xmpp-websocket") continue;
    for (const pass of location.directive.children?.filter((d) => d.name === "proxy_pass") ?? []) {
      proxies += 1;
      const at = `${web.node}:${WEB_PATHS.nginxConf} location ${location.path} proxy_pass`;
      const url = parseHttpUrl(pass.args[0] ?? "");
      if (!url) {
        c.fail(`${at} "${pass.args[0] ?? ""}" is not an http:// URL`);
        continue;
      }
      reaches(web, { at: `${at} host`, value: url.host });
      c.expect(
        httpPorts.includes(url.port),
        () => `${at} port ${url.port} is not in ${v.prosodyAt("http_ports")} (${httpPorts.join(", ")})`,
      );
    }
  }
  if (proxies === 0)
    c.fail(`${web.node}:${WEB_PATHS.nginxConf} has no location /http-bind with a proxy_pass`);
  // prosody must listen for it beyond loopback (prosody 0.12 binds HTTP to loopback without http_interfaces).
  const interfaces = isLuaTable(global.http_interfaces) ? global.http_interfaces.items.map(luaString) : [];
  c.expect(
    interfaces.includes("*") || interfaces.includes(address),
    () =>
      `${v.prosodyAt("http_interfaces")} has neither "*" nor ${address}: nginx on ${web.node} gets connection refused`,
  );
  // jicofo: xmpp.client.hostname; up to 7648 --host (which also sets the connect host and wins).
  const jicofo = v.one("jicofo");
  reaches(jicofo, jicofoAt(v, "jicofo.xmpp.client.hostname"));
  if (v.release < JICOFO_XMPP_DOMAIN_RELEASE) reaches(jicofo, jicofoHostFlag(jicofo));
  // Every bridge's MUC client hostname.
  for (const jvb of v.all("jvb")) {
    for (const cfg of v.jvbMucConfigs(jvb)) reaches(jvb, v.jvbMuc(jvb, cfg, "hostname"));
  }
}

export function checkNat(c: Checker, v: View): void {
  const publicRef: Found = { at: "spec publicAddress", value: v.spec.publicAddress };
  const host = v.one("host");
  const hostRules = v.pf(host);
  for (const jvb of v.all("jvb")) {
    const address = v.address(jvb);
    const localRef: Found = { at: `${jvb.node}'s address`, value: address };
    // The mapping: ice4j.harvest.mapping.static-mappings in jvb.conf and/or the legacy properties.
    const mappings = hoconGet(v.hocon(jvb, JVB_CONF), "ice4j.harvest.mapping.static-mappings");
    let sources = 0;
    if (Array.isArray(mappings)) {
      mappings.forEach((m, i) => {
        sources += 1;
        const at = `${jvb.node}:${JVB_CONF} ice4j.harvest.mapping.static-mappings[${i}]`;
        const get = (k: string) => (isObject(m) ? scalar(m[k]) : undefined);
        c.same(publicRef, { at: `${at}.public-address`, value: get("public-address") });
        c.same(localRef, { at: `${at}.local-address`, value: get("local-address") });
      });
    }
    if (v.file(jvb, JVB_PROPERTIES)) {
      const props = v.properties(jvb, JVB_PROPERTIES);
      const p = (k: string): Found => ({
        at: `${jvb.node}:${JVB_PROPERTIES} org.ice4j.ice.harvest.${k}`,
        value: props[`org.ice4j.ice.harvest.${k}`],
      });
      const pub = p("NAT_HARVESTER_PUBLIC_ADDRESS");
      const local = p("NAT_HARVESTER_LOCAL_ADDRESS");
      if (pub.value !== undefined || local.value !== undefined) {
        sources += 1;
        c.same(publicRef, pub);
        c.same(localRef, local);
      }
    }
    if (sources === 0)
      c.fail(
        `${jvb.node}: neither ${JVB_CONF} ice4j.harvest.mapping.static-mappings nor ${JVB_PROPERTIES} NAT_HARVESTER_* maps ${address ?? "its address"} to the public address`,
      );

    // The UDP media port: jvb.conf, the host's rdr-to, the host's static-port NAT, the jvb VM's own pf.conf.
    const portFound = v.hoconValue(jvb, JVB_CONF, "videobridge.ice.udp.port");
    const port = portFound.value === undefined ? JVB_DEFAULT_UDP_PORT : Number(portFound.value);
    const portRef: Found<number> = {
      at: `${portFound.at}${portFound.value === undefined ? " (default)" : ""}`,
      value: Number.isInteger(port) ? port : undefined,
    };
    if (portRef.value === undefined || address === undefined) {
      c.fail(`${portFound.at} is not a port`);
      continue;
    }
    const rdrs = hostRules.filter(
      (r) => passesIn(r, "udp") && (r.rdrTo?.hosts.some((h) => !h.not && h.addr === address) ?? false),
    );
    const hostAt = `${host.node}:${PF_CONF}`;
    if (rdrs.length === 0)
      c.fail(`${hostAt} has no udp rdr-to ${address} (${jvb.node}) for ${portRef.at} ${port}`);
    for (const r of rdrs) {
      // With `rdr-to ADDR port P` the packet arrives on P, otherwise on the port it was sent to.
      const ports = r.rdrTo!.ports.length > 0 ? r.rdrTo!.ports : r.to.ports;
      const shown = ports.map(formatPort).join(" ") || "any";
      c.same(portRef, {
        at: `${hostAt} line ${r.line} rdr-to ${address} (${jvb.node}) udp port`,
        value: ports.length === 1 && ports[0]!.op === "=" ? ports[0]!.port : shown,
      });
    }
    const nat = hostRules.some(
      (r) =>
        r.direction === "out" &&
        r.natTo?.options.includes("static-port") === true &&
        r.from.hosts.some((h) => !h.not && h.addr === address) &&
        r.from.ports.some((p) => portMatches(p, port)),
    );
    c.expect(
      nat,
      () =>
        `${hostAt} has no nat-to static-port for udp from ${address} (${jvb.node}) port ${port} (${portRef.at}): ICE checks would leave from another port than the one announced`,
    );
    const own = v
      .pf(jvb)
      .some(
        (r) =>
          passesIn(r, "udp") &&
          (r.to.hosts.length === 0 ||
            r.to.hosts.some((h) => !h.not && ["any", "self", address].includes(h.addr))) &&
          (r.to.ports.length === 0 || r.to.ports.some((p) => portMatches(p, port))),
      );
    c.expect(own, () => `${jvb.node}:${PF_CONF} does not pass in udp port ${port} (${portRef.at})`);
  }
}

/**
 * The REST servers pf lets the monitoring networks reach (jicofo 8888 on the jicofo VM, jvb 8080 on each
 * bridge) listen on more than loopback, and those pf keeps closed listen on loopback only: a pf rule to a
 * port nothing answers on (the paper's, and jvb's default 127.0.0.1) is as wrong as an open listener.
 */
export function checkMonitoring(c: Checker, v: View): void {
  const loopback = new Set(["127.0.0.1", "::1", "localhost"]);
  const servers = [
    ...v.all("jicofo").map((node) => ({
      node,
      port: JICOFO_REST_PORT,
      found: v.hoconString(node, JICOFO_CONF, "jicofo.rest.host"),
      // jicofo's own default: every address until 10314 (jicofo 486d8387a), loopback from then on.
      fallback: hasChange("jicofoRestLoopback", releaseOf(v.spec, "jicofo")) ? "127.0.0.1" : "0.0.0.0",
    })),
    ...v.all("jvb").map((node) => ({
      node,
      port: JVB_PRIVATE_HTTP_PORT,
      found: v.hoconString(node, JVB_CONF, "videobridge.http-servers.private.host"),
      // jicoco's http-servers.private default (jitsi-videobridge 01bde0705).
      fallback: "127.0.0.1",
    })),
  ];
  for (const { node, port, found, fallback } of servers) {
    const host = found.value ?? fallback;
    const address = v.address(node);
    // A pass-in rule to this port from anyone but the VM itself.
    const opened = v
      .pf(node)
      .find(
        (r) =>
          passesIn(r, "tcp") &&
          r.to.ports.some((p) => portMatches(p, port)) &&
          !r.from.hosts.every((h) => !h.not && (h.addr === address || loopback.has(h.addr))),
      );
    const listens = !loopback.has(host);
    const where = `${found.at} ${found.value === undefined ? `(unset: ${fallback})` : `"${host}"`}`;
    if (opened && !listens)
      c.fail(
        `${node.node}:${PF_CONF} line ${opened.line} lets port ${port} in, but ${where} listens on loopback only`,
      );
    else if (!opened && listens)
      c.fail(`${where} listens beyond loopback, but ${node.node}:${PF_CONF} lets nobody reach port ${port}`);
    else c.pass();
  }
  c.note(v.spec.host.monitorNetworks.length > 0 ? "monitoring networks let in" : "no monitoring networks");
}

/** A rule that lets packets of `proto` in (a pass rule not restricted to out, for that protocol or any). */
function passesIn(r: PfRule, proto: "udp" | "tcp"): boolean {
  return r.action === "pass" && r.direction !== "out" && (r.proto.length === 0 || r.proto.includes(proto));
}

function portMatches(p: PfPort, port: number): boolean {
  const to = p.to ?? p.port;
  switch (p.op) {
    case "=":
      return port === p.port;
    case "!=":
      return port !== p.port;
    case "<":
      return port < p.port;
    case ">":
      return port > p.port;
    case "<=":
      return port <= p.port;
    case ">=":
      return port >= p.port;
    case ":":
      return port >= p.port && port <= to;
    case "><":
      return port > p.port && port < to;
    case "<>":
      return port < p.port || port > to;
  }
}

function formatPort(p: PfPort): string {
  if (p.op === "=") return String(p.port);
  if (p.to !== undefined) return `${p.port}${p.op}${p.to}`;
  return `${p.op}${p.port}`;
}
