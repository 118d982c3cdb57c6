// The XMPP names and credentials every VM must agree on: the domain, auth.DOMAIN, the brewery MUC, the
// conference MUC, the focus proxy and the passwords (with the truststores jicofo and the bridges share).
import { entryBytes } from "@vmmeet/node";
import type { FileEntry, NodeDesired, SetupAction } from "@vmmeet/shared";
import { isLuaTable, jsGet, luaString, nginxFind, type ProsodySection } from "../grammar/index.js";
import { JICOFO_CONF, JICOFO_ENV } from "../jicofo.js";
import { JVB_ENV } from "../jvb.js";
import { TURN_CONF } from "../turn.js";
import { WEB_PATHS } from "../web.js";
import type { Checker, Found } from "./checker.js";
import { JICOFO_XMPP_DOMAIN_RELEASE, jicofoAt, jicofoHostFlag, scalar, urlHost, type View } from "./view.js";

export function checkDomain(c: Checker, v: View): void {
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

export function checkAuthDomain(c: Checker, v: View): void {
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

export function checkBrewery(c: Checker, v: View): void {
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

/** Prosody's Component `name`; a failure when it is missing or is not of `module`. */
function component(c: Checker, v: View, name: string, module: string): ProsodySection | undefined {
  const section = v.prosodySection(name, "Component");
  if (!section) {
    c.fail(v.prosodyAt(`has no Component "${name}"`));
    return undefined;
  }
  c.expect(section.module === module, () =>
    v.prosodyAt(`Component "${name}" is "${section.module ?? ""}", not "${module}"`),
  );
  return section;
}

export function checkConferenceMuc(c: Checker, v: View): void {
  const name = `conference.${v.domain}`;
  if (!component(c, v, name, "muc")) return;
  const ref: Found = { at: v.prosodyAt("Component"), value: name };
  const web = v.one("web");
  c.same(ref, {
    at: `${web.node}:${WEB_PATHS.configJs} hosts.muc`,
    value: scalar(jsGet(v.configJs(web), "hosts.muc")),
  });
  // Before 8044 jicofo derives the conference MUC from --host (conference.DOMAIN).
  if (v.release >= JICOFO_XMPP_DOMAIN_RELEASE)
    c.same(ref, jicofoAt(v, "jicofo.xmpp.client.conference-muc-jid"));
}

export function checkFocusProxy(c: Checker, v: View): void {
  const proxyName = `focus.${v.domain}`;
  const proxySection = component(c, v, proxyName, "client_proxy");
  if (!proxySection) return;
  const target: Found = {
    at: v.prosodyAt(`Component "${proxyName}" target_address`),
    value: luaString(proxySection.settings.target_address),
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

export function checkPasswords(c: Checker, v: View): void {
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
  return entryBytes(file).toString("base64");
}
