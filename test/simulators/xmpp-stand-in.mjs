// The XMPP stand-in: the simulators do NOT speak XMPP and do no TLS. They exchange newline-terminated text
// lines over loopback TCP that model what matters for the deployment's health: which virtual host a client
// asks for, whether the client trusts the certificate prosody would present (the real certificate file is
// sent and the client checks it against the CA certificates of its real PKCS#12 truststore), a SCRAM-style
// login against the salted keys prosodyctl stored (the password never crosses the socket), and MUC
// presence in the brewery room.
//
//   S: SIMXMPP1 prosody-simulator              C: STREAM <domain>
//   S: ERR host-unknown | CERT <base64 DER>    C: TLS ok | TLS alert certificate-unknown
//   C: AUTH <user> <client nonce>              S: CHALLENGE <salt b64> <iterations> <server nonce>
//   C: PROOF <b64>                             S: SUCCESS <full jid> | FAILURE not-authorized
//   C: JOIN <room>/<nick>                      S: JOINED <room> <nick> | JOINERR <room> <condition>
//   S: PRESENCE <room> <nick> available|unavailable (for every occupant, to every occupant)
//   C: LEAVE <room>    C: PING  S: PONG
//   S: ERR system-shutdown (prosody stopping: the stream error it closes every session with)
import { randomBytes } from "node:crypto";
import net from "node:net";
import { scramProof } from "./prosody-accounts.mjs";
import { lookup, resolveHost } from "./simulated-network.mjs";
import { trustedBy } from "./truststore.mjs";

/** Calls onLine for each "\n"-terminated line arriving on the socket. */
export function onLines(socket, onLine) {
  let buf = "";
  socket.setEncoding("utf8");
  socket.on("data", (d) => {
    buf += d;
    let nl = buf.indexOf("\n");
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
      nl = buf.indexOf("\n");
    }
  });
}

export function send(socket, ...words) {
  if (!socket.destroyed && socket.writable) socket.write(`${words.join(" ")}\n`);
}

/** A failed XMPP login attempt as the simulator's client sees it. */
export class LoginError extends Error {
  constructor(kind, detail) {
    super(`${kind}${detail ? `: ${detail}` : ""}`);
    this.kind = kind; // unknown-host | refused | host-unknown | pkix | sasl | closed | tls-failed
    this.detail = detail;
  }
}

/**
 * Log in to the simulated prosody like smack would: resolve, connect, check the certificate against the
 * truststore's CAs, authenticate. Resolves to a session { jid, socket, join(room, nick), on(...) }.
 */
export function xmppLogin(options) {
  const { root, netDir, hostname, port, domain, username, password, cas, disableVerification } = options;
  return new Promise((resolve, reject) => {
    const address = resolveHost(root, hostname);
    if (address === undefined) return reject(new LoginError("unknown-host", hostname));
    const local = lookup(netDir, address, port);
    if (local === undefined) return reject(new LoginError("refused", `${hostname}:${port}`));
    const socket = net.connect({ host: "127.0.0.1", port: local });
    const listeners = { presence: [], close: [] };
    let stage = "greeting";
    let clientNonce = "";
    let settled = false;
    const fail = (kind, detail) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      reject(new LoginError(kind, detail));
    };
    const pendingJoins = new Map();
    socket.on("error", (e) => fail(e.code === "ECONNREFUSED" ? "refused" : "closed", `${hostname}:${port}`));
    socket.on("close", () => {
      if (!settled) return fail("closed", "connection closed by the server");
      for (const [, p] of pendingJoins) p.resolve({ ok: false, condition: "connection closed" });
      pendingJoins.clear();
      for (const f of listeners.close) f(session.streamError);
    });
    const session = {
      jid: undefined,
      socket,
      on(event, f) {
        listeners[event].push(f);
      },
      join(room, nick) {
        return new Promise((res) => {
          pendingJoins.set(room.toLowerCase(), { resolve: res });
          send(socket, "JOIN", `${room}/${nick}`);
        });
      },
      close() {
        socket.end();
      },
    };
    onLines(socket, (line) => {
      const [cmd, ...args] = line.split(" ");
      if (stage === "greeting") {
        if (cmd !== "SIMXMPP1") return fail("closed", "not a prosody simulator");
        stage = "stream";
        send(socket, "STREAM", domain);
      } else if (stage === "stream") {
        if (cmd === "ERR") return fail(args[0] === "host-unknown" ? "host-unknown" : "tls-failed", args[0]);
        if (cmd !== "CERT") return fail("closed", line);
        const der = Buffer.from(args[0] ?? "", "base64");
        if (!disableVerification && !trustedBy(der, cas)) {
          send(socket, "TLS", "alert", "certificate-unknown");
          socket.end();
          settled = true;
          return reject(new LoginError("pkix"));
        }
        send(socket, "TLS", "ok");
        clientNonce = randomBytes(12).toString("hex");
        stage = "auth";
        send(socket, "AUTH", username, clientNonce);
      } else if (stage === "auth") {
        if (cmd !== "CHALLENGE") return fail("closed", line);
        const [salt, iterations, serverNonce] = args;
        const proof = scramProof(
          password,
          Buffer.from(salt, "base64").toString("utf8"),
          Number(iterations),
          `${clientNonce},${serverNonce}`,
        );
        stage = "proof";
        send(socket, "PROOF", proof.toString("base64"));
      } else if (stage === "proof") {
        if (cmd === "SUCCESS") {
          stage = "session";
          settled = true;
          session.jid = args[0];
          resolve(session);
        } else {
          // smack closes the connection after a SASL failure; prosody logs the close.
          socket.end();
          settled = true;
          reject(new LoginError("sasl", args[0] ?? "not-authorized"));
        }
      } else if (cmd === "ERR") {
        // A stream error in an established session (prosody shutting down: system-shutdown).
        session.streamError = args[0];
      } else if (cmd === "JOINED" || cmd === "JOINERR") {
        const p = pendingJoins.get((args[0] ?? "").toLowerCase());
        pendingJoins.delete((args[0] ?? "").toLowerCase());
        p?.resolve(cmd === "JOINED" ? { ok: true } : { ok: false, condition: args[1] });
      } else if (cmd === "PRESENCE") {
        for (const f of listeners.presence) f(args[0], args[1], args[2] === "available");
      }
    });
  });
}

const STREAM_ERRORS =
  "You can read more about the meaning of this stream error at http://xmpp.org/rfcs/rfc6120.html#streams-error-conditions";

/**
 * Why smack says a connection closed: prosody's stream error when it shut down (system-shutdown), a reset
 * connection otherwise. { message (the exception's message), exception (its line in the log) }.
 */
export function closedError(streamError) {
  if (streamError === undefined)
    return { message: "Connection reset", exception: "java.net.SocketException: Connection reset" };
  const message = `${streamError} ${STREAM_ERRORS}`;
  return { message, exception: `org.jivesoftware.smack.XMPPException$StreamErrorException: ${message}` };
}
