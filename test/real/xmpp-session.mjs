// A REAL XMPP client session (@xmpp/client 0.14: TCP, STARTTLS, SASL SCRAM-SHA-1, resource binding) with the
// interface of the simulators' xmppLogin (test/simulators/lib.mjs): { jid, on("presence"|"close"), join(room,
// nick), close() }, failures as its LoginError kinds. So the simulators' keepLoggedIn() loop drives it, and
// the stand-ins of jicofo and jvb (jitsi-client.mjs) behave like the simulators but talk to Debian's real
// prosody.
//
// Trust: @xmpp/starttls upgrades with tls.connect({ socket, host: domain }) and takes no CA option, so the
// certificate is checked against the process's default store. The processes that use this module are
// started with `node --use-openssl-ca` and SSL_CERT_FILE (one PEM: the CA certificates of the rendered
// truststore) and SSL_CERT_DIR (an empty directory): Node then trusts exactly those CAs and nothing else
// (Node's CLI documentation, --use-openssl-ca; OpenSSL reads both variables once, at the first TLS use).
import { client, xml } from "@xmpp/client";
import { LoginError } from "../simulators/lib.mjs";

const MUC = "http://jabber.org/protocol/muc";
const MUC_USER = "http://jabber.org/protocol/muc#user";

// What Node's TLS says when the chain or the name does not check out: Java's "PKIX path building failed".
const PKIX = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "UNABLE_TO_GET_ISSUER_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_UNTRUSTED",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

function loginError(e) {
  if (e instanceof LoginError) return e;
  if (e?.code === "ECONNREFUSED") return new LoginError("refused", e.message);
  if (PKIX.has(e?.code)) return new LoginError("pkix", e.code);
  if (e?.name === "SASLError") return new LoginError("sasl", e.condition ?? "not-authorized");
  if (e?.name === "StreamError" && e.condition === "host-unknown") return new LoginError("host-unknown");
  return new LoginError("closed", e?.condition ?? e?.code ?? e?.message ?? String(e));
}

/**
 * Log in to `address`:`port` for `domain` (the stream's `to`, and the name the certificate must carry) as
 * `username` with `password` (none: SASL ANONYMOUS). Resolves to a session, rejects with a LoginError.
 */
export async function realXmppLogin({
  address,
  port,
  domain,
  username,
  password,
  resource,
  timeoutMs = 20_000,
}) {
  const xmpp = client({
    service: `xmpp://${address.includes(":") ? `[${address}]` : address}:${port}`,
    domain,
    ...(username === undefined ? {} : { username, password }),
    ...(resource === undefined ? {} : { resource }),
  });
  // smack's reconnection is the caller's loop (keepLoggedIn), as with the simulators.
  xmpp.reconnect.stop();
  const listeners = { presence: [], close: [] };
  const pendingJoins = new Map();
  let lastError;
  let closed = false;
  const onClosed = () => {
    if (closed) return;
    closed = true;
    for (const [, p] of pendingJoins) p({ ok: false, condition: "connection closed" });
    pendingJoins.clear();
    for (const f of listeners.close) f();
  };
  xmpp.on("error", (e) => {
    lastError = e;
  });
  xmpp.on("stanza", (st) => {
    if (!st.is("presence")) return;
    const from = String(st.attrs.from ?? "");
    const slash = from.indexOf("/");
    if (slash < 0) return;
    const room = from.slice(0, slash).toLowerCase();
    const nick = from.slice(slash + 1);
    const type = st.attrs.type;
    const pending = pendingJoins.get(room);
    if (pending && type === "error") {
      pendingJoins.delete(room);
      const cond = st.getChild("error")?.children.find((c) => typeof c === "object")?.name;
      pending({ ok: false, condition: cond ?? "error" });
      return;
    }
    const codes = (st.getChild("x", MUC_USER)?.getChildren("status") ?? []).map((s) => s.attrs.code);
    if (pending && codes.includes("110")) {
      pendingJoins.delete(room);
      pending({ ok: true, codes });
    }
    for (const f of listeners.presence) f(room, nick, type !== "unavailable" && type !== "error", codes);
  });
  let timer;
  try {
    const jid = await Promise.race([
      xmpp.start(),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new LoginError("closed", `no session after ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]);
    clearTimeout(timer);
    // After the login: a drop of the connection is a close of the session.
    xmpp.on("disconnect", onClosed);
    xmpp.on("offline", onClosed);
    return {
      jid: jid.toString(),
      xmpp,
      on(event, f) {
        listeners[event].push(f);
      },
      /** Join a MUC room as `nick`: { ok, codes } on the self-presence (status 110), { ok: false, condition }. */
      join(room, nick) {
        return new Promise((resolve) => {
          pendingJoins.set(room.toLowerCase(), resolve);
          xmpp.send(xml("presence", { to: `${room}/${nick}` }, xml("x", { xmlns: MUC }))).catch(() => {
            pendingJoins.delete(room.toLowerCase());
            resolve({ ok: false, condition: "send failed" });
          });
        });
      },
      close() {
        return xmpp.stop().catch(() => undefined);
      },
    };
  } catch (e) {
    clearTimeout(timer);
    const err = loginError(e ?? lastError);
    // A client that fails to log in closes its stream, as smack does: prosody then logs "Client
    // disconnected: connection closed" after "Stream encrypted" (the paper's wrong-password pattern).
    await xmpp.stop().catch(() => undefined);
    throw err;
  }
}
