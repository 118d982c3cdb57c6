// wss to the coordinator: the deployment CA, this agent's client certificate, and the pin of the CA taken at
// enrollment (enroll/pin.ts), as options of the websocket.
import type { ConnectionOptions } from "node:tls";
import { pinnedServerIdentity } from "../enroll/pin.js";

/** TLS material for wss: the deployment CA and this agent's client certificate. */
export interface TransportTls {
  ca?: string;
  cert?: string;
  key?: string;
  /** "sha256:HEX" of the CA pinned at enrollment: the server's verified chain must contain it. */
  caHash?: string;
}

/** The websocket's TLS options: only what is given (a plain ws:// link in tests has none). */
export function tlsSocketOptions(
  tls: TransportTls | undefined,
): Pick<ConnectionOptions, "ca" | "cert" | "key" | "checkServerIdentity"> {
  return {
    ...(tls?.ca ? { ca: tls.ca } : {}),
    ...(tls?.cert && tls.key ? { cert: tls.cert, key: tls.key } : {}),
    ...(tls?.caHash ? { checkServerIdentity: pinnedServerIdentity(tls.caHash) } : {}),
  };
}
