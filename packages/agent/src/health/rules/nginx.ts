import { ROTATED } from "./common.js";
import type { Rule } from "./rule.js";

/** nginx on the web VM: its upstreams are prosody's BOSH/websocket (5280) and jvb's colibri-ws. */
function nginxPathRules(path: "/http-bind" | "/xmpp-websocket" | "/colibri-ws", name: string): Rule[] {
  const reqPath = path.replace("/", "\\/");
  const what =
    path === "/colibri-ws"
      ? "jvb's colibri websocket endpoint (public HTTP server, 9090)"
      : `prosody's ${path === "/http-bind" ? "BOSH" : "websocket"} endpoint (${path}, port 5280 on the xmpp VM)`;
  const upstreamFix =
    path === "/colibri-ws"
      ? "Check jvb runs, its public HTTP server listens on an address the web VM reaches and pf passes it."
      : "Check prosody runs, listens on the xmpp VM's address for HTTP (the paper sets http_interfaces = " +
        '{ "*", "::" }: the default is localhost only), the proxy_pass address in nginx.conf and that pf passes ' +
        "tcp 5280 from the web VM.";
  // The request ("GET /http-bind?room=... HTTP/1.1") follows the error text; it is never extracted
  // (query strings may carry room names and tokens).
  return [
    {
      signal: `${name}-upstream-connect-failed`,
      label: path === "/colibri-ws" ? "degraded" : "failed",
      needles: [path],
      re: new RegExp(`\\((\\d+: [^)]*)\\) while connecting to upstream\\b[^\\n]*?"[A-Z]+ ${reqPath}\\b`),
      explain: `nginx cannot connect to ${what}.`,
      fix: upstreamFix,
      detail: 1,
    },
    {
      signal: `${name}-upstream-timeout`,
      label: "degraded",
      needles: [path],
      re: new RegExp(`upstream timed out\\b[^\\n]*?"[A-Z]+ ${reqPath}\\b`),
      explain: `${what} did not answer nginx in time (proxy_read_timeout): prosody is overloaded or stuck.`,
      fix: `${upstreamFix} Look at prosody's log and load on the xmpp VM.`,
    },
    {
      signal: `${name}-upstream-error`,
      label: "degraded",
      needles: [path],
      re: new RegExp(`\\[(?:error|crit|alert)\\][^\\n]*?upstream[^\\n]*?"[A-Z]+ ${reqPath}\\b`),
      explain: `nginx got an error from ${what}.`,
      fix: upstreamFix,
    },
    {
      signal: `${name}-http-5xx`,
      label: "degraded",
      needles: [path],
      // access log: "POST /http-bind?room=x HTTP/1.1" 502 ...
      re: new RegExp(`"[A-Z]+ ${reqPath}[^"]*" (50[234])\\b`),
      explain: `nginx answered a request for ${path} with a gateway error: ${what} failed.`,
      fix: upstreamFix,
      detail: 1,
    },
  ];
}

/** nginx's rules, in match order (first match wins; rule.ts says what a rule is). */
export function nginxRules(): Rule[] {
  return [
    ...nginxPathRules("/http-bind", "bosh"),
    ...nginxPathRules("/xmpp-websocket", "websocket"),
    ...nginxPathRules("/colibri-ws", "colibri-ws"),
    {
      signal: "port-bind-failed",
      label: "failed",
      needles: ["bind() to "],
      re: /bind\(\) to (\S+) failed \((\d+: [^)]*)\)/,
      covers: ["ngx_open_listening_sockets: bind() to"],
      explain:
        "nginx cannot listen on a port: another process holds it (a second nginx?) or the address is not here.",
      fix: "Check with fstat which process holds the port and the listen directives, then rcctl restart nginx.",
      detail: (m) => `${m[1]} (${m[2]})`,
    },
    {
      signal: "tls-certificate-load-failed",
      label: "failed",
      needles: ["cannot load certificate"],
      re: /cannot load certificate(?: key)? "([^"]+)"/,
      covers: ["ngx_ssl_certificate", "ngx_ssl_load_certificate*"],
      explain:
        "nginx cannot load a TLS certificate or key; browsers refuse camera and microphone without TLS.",
      fix: "Check ssl_certificate/ssl_certificate_key paths (acme-client output) and that the files exist.",
      detail: 1,
    },
    {
      signal: "upstream-host-not-found",
      label: "failed",
      needles: ["host not found in"],
      re: /host not found in (?:upstream|resolver|"[^"]*" of the "\w+" directive)/,
      covers: [
        "ngx_http_upstream_init_round_robin: host not found",
        "ngx_parse_url",
        "ngx_inet_resolve_host",
        "ngx_http_upstream_server: host not found",
      ],
      explain:
        "nginx cannot resolve the host name of an upstream (proxy_pass to prosody or jvb), so it does not " +
        "start or reload.",
      fix: "Put the xmpp and jvb VMs' names into /etc/hosts on the web VM (the paper does), or use addresses in proxy_pass.",
    },
    {
      signal: "config-invalid",
      label: "failed",
      needles: ["[emerg]"],
      re: /\[emerg\][^\n]*? in (\/\S+?:\d+)/,
      covers: [
        "E ngx_conf_*",
        "E ngx_http_core_*",
        "E ngx_http_add_*",
        "E ngx_http_upstream_server",
        "E ngx_http_upstream_add",
        "E ngx_http_upstream_init_round_robin",
        "E ngx_http_proxy_pass",
        "E ngx_http_proxy_eval",
      ],
      explain:
        "nginx rejected its configuration (it keeps running the old one on reload, or does not start).",
      fix: "Run nginx -t, fix the named line, rcctl reload nginx.",
      detail: 1,
    },
    ROTATED,
  ];
}
