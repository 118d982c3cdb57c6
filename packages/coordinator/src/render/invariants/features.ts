// Features both sides must turn on or off together: SCTP (off everywhere on OpenBSD), colibri websockets
// (nginx's locations and each bridge's server-id) and TURN (prosody's secret and ports and coturn's).
import {
  type HoconValue,
  hoconGet,
  isLuaTable,
  luaString,
  nginxFind,
  nginxLocations,
} from "../grammar/index.js";
import { JICOFO_CONF } from "../jicofo.js";
import { JVB_CONF } from "../jvb.js";
import { TURN_CONF } from "../turn.js";
import { WEB_PATHS } from "../web.js";
import type { Checker, Found } from "./checker.js";
import { parseHttpUrl, scalar, type View } from "./view.js";

export function checkSctp(c: Checker, v: View): void {
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
    const other = off.find((f) => f.at.split(":")[0] !== side.at.split(":")[0]) ?? off[0];
    c.fail(
      other
        ? `${side.at} is ${shown} but ${other.at} is false (no SCTP on OpenBSD: all must be false)`
        : `${side.at} is ${shown} (no SCTP on OpenBSD: jicofo and every jvb must say false)`,
    );
  }
}

export function checkColibri(c: Checker, v: View): void {
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

export function checkTurn(c: Checker, v: View): void {
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
