// The cross-file invariants of a rendered deployment (docs/jitsi-config-notes.md section 10): the values that must be
// the same in several files on several VMs for a conference to happen at all (the XMPP domain, auth.DOMAIN,
// the brewery JID, the passwords, the address of prosody as each VM reaches it, SCTP off on both sides, the
// bridges' NAT and UDP port, colibri websockets, TURN).
//
// The renderers build these values from one spec, so they agree by construction; this check reads the
// RENDERED files back (not the spec) and compares them, so that a renderer change that breaks one side, or
// a hand edit of a rendered directory, is caught before anything reaches a VM. The spec only supplies what
// no file states: the domain the deployment is for, its release, the node addresses and the public address.
//
// The readers (render/grammar: HOCON blocks and lists, prosody's VirtualHost/Component sections and Lua
// tables, nginx's directive tree, config.js's object literal, ksh assignments, java properties,
// turnserver.conf lines, /etc/hosts, pf.conf) understand the subset of each format that the renderers write;
// anything else is reported as unreadable rather than guessed at. Nothing is evaluated. Pure: no filesystem,
// no clock.
//
// Secret values (passwords, the TURN secret) are compared but never put into a detail: it says "differs".
import {
  type FileEntry,
  hasChange,
  type NodeDesired,
  releaseOf,
  type SetupAction,
  type Spec,
} from "@vmmeet/shared";
import {
  type HoconObject,
  type HoconValue,
  hoconGet,
  isLuaTable,
  isHoconObject as isObject,
  type JsObject,
  jsGet,
  luaString,
  type NginxDirective,
  nginxFind,
  nginxLocations,
  type PfPort,
  type PfRule,
  type ProsodySection,
  parseConfigJs,
  parseHocon,
  parseHostsFile,
  parseKshAssignments,
  parseNginxConf,
  parsePfConf,
  parseProperties,
  parseProsodyConfig,
  parseTurnserverConf,
} from "./grammar/index.js";
import { JICOFO_CONF, JICOFO_ENV, JICOFO_REST_PORT } from "./jicofo.js";
import { JVB_CONF, JVB_ENV, JVB_PRIVATE_HTTP_PORT, JVB_PROPERTIES } from "./jvb.js";
import { HOSTS, PF_CONF } from "./system.js";
import { TURN_CONF } from "./turn.js";
import { WEB_PATHS } from "./web.js";
import { XMPP_PATHS } from "./xmpp.js";

export interface InvariantResult {
  name: InvariantName;
  ok: boolean;
  /** What differs (naming both files and their nodes), or what was compared when ok. Never a secret. */
  detail: string;
}

/** Every invariant, in the order checkInvariants reports them. */
export const INVARIANT_NAMES = [
  "domain",
  "auth-domain",
  "brewery",
  "conference-muc",
  "focus-proxy",
  "passwords",
  "prosody-host",
  "sctp",
  "nat",
  "colibri-websockets",
  "turn",
  "monitoring",
] as const;
export type InvariantName = (typeof INVARIANT_NAMES)[number];

/** The first release whose jicofo reads the XMPP domain from jicofo.conf (jicofo 2943c21f). */
const JICOFO_XMPP_DOMAIN_RELEASE = 8044;
/** ice4j's default videobridge.ice.udp.port (jvb reference.conf). */
const JVB_DEFAULT_UDP_PORT = 10000;
const JVB_MUC_CONFIGS = "videobridge.apis.xmpp-client.configs";
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Check the section-10 invariants over `nodes`, the output of renderDeployment for `spec`. One result per
 * name of INVARIANT_NAMES, in that order; an invariant of a feature that is off (colibri websockets, TURN)
 * checks that no file turns it on halfway.
 */
export function checkInvariants(spec: Spec, nodes: Record<string, NodeDesired>): InvariantResult[] {
  const view = new View(spec, nodes);
  const checks: Record<InvariantName, (c: Checker, v: View) => void> = {
    domain: checkDomain,
    "auth-domain": checkAuthDomain,
    brewery: checkBrewery,
    "conference-muc": checkConferenceMuc,
    "focus-proxy": checkFocusProxy,
    passwords: checkPasswords,
    "prosody-host": checkProsodyHost,
    sctp: checkSctp,
    nat: checkNat,
    "colibri-websockets": checkColibri,
    turn: checkTurn,
    monitoring: checkMonitoring,
  };
  return INVARIANT_NAMES.map((name) => {
    const c = new Checker();
    try {
      checks[name](c, view);
    } catch (e) {
      // A reader refusing a file it cannot read (or a missing node) ends this invariant, not the others.
      if (!(e instanceof Unreadable)) throw e;
      c.fail(e.message);
    }
    return c.result(name);
  });
}

/** The failed invariants as the CLI prints them: `invariant: NAME: DETAIL`. */
export function formatViolations(results: readonly InvariantResult[]): string[] {
  return results.filter((r) => !r.ok).map((r) => `invariant: ${r.name}: ${r.detail}`);
}

// ---------------------------------------------------------------------------------------------------------
// Collecting results

class Unreadable extends Error {}

/** A located value: `at` names the node, the file and the key, e.g. `jvb:/etc/jvb/jvb.conf videobridge.sctp.enabled`. */
interface Found<T = string> {
  at: string;
  value: T | undefined;
}

interface CompareOptions {
  secret?: boolean;
  caseInsensitive?: boolean;
}

class Checker {
  private readonly problems: string[] = [];
  private agreed = 0;
  private readonly notes: string[] = [];

  fail(problem: string): void {
    if (!this.problems.includes(problem)) this.problems.push(problem);
  }
  pass(): void {
    this.agreed += 1;
  }
  note(text: string): void {
    this.notes.push(text);
  }
  /** Fail unless `condition`; count a comparison otherwise. */
  expect(condition: boolean, problem: () => string): boolean {
    if (condition) this.pass();
    else this.fail(problem());
    return condition;
  }
  /** `other` must hold the value of `ref`. */
  same(ref: Found<string | number>, other: Found<string | number>, opts: CompareOptions = {}): boolean {
    const show = (v: string | number) => (opts.secret ? "" : ` ${JSON.stringify(v)}`);
    if (ref.value === undefined) {
      this.fail(`${ref.at} is missing`);
      return false;
    }
    if (other.value === undefined) {
      this.fail(`${other.at} is missing (${ref.at} is${opts.secret ? " set" : show(ref.value)})`);
      return false;
    }
    const norm = (v: string | number) =>
      opts.caseInsensitive ? String(v).toLowerCase() : typeof v === "number" ? String(v) : v;
    if (norm(ref.value) === norm(other.value)) {
      this.pass();
      return true;
    }
    this.fail(
      opts.secret
        ? `${other.at} differs from ${ref.at}`
        : `${other.at} is${show(other.value)} but ${ref.at} is${show(ref.value)}`,
    );
    return false;
  }
  result(name: InvariantName): InvariantResult {
    if (this.problems.length > 0) return { name, ok: false, detail: this.problems.join("; ") };
    const base = this.agreed === 1 ? "1 value agrees" : `${this.agreed} values agree`;
    return { name, ok: true, detail: [base, ...this.notes].join("; ") };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The deployment as the checks see it: nodes by role, parsed files (cached), name resolution.

class View {
  private readonly cache = new Map<string, unknown>();
  readonly domain: string;
  /** jicofo's release: every release-dependent check here concerns jicofo. */
  readonly release: number;

  constructor(
    readonly spec: Spec,
    readonly nodes: Record<string, NodeDesired>,
  ) {
    this.domain = spec.domain;
    this.release = releaseOf(spec, "jicofo");
  }

  all(role: NodeDesired["role"]): NodeDesired[] {
    return Object.values(this.nodes).filter((n) => n.role === role);
  }

  one(role: NodeDesired["role"]): NodeDesired {
    const found = this.all(role);
    if (found.length === 0) throw new Unreadable(`the rendered deployment has no ${role} node`);
    return found[0]!;
  }

  /** The node's address on the VM network (the spec's; no file states a VM's own address). */
  address(node: NodeDesired): string | undefined {
    return this.spec.nodes.find((n) => n.name === node.node)?.address;
  }

  file(node: NodeDesired, path: string): FileEntry | undefined {
    return node.files.find((f) => f.path === path);
  }

  text(node: NodeDesired, path: string): string {
    const f = this.file(node, path);
    if (!f) throw new Unreadable(`${node.node}:${path} is not rendered`);
    return f.encoding === "base64" ? Buffer.from(f.content, "base64").toString("utf8") : f.content;
  }

  private parsed<T>(node: NodeDesired, path: string, kind: string, parse: (text: string) => T): T {
    const key = `${kind}\0${node.node}\0${path}`;
    if (this.cache.has(key)) {
      const hit = this.cache.get(key);
      if (hit instanceof Unreadable) throw hit;
      return hit as T;
    }
    let value: T | Unreadable;
    try {
      value = parse(this.text(node, path));
    } catch (e) {
      value =
        e instanceof Unreadable && e.message.startsWith(`${node.node}:`)
          ? e
          : new Unreadable(`${node.node}:${path} cannot be read: ${(e as Error).message}`);
    }
    this.cache.set(key, value);
    if (value instanceof Unreadable) throw value;
    return value;
  }

  hocon(node: NodeDesired, path: string): HoconObject {
    return this.parsed(node, path, "hocon", parseHocon);
  }
  prosody(node: NodeDesired): ProsodySection[] {
    return this.parsed(node, XMPP_PATHS.config, "prosody", parseProsodyConfig);
  }
  nginx(node: NodeDesired): NginxDirective[] {
    return this.parsed(node, WEB_PATHS.nginxConf, "nginx", parseNginxConf);
  }
  configJs(node: NodeDesired): JsObject {
    return this.parsed(node, WEB_PATHS.configJs, "js", parseConfigJs);
  }
  ksh(node: NodeDesired, path: string): Record<string, string> {
    return this.parsed(node, path, "ksh", parseKshAssignments);
  }
  properties(node: NodeDesired, path: string): Record<string, string> {
    return this.parsed(node, path, "properties", parseProperties);
  }
  turnserver(node: NodeDesired): Record<string, string[]> {
    return this.parsed(node, TURN_CONF, "turn", parseTurnserverConf);
  }
  hosts(node: NodeDesired): Map<string, string> {
    return this.parsed(node, HOSTS, "hosts", parseHostsFile);
  }
  pf(node: NodeDesired): PfRule[] {
    return this.parsed(node, PF_CONF, "pf", (text) => {
      const { conf, errors } = parsePfConf(text);
      if (errors.length > 0) throw new Error(`line ${errors[0]!.line}: ${errors[0]!.message}`);
      return conf.rules;
    });
  }

  /** A value of a HOCON file, located. */
  hoconValue(node: NodeDesired, path: string, key: string): Found<HoconValue> {
    return { at: `${node.node}:${path} ${key}`, value: hoconGet(this.hocon(node, path), key) };
  }
  hoconString(node: NodeDesired, path: string, key: string): Found {
    const f = this.hoconValue(node, path, key);
    return { at: f.at, value: scalar(f.value) };
  }

  /** Prosody's section for a host or component name (VirtualHost "x" / Component "x"), if any. */
  prosodySection(name: string, kind?: "VirtualHost" | "Component"): ProsodySection | undefined {
    return this.prosody(this.one("xmpp")).find(
      (s) => s.kind !== "global" && s.name === name && (kind === undefined || s.kind === kind),
    );
  }
  prosodyAt(detail: string): string {
    return `${this.one("xmpp").node}:${XMPP_PATHS.config} ${detail}`;
  }

  /** The jvb MUC client configs (videobridge.apis.xmpp-client.configs.ID) of a bridge, each with its key prefix. */
  jvbMucConfigs(jvb: NodeDesired): { key: string; config: HoconObject }[] {
    const configs = hoconGet(this.hocon(jvb, JVB_CONF), JVB_MUC_CONFIGS);
    if (!isObject(configs) || Object.keys(configs).length === 0)
      throw new Unreadable(`${jvb.node}:${JVB_CONF} has no ${JVB_MUC_CONFIGS} (the bridge cannot log in)`);
    return Object.entries(configs).map(([id, config]) => {
      if (!isObject(config))
        throw new Unreadable(`${jvb.node}:${JVB_CONF} ${JVB_MUC_CONFIGS}.${id} is not a block`);
      return { key: `${JVB_MUC_CONFIGS}.${id}`, config };
    });
  }
  /** One key of a MUC client config; jvb matches them case-insensitively (MucClientConfiguration). */
  jvbMuc(jvb: NodeDesired, cfg: { key: string; config: HoconObject }, name: string): Found {
    const hit = Object.entries(cfg.config).find(([k]) => k.toLowerCase() === name);
    return { at: `${jvb.node}:${JVB_CONF} ${cfg.key}.${hit?.[0] ?? name}`, value: scalar(hit?.[1]) };
  }

  /**
   * What `host` means on `node`: itself when it is an address, else the address the node's rendered
   * /etc/hosts gives it. (The VMs resolve names through /etc/hosts first, then the host's resolver,
   * which knows nothing of the VM network: the paper, section VI.B.)
   */
  resolve(node: NodeDesired, host: string): { address: string | undefined; via: string } {
    if (IPV4.test(host)) return { address: host, via: "an address" };
    const hosts = this.file(node, HOSTS) ? this.hosts(node) : new Map<string, string>();
    return { address: hosts.get(host.toLowerCase()), via: `${node.node}:${HOSTS}` };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The invariants

const jicofoAt = (v: View, key: string) => v.hoconString(v.one("jicofo"), JICOFO_CONF, key);

function checkDomain(c: Checker, v: View): void {
  const d = v.domain;
  const host = v.prosodySection(d, "VirtualHost");
  if (!host) {
    c.fail(`${v.prosodyAt(`has no VirtualHost "${d}"`)} (the spec's domain)`);
    return;
  }
  const ref: Found = { at: v.prosodyAt("VirtualHost"), value: d };
  c.pass();
  for (const name of [`conference.${d}`, `focus.${d}`]) {
    c.expect(v.prosodySection(name, "Component") !== undefined, () =>
      v.prosodyAt(`has no Component "${name}" next to VirtualHost "${d}"`),
    );
  }
  // nginx: every server block answers for the domain.
  const web = v.one("web");
  const servers = nginxFind(v.nginx(web), ["http", "server"]);
  if (servers.length === 0) c.fail(`${web.node}:${WEB_PATHS.nginxConf} has no server block`);
  for (const server of servers) {
    const names = (server.children ?? []).filter((d) => d.name === "server_name").flatMap((d) => d.args);
    c.same(ref, {
      at: `${web.node}:${WEB_PATHS.nginxConf} server_name`,
      value: names.join(" ") || undefined,
    });
  }
  // config.js: hosts.domain, the BOSH and websocket URLs' host, hosts.anonymousdomain is a prosody host.
  const config = v.configJs(web);
  const js = (key: string): Found => ({
    at: `${web.node}:${WEB_PATHS.configJs} ${key}`,
    value: scalar(jsGet(config, key)),
  });
  c.same(ref, js("hosts.domain"));
  for (const key of ["bosh", "websocket"]) {
    const url = js(key);
    if (key === "websocket" && url.value === undefined) continue;
    c.same(ref, { at: `${url.at} host`, value: url.value === undefined ? undefined : urlHost(url.value) });
  }
  const anonymous = js("hosts.anonymousdomain");
  if (anonymous.value !== undefined) {
    c.expect(v.prosodySection(anonymous.value, "VirtualHost") !== undefined, () =>
      v.prosodyAt(`has no VirtualHost "${anonymous.value}" (${anonymous.at})`),
    );
  }
  // jicofo: xmpp-domain (read from 8044 on) and --host, which the OpenBSD wrapper needs for every release.
  const jicofo = v.one("jicofo");
  if (v.release >= JICOFO_XMPP_DOMAIN_RELEASE) c.same(ref, jicofoAt(v, "jicofo.xmpp.client.xmpp-domain"));
  c.same(ref, jicofoHostFlag(jicofo));
  // coturn's realm.
  for (const turn of v.all("turn")) {
    c.same(ref, { at: `${turn.node}:${TURN_CONF} realm`, value: v.turnserver(turn).realm?.[0] });
  }
}

function jicofoHostFlag(jicofo: NodeDesired): Found {
  const service = jicofo.services.find((s) => s.name === "jicofo");
  const flags = service?.flags ?? "";
  const m = /(?:^|\s)--host=(\S+)/.exec(flags);
  return { at: `${jicofo.node}:rc.conf.local jicofo_flags --host`, value: m?.[1] };
}

function checkAuthDomain(c: Checker, v: View): void {
  const auth = `auth.${v.domain}`;
  const xmpp = v.one("xmpp");
  const host = v.prosodySection(auth, "VirtualHost");
  if (!host) {
    c.fail(v.prosodyAt(`has no VirtualHost "${auth}"`));
    return;
  }
  const ref: Found = { at: v.prosodyAt("VirtualHost"), value: auth };
  c.expect(luaString(host.settings.authentication) === "internal_hashed", () =>
    v.prosodyAt(
      `VirtualHost "${auth}" authentication is not "internal_hashed" (jicofo and jvb log in with passwords)`,
    ),
  );
  // Its certificate and key: files prosody finds on the xmpp VM.
  const ssl = host.settings.ssl;
  for (const field of ["certificate", "key"]) {
    const path = isLuaTable(ssl) ? luaString(ssl.fields[field]) : undefined;
    if (path === undefined) c.fail(v.prosodyAt(`VirtualHost "${auth}" ssl.${field} is missing`));
    else
      c.expect(
        v.file(xmpp, path) !== undefined,
        () => `${xmpp.node}:${path} is not rendered (${v.prosodyAt(`VirtualHost "${auth}" ssl.${field}`)})`,
      );
  }
  // jicofo's login domain and trusted domains.
  c.same(ref, jicofoAt(v, "jicofo.xmpp.client.domain"));
  const trusted = v.hoconValue(v.one("jicofo"), JICOFO_CONF, "jicofo.xmpp.trusted-domains");
  const list = Array.isArray(trusted.value) ? trusted.value.map(scalar) : [];
  c.expect(list.includes(auth), () => `${trusted.at} does not list "${auth}" (${ref.at})`);
  // Every bridge's login domain.
  const users = [`${scalar(jicofoAt(v, "jicofo.xmpp.client.username").value) ?? "focus"}@${auth}`];
  for (const jvb of v.all("jvb")) {
    for (const cfg of v.jvbMucConfigs(jvb)) {
      c.same(ref, v.jvbMuc(jvb, cfg, "domain"));
      users.push(`${v.jvbMuc(jvb, cfg, "username").value ?? "jvb"}@${auth}`);
    }
  }
  // focus and jvb are admins of the brewery MUC component (they own the rooms there).
  const internal = `internal.${auth}`;
  const component = v.prosodySection(internal, "Component");
  if (!component) {
    c.fail(v.prosodyAt(`has no Component "${internal}"`));
    return;
  }
  const admins = isLuaTable(component.settings.admins) ? component.settings.admins.items.map(luaString) : [];
  for (const user of new Set(users)) {
    c.expect(admins.includes(user), () =>
      v.prosodyAt(`Component "${internal}" admins does not list "${user}"`),
    );
  }
}

function checkBrewery(c: Checker, v: View): void {
  const ref = jicofoAt(v, "jicofo.bridge.brewery-jid");
  if (ref.value === undefined) {
    c.fail(`${ref.at} is missing`);
    return;
  }
  // Each bridge joins the brewery(s) in its muc_jids, a comma-separated string.
  const jvbs = v.all("jvb");
  if (jvbs.length === 0) c.fail("the rendered deployment has no jvb node");
  for (const jvb of jvbs) {
    for (const cfg of v.jvbMucConfigs(jvb)) {
      const jids = v.jvbMuc(jvb, cfg, "muc_jids");
      c.same(ref, jids, { caseInsensitive: true });
    }
  }
  // The brewery lives on a prosody MUC component that does not lock new rooms.
  const at = ref.value.lastIndexOf("@");
  const domain = at < 0 ? "" : ref.value.slice(at + 1);
  c.expect(
    domain === `internal.auth.${v.domain}`,
    () => `${ref.at} "${ref.value}" is not on internal.auth.${v.domain} (${v.prosodyAt("Component")})`,
  );
  const component = v.prosodySection(domain, "Component");
  if (!component) {
    c.fail(v.prosodyAt(`has no Component "${domain}" for ${ref.at} "${ref.value}"`));
    return;
  }
  c.expect(component.module === "muc", () =>
    v.prosodyAt(`Component "${domain}" is "${component.module ?? ""}", not "muc" (${ref.at})`),
  );
  c.expect(component.settings.muc_room_locking === false, () =>
    v.prosodyAt(`Component "${domain}" muc_room_locking is not false (the brewery room would stay locked)`),
  );
}

function checkConferenceMuc(c: Checker, v: View): void {
  const name = `conference.${v.domain}`;
  const component = v.prosodySection(name, "Component");
  if (!component) {
    c.fail(v.prosodyAt(`has no Component "${name}"`));
    return;
  }
  const ref: Found = { at: v.prosodyAt("Component"), value: name };
  c.expect(component.module === "muc", () =>
    v.prosodyAt(`Component "${name}" is "${component.module ?? ""}", not "muc"`),
  );
  const web = v.one("web");
  c.same(ref, {
    at: `${web.node}:${WEB_PATHS.configJs} hosts.muc`,
    value: scalar(jsGet(v.configJs(web), "hosts.muc")),
  });
  // Before 8044 jicofo derives the conference MUC from --host (conference.DOMAIN).
  if (v.release >= JICOFO_XMPP_DOMAIN_RELEASE)
    c.same(ref, jicofoAt(v, "jicofo.xmpp.client.conference-muc-jid"));
}

function checkFocusProxy(c: Checker, v: View): void {
  const proxyName = `focus.${v.domain}`;
  const component = v.prosodySection(proxyName, "Component");
  if (!component) {
    c.fail(v.prosodyAt(`has no Component "${proxyName}"`));
    return;
  }
  c.expect(component.module === "client_proxy", () =>
    v.prosodyAt(`Component "${proxyName}" is "${component.module ?? ""}", not "client_proxy"`),
  );
  const target: Found = {
    at: v.prosodyAt(`Component "${proxyName}" target_address`),
    value: luaString(component.settings.target_address),
  };
  const proxy: Found = { at: v.prosodyAt("Component"), value: proxyName };
  // jicofo logs in as the user the proxy forwards to.
  const user = jicofoAt(v, "jicofo.xmpp.client.username");
  const domain = jicofoAt(v, "jicofo.xmpp.client.domain");
  c.same(target, {
    at: `${user.at}@domain`,
    value:
      user.value !== undefined && domain.value !== undefined ? `${user.value}@${domain.value}` : undefined,
  });
  if (v.release >= JICOFO_XMPP_DOMAIN_RELEASE) c.same(proxy, jicofoAt(v, "jicofo.xmpp.client.client-proxy"));
  const web = v.one("web");
  const focus = scalar(jsGet(v.configJs(web), "hosts.focus"));
  // config.js defaults hosts.focus to focus.DOMAIN; a value given must be the proxy.
  if (focus !== undefined)
    c.same(proxy, { at: `${web.node}:${WEB_PATHS.configJs} hosts.focus`, value: focus });
  // prosodyctl mod_roster_command subscribe focus.DOMAIN focus@auth.DOMAIN (the paper, VIII.A).
  const xmpp = v.one("xmpp");
  const roster = xmpp.actions.filter(
    (a): a is Extract<SetupAction, { kind: "prosody-roster-subscribe" }> =>
      a.kind === "prosody-roster-subscribe",
  );
  const at = `${xmpp.node}:setup action prosody-roster-subscribe`;
  if (roster.length === 0) c.fail(`${at} is missing (${target.at} needs it)`);
  for (const r of roster) {
    c.same(proxy, { at: `${at} proxy`, value: r.proxy });
    c.same(target, { at: `${at} jid`, value: r.jid });
  }
}

function checkPasswords(c: Checker, v: View): void {
  const xmpp = v.one("xmpp");
  const users = xmpp.actions.filter(
    (a): a is Extract<SetupAction, { kind: "prosody-user" }> => a.kind === "prosody-user",
  );
  const userPassword = (user: Found, domain: Found, password: Found) => {
    const jid = `${user.value ?? "?"}@${domain.value ?? "?"}`;
    const action = users.find((u) => u.user === user.value && u.host === domain.value);
    const at = `${xmpp.node}:setup action prosody-user ${jid} password`;
    if (!action) c.fail(`${xmpp.node}:setup action prosody-user ${jid} is missing (${user.at})`);
    else c.same({ at, value: action.password }, password, { secret: true });
  };
  const jicofo = v.one("jicofo");
  userPassword(
    jicofoAt(v, "jicofo.xmpp.client.username"),
    jicofoAt(v, "jicofo.xmpp.client.domain"),
    jicofoAt(v, "jicofo.xmpp.client.password"),
  );
  for (const jvb of v.all("jvb")) {
    for (const cfg of v.jvbMucConfigs(jvb)) {
      userPassword(
        v.jvbMuc(jvb, cfg, "username"),
        v.jvbMuc(jvb, cfg, "domain"),
        v.jvbMuc(jvb, cfg, "password"),
      );
    }
  }
  // The truststores: one PKCS#12 file with the deployment CA, so the same bytes and the same password.
  const store = (node: NodeDesired, env: string, prefix: string) => {
    const vars = v.ksh(node, env);
    const path = vars[`${prefix}_TRUSTSTORE`];
    const file = path === undefined ? undefined : v.file(node, path);
    if (path === undefined) c.fail(`${node.node}:${env} ${prefix}_TRUSTSTORE is missing`);
    else if (!file) c.fail(`${node.node}:${path} is not rendered (${node.node}:${env} ${prefix}_TRUSTSTORE)`);
    return {
      bytes: { at: `${node.node}:${path ?? env}`, value: file ? bytesOf(file) : undefined },
      password: {
        at: `${node.node}:${env} ${prefix}_TRUSTSTORE_PASSWORD`,
        value: vars[`${prefix}_TRUSTSTORE_PASSWORD`],
      },
    };
  };
  const ref = store(jicofo, JICOFO_ENV, "JICOFO");
  for (const jvb of v.all("jvb")) {
    const other = store(jvb, JVB_ENV, "JVB");
    c.same(ref.bytes, other.bytes, { secret: true });
    c.same(ref.password, other.password, { secret: true });
  }
}

function bytesOf(file: FileEntry): string {
  return (
    file.encoding === "base64" ? Buffer.from(file.content, "base64") : Buffer.from(file.content)
  ).toString("base64");
}

function checkProsodyHost(c: Checker, v: View): void {
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

function checkSctp(c: Checker, v: View): void {
  // SCTP is native code not built for OpenBSD: both sides must say false (the paper's pitfall
  // "not disabling sctp (jvb AND jicofo)"). An absent key means the default, true.
  const sides: Found<HoconValue>[] = [
    v.hoconValue(v.one("jicofo"), JICOFO_CONF, "jicofo.sctp.enabled"),
    ...v.all("jvb").map((jvb) => v.hoconValue(jvb, JVB_CONF, "videobridge.sctp.enabled")),
  ];
  const off = sides.filter((s) => s.value === false);
  for (const side of sides) {
    if (side.value === false) {
      c.pass();
      continue;
    }
    const shown = side.value === undefined ? "missing (default true)" : `${JSON.stringify(side.value)}`;
    const other = off.find((o) => o.at.split(":")[0] !== side.at.split(":")[0]) ?? off[0];
    c.fail(
      other
        ? `${side.at} is ${shown} but ${other.at} is false (no SCTP on OpenBSD: all must be false)`
        : `${side.at} is ${shown} (no SCTP on OpenBSD: jicofo and every jvb must say false)`,
    );
  }
}

function checkNat(c: Checker, v: View): void {
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
      (r) =>
        r.action === "pass" &&
        r.direction !== "out" &&
        (r.proto.length === 0 || r.proto.includes("udp")) &&
        (r.rdrTo?.hosts.some((h) => !h.not && h.addr === address) ?? false),
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
          r.action === "pass" &&
          r.direction !== "out" &&
          (r.proto.length === 0 || r.proto.includes("udp")) &&
          (r.to.hosts.length === 0 ||
            r.to.hosts.some((h) => !h.not && ["any", "self", address].includes(h.addr))) &&
          (r.to.ports.length === 0 || r.to.ports.some((p) => portMatches(p, port))),
      );
    c.expect(own, () => `${jvb.node}:${PF_CONF} does not pass in udp port ${port} (${portRef.at})`);
  }
}

function checkColibri(c: Checker, v: View): void {
  const web = v.one("web");
  const jvbs = v.all("jvb");
  const locations = nginxLocations(v.nginx(web)).filter((l) => l.path.startsWith("/colibri-ws/"));
  const enabled = jvbs.filter(
    (j) => hoconGet(v.hocon(j, JVB_CONF), "videobridge.websockets.enabled") === true,
  );
  const on = v.spec.bridgeChannel === "colibri-websocket";
  if (!on) {
    // Off: nothing may turn it on halfway.
    for (const l of locations)
      c.fail(`${web.node}:${WEB_PATHS.nginxConf} has location ${l.path} but bridgeChannel is none`);
    for (const j of enabled)
      c.fail(`${j.node}:${JVB_CONF} videobridge.websockets.enabled is true but bridgeChannel is none`);
    c.note("bridgeChannel none: no colibri websockets");
    return;
  }
  const nginxAt = `${web.node}:${WEB_PATHS.nginxConf}`;
  const serverNames = nginxFind(v.nginx(web), ["http", "server", "server_name"]).flatMap((d) => d.args);
  const ids = new Map<string, string>();
  for (const jvb of jvbs) {
    const ws = (key: string) => v.hoconValue(jvb, JVB_CONF, `videobridge.websockets.${key}`);
    const en = ws("enabled");
    c.expect(en.value === true, () => `${en.at} is not true but ${nginxAt} proxies /colibri-ws/ to it`);
    const tls = ws("tls");
    // nginx serves the site over https only: the URL the bridge announces must be wss://.
    c.expect(
      tls.value === true,
      () => `${tls.at} is not true but ${nginxAt} serves the site over https only`,
    );
    const domains = [ws("domains").value, ws("domain").value].flatMap((d) =>
      Array.isArray(d) ? d.map(scalar) : [scalar(d)],
    );
    c.expect(
      domains.some((d) => d !== undefined && serverNames.includes(d)),
      () =>
        `${jvb.node}:${JVB_CONF} videobridge.websockets.domain(s) ${JSON.stringify(domains.filter(Boolean))} is not ${nginxAt} server_name ${JSON.stringify(serverNames[0] ?? "")}`,
    );
    const id = ws("server-id");
    const portFound = v.hoconValue(jvb, JVB_CONF, "videobridge.http-servers.public.port");
    const port = typeof portFound.value === "number" ? portFound.value : undefined;
    if (port === undefined)
      c.fail(`${portFound.at} is missing (nginx needs the bridge's public HTTP server)`);
    const sid = scalar(id.value);
    if (sid === undefined) {
      c.fail(`${id.at} is missing`);
      continue;
    }
    const twin = ids.get(sid);
    c.expect(twin === undefined, () => `${id.at} "${sid}" is also the server-id of ${twin}`);
    ids.set(sid, jvb.node);
    const path = `/colibri-ws/${sid}/`;
    const location = locations.find((l) => l.path === path);
    if (!location) {
      c.fail(`${nginxAt} has no location ${path} for ${id.at} "${sid}"`);
      continue;
    }
    const pass = location.directive.children?.find((d) => d.name === "proxy_pass");
    const at = `${nginxAt} location ${path} proxy_pass`;
    const url = parseHttpUrl(pass?.args[0] ?? "");
    if (!url) {
      c.fail(`${at} is missing or not an http:// URL`);
      continue;
    }
    const r = v.resolve(web, url.host);
    const address = v.address(jvb);
    c.expect(
      r.address !== undefined && r.address === address,
      () =>
        `${at} host "${url.host}" is ${r.address ?? "unresolved"} (${r.via}) but ${id.at} "${sid}" is on ${jvb.node} (${address ?? "?"})`,
    );
    if (port !== undefined) c.same({ at: portFound.at, value: port }, { at: `${at} port`, value: url.port });
  }
  for (const l of locations) {
    const sid = l.path.slice("/colibri-ws/".length).replace(/\/$/, "");
    c.expect(
      ids.has(sid),
      () => `${nginxAt} location ${l.path} names no bridge's videobridge.websockets.server-id`,
    );
  }
}

function checkTurn(c: Checker, v: View): void {
  const xmpp = v.one("xmpp");
  const global = v.prosody(xmpp).find((s) => s.kind === "global")?.settings ?? {};
  const turns = v.all("turn");
  const secretAt = v.prosodyAt("external_service_secret");
  const advertised = isLuaTable(global.external_services) ? global.external_services.items : [];
  const on = v.spec.turn.enabled || turns.length > 0;
  if (!on) {
    c.expect(
      global.external_service_secret === undefined && advertised.length === 0,
      () => `${v.prosodyAt("external_services")} advertises TURN but the deployment has no turn node`,
    );
    c.note("TURN off");
    return;
  }
  if (turns.length === 0) {
    c.fail(`TURN is on but the rendered deployment has no turn node (${secretAt})`);
    return;
  }
  for (const turn of turns) {
    const conf = v.turnserver(turn);
    const at = (k: string) => `${turn.node}:${TURN_CONF} ${k}`;
    c.expect(
      conf["use-auth-secret"] !== undefined,
      () => `${at("use-auth-secret")} is missing: coturn ignores static-auth-secret (${secretAt})`,
    );
    c.same(
      { at: secretAt, value: luaString(global.external_service_secret) },
      { at: at("static-auth-secret"), value: conf["static-auth-secret"]?.[0] },
      { secret: true },
    );
    const listening: Found = { at: at("listening-port"), value: conf["listening-port"]?.[0] ?? "3478" };
    const tlsListening: Found = {
      at: at("tls-listening-port"),
      value: conf["tls-listening-port"]?.[0] ?? "5349",
    };
    if (advertised.length === 0)
      c.fail(`${v.prosodyAt("external_services")} is missing (${at("listening-port")})`);
    advertised.forEach((service, i) => {
      const type = isLuaTable(service) ? luaString(service.fields.type) : undefined;
      const port = isLuaTable(service) ? service.fields.port : undefined;
      const found: Found = {
        at: v.prosodyAt(`external_services[${i + 1}] (${type ?? "?"}) port`),
        value: typeof port === "number" ? String(port) : undefined,
      };
      c.same(type === "turns" ? tlsListening : listening, found);
    });
    // external-ip PUBLIC/PRIVATE: the relayed addresses clients get are the public one.
    const ext = conf["external-ip"]?.[0];
    const [pub, priv] = (ext ?? "").split("/");
    c.same(
      { at: "spec publicAddress", value: v.spec.publicAddress },
      { at: at("external-ip"), value: pub || undefined },
    );
    if (priv !== undefined)
      c.same(
        { at: `${turn.node}'s address`, value: v.address(turn) },
        { at: `${at("external-ip")} private`, value: priv },
      );
  }
  // The client hosts must load mod_external_services to hand out the credentials.
  for (const s of v.prosody(xmpp)) {
    if (s.kind !== "VirtualHost" || s.name.startsWith("auth.")) continue;
    const modules = isLuaTable(s.settings.modules_enabled)
      ? s.settings.modules_enabled.items.map(luaString)
      : [];
    c.expect(modules.includes("external_services"), () =>
      v.prosodyAt(`VirtualHost "${s.name}" modules_enabled lacks "external_services" (${secretAt} is set)`),
    );
  }
}

// ---------------------------------------------------------------------------------------------------------
// Small helpers

function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/** The host of `//host/path`, `https://host:port/path`. */
function urlHost(url: string): string | undefined {
  return /^(?:[a-z][a-z0-9+.-]*:)?\/\/([^/:?#]+)/i.exec(url)?.[1];
}

/**
 * The REST servers pf lets the monitoring networks reach (jicofo 8888 on the jicofo VM, jvb 8080 on each
 * bridge) listen on more than loopback, and those pf keeps closed listen on loopback only: a pf rule to a
 * port nothing answers on (the paper's, and jvb's default 127.0.0.1) is as wrong as an open listener.
 */
function checkMonitoring(c: Checker, v: View): void {
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
          r.action === "pass" &&
          r.direction !== "out" &&
          (r.proto.length === 0 || r.proto.includes("tcp")) &&
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

function parseHttpUrl(url: string): { host: string; port: number } | undefined {
  const m = /^http:\/\/([^/:?#]+)(?::(\d+))?(?:[/?#]|$)/i.exec(url);
  if (!m) return undefined;
  return { host: m[1]!, port: m[2] === undefined ? 80 : Number(m[2]) };
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
