#!/usr/bin/env node
// The end-to-end test's own XMPP clients, run in the VMM host's network namespace (RealDeployment.runOnHost).
// Parameters come as JSON on stdin (a password never appears in argv), one JSON result on stdout.
//
//   probe.mjs login   {address, port, domain, username, password}
//       A real client login (@xmpp/client, xmpp-session.mjs): STARTTLS, SCRAM, bind. Start it with
//       `node --use-openssl-ca` and SSL_CERT_FILE/SSL_CERT_DIR to choose the only CA it trusts.
//       -> {ok: true, jid} | {ok: false, kind, detail}
//   probe.mjs bosh    {address, port, host, ca, room, nick}
//       An anonymous browser-like client over BOSH (XEP-0124, XMPP over BOSH XEP-0206): @xmpp/client has
//       no BOSH transport, so the few requests are spoken here with node:https to nginx's /http-bind
//       (TLS checked against `ca`, the site certificate, for the name `host`): session creation, SASL
//       ANONYMOUS, stream restart, resource binding, presence to ROOM/NICK with the MUC namespace, and
//       the room's self-presence (status 110), then termination.
//       -> {ok: true, sid, jid, codes, saslMechanisms} | {ok: false, step, detail}
import https from "node:https";
import { realXmppLogin } from "./xmpp-session.mjs";

const input = JSON.parse(await new Response(process.stdin).text());
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

async function login(p) {
  try {
    const s = await realXmppLogin({
      address: p.address,
      port: p.port,
      domain: p.domain,
      username: p.username,
      password: p.password,
    });
    out({ ok: true, jid: s.jid });
    await s.close();
  } catch (e) {
    out({ ok: false, kind: e.kind ?? "error", detail: e.detail ?? e.message });
  }
}

const HTTPBIND = "http://jabber.org/protocol/httpbind";
const esc = (s) => String(s).replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);
/** Attribute `name` of the first `tag` element in `xml` (prosody quotes attributes with ' or "). */
function attr(xml, tag, name) {
  const el = new RegExp(`<${tag}\\b[^>]*>`).exec(xml)?.[0];
  return el ? new RegExp(`\\s${name}=(['"])(.*?)\\1`).exec(el)?.[2] : undefined;
}

async function bosh(p) {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  let rid = Math.floor(Math.random() * 1e9) + 1e6;
  let sid;
  const post = (inner, attrs = "") =>
    new Promise((resolve, reject) => {
      const body = `<body rid='${rid++}'${sid ? ` sid='${sid}'` : ""} xmlns='${HTTPBIND}'${attrs}>${inner}</body>`;
      const req = https.request(
        {
          host: p.address,
          port: p.port,
          method: "POST",
          path: "/http-bind",
          servername: p.host,
          ca: p.ca,
          agent,
          headers: { Host: p.host, "Content-Type": "text/xml; charset=utf-8" },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (d) => {
            text += d;
          });
          res.on("end", () =>
            res.statusCode === 200
              ? resolve(text)
              : reject(new Error(`HTTP ${res.statusCode}: ${text.slice(0, 200)}`)),
          );
        },
      );
      req.on("error", reject);
      req.setTimeout(30_000, () => req.destroy(new Error("no answer in 30 s")));
      req.end(body);
    });
  /** Sends `inner`, then polls with empty bodies until `until(all text so far)` holds. */
  const exchange = async (inner, until, attrs = "") => {
    let text = await post(inner, attrs);
    for (let i = 0; i < 5 && !until(text); i++) {
      if (/\stype=(['"])terminate\1/.test(text)) break;
      text += await post("");
    }
    return text;
  };
  let step = "session";
  try {
    const created = await exchange(
      "",
      (t) => /<mechanisms\b/.test(t),
      ` content='text/xml; charset=utf-8' hold='1' to='${esc(p.host)}' ver='1.6' wait='10' xml:lang='en' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'`,
    );
    sid = attr(created, "body", "sid");
    if (!sid) throw new Error(`no sid: ${created.slice(0, 300)}`);
    const saslMechanisms = [...created.matchAll(/<mechanism>([^<]+)<\/mechanism>/g)].map((m) => m[1]);
    step = "sasl";
    const auth = await exchange(
      "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'/>",
      (t) => /<(success|failure)\b/.test(t),
    );
    if (!/<success\b/.test(auth)) throw new Error(auth.slice(0, 300));
    step = "restart";
    const restarted = await exchange(
      "",
      (t) => /<bind\b/.test(t),
      ` to='${esc(p.host)}' xml:lang='en' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'`,
    );
    if (!/<bind\b/.test(restarted)) throw new Error(restarted.slice(0, 300));
    step = "bind";
    const bound = await exchange(
      "<iq type='set' id='bind_1' xmlns='jabber:client'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
      (t) => /<jid>/.test(t),
    );
    const jid = /<jid>([^<]+)<\/jid>/.exec(bound)?.[1];
    if (!jid) throw new Error(bound.slice(0, 300));
    step = "join";
    const occupant = `${p.room}/${p.nick}`;
    const selfPresence = (t) =>
      [...t.matchAll(/<presence\b[^>]*?\/>|<presence\b[^>]*>[\s\S]*?<\/presence>/g)]
        .map((m) => m[0])
        .find((pr) => attr(pr, "presence", "from")?.toLowerCase() === occupant.toLowerCase());
    const joined = await exchange(
      `<presence to='${esc(occupant)}' xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc'/></presence>`,
      (t) => selfPresence(t) !== undefined,
    );
    const mine = selfPresence(joined);
    if (!mine) throw new Error(`no presence from ${occupant}: ${joined.slice(0, 300)}`);
    if (attr(mine, "presence", "type") === "error") throw new Error(mine);
    const codes = [...mine.matchAll(/<status\b[^>]*\scode=(['"])(\d+)\1/g)].map((m) => m[2]);
    step = "terminate";
    await post("<presence type='unavailable' xmlns='jabber:client'/>", " type='terminate'");
    out({ ok: true, sid, jid, codes, saslMechanisms });
  } catch (e) {
    out({ ok: false, step, detail: e.message });
  } finally {
    agent.destroy();
  }
}

if (process.argv[2] === "login") await login(input);
else if (process.argv[2] === "bosh") await bosh(input);
else {
  process.stderr.write("usage: probe.mjs login|bosh < params.json\n");
  process.exit(64);
}
