// The web VM: nginx serving the jitsi-meet static files and proxying XMPP (BOSH, optionally websocket) to
// prosody and colibri websockets to the bridges; jitsi-meet's config.js; acme-client.conf for Let's Encrypt.
//
// Model: the paper's testing-config/nginx.conf and its "jitsi-web" config.js listing
// (double-p/presentations AsiaBSDCon/2023), with the OpenBSD package layout (www/nginx: config
// /etc/nginx/nginx.conf, prefix and chroot /var/www, logs /var/www/logs; net/jitsi/meet: /var/www/jitsi-meet).
// Where this file departs from the paper, the comment next to the setting says why; the list of
// deliberate differences is in test/render-web-xmpp.test.ts.
import {
  ACME,
  actionRefusal,
  jvbNickname,
  NGINX,
  type NodeSpec,
  nodeByRole,
  type SetupAction,
  type Spec,
  tlsPaths,
} from "@vmmeet/shared";
import { GENERATED } from "./header.js";
import { bare, js } from "./quote.js";
import type { ComponentRender, ComponentRenderer, RenderInput } from "./types.js";

/** Paths on the web VM (OpenBSD packages www/nginx and net/jitsi/meet). */
export const WEB_PATHS = {
  nginxConf: NGINX.config.value,
  configJs: NGINX.configJs.value,
  acmeConf: ACME.config.value,
  /** jitsi-meet's files; inside nginx's /var/www chroot, so the same path works before and after chroot. */
  webRoot: NGINX.webRoot.value,
  /** acme-client(1)'s default challengedir, inside the chroot (the paper's `root /var/www/acme`). */
  acmeChallengeDir: ACME.challengeDir.value,
  errorLog: NGINX.errorLog.value,
  accessLog: NGINX.accessLog.value,
} as const;

/**
 * The agent runs acme-client for a certificate that expires within this many days. acme-client(1) itself
 * renews only inside the last 30 days of a certificate (before that it exits 2, "nothing to do"), so a
 * wider window would only run it for nothing.
 */
export const ACME_RENEW_BEFORE_DAYS = 30;

/** prosody's HTTP port (BOSH and XMPP websocket), `http_ports` in prosody.cfg.lua. */
export const PROSODY_HTTP_PORT = 5280;
/**
 * jvb's public HTTP server (videobridge.http-servers.public.port in jvb.conf) serving /colibri-ws/ to
 * nginx. Defined here rather than in jvb.ts because jvb.ts already imports from this module.
 */
export const JVB_PUBLIC_HTTP_PORT = 9090;

/** The URL path prefix nginx routes to one bridge: jvb.conf's websockets.server-id must be this id. */
export function colibriWsPath(jvb: NodeSpec): string {
  return `/colibri-ws/${jvbNickname(jvb)}/`;
}

export const renderWeb: ComponentRenderer = (input: RenderInput, node: NodeSpec): ComponentRender => {
  const { spec } = input;
  if (node.role !== "web") {
    throw new Error(`nodes[${spec.nodes.indexOf(node)}].role: renderWeb called for a ${node.role} node`);
  }
  const files: ComponentRender["files"] = [
    {
      path: WEB_PATHS.nginxConf,
      content: nginxConf(spec),
      mode: "0644",
      owner: "root",
      group: "wheel",
      // www/nginx's rc.d reload runs `nginx -t` first: a bad config fails the reload and the running
      // nginx keeps the old one (www/nginx pkg/nginx.rc; docs/openbsd-rc.md section 3).
      notify: [{ service: NGINX.service.value, action: "reload" }],
    },
    {
      path: WEB_PATHS.configJs,
      content: configJs(spec),
      mode: "0644",
      owner: "root",
      group: "wheel",
      // A static file: browsers fetch it on the next page load; nginx needs no signal.
      notify: [],
    },
  ];
  const actions: SetupAction[] = [];
  if (spec.tls.mode === "acme") {
    files.push({
      path: WEB_PATHS.acmeConf,
      content: acmeClientConf(spec),
      mode: "0644",
      owner: "root",
      group: "wheel",
      notify: [],
    });
    actions.push(acmeAction(spec));
  }
  return {
    files,
    services: [{ name: NGINX.service.value, flags: NGINX.flags.value, order: 10, graceSeconds: 10 }],
    actions,
    programLogs: [],
    logs: [{ component: "nginx", path: WEB_PATHS.errorLog }],
    probes: [{ component: "nginx", service: NGINX.service.value, ports: [80, 443] }],
  };
};

// ---------------------------------------------------------------------------------------------- nginx.conf

function nginxConf(spec: Spec): string {
  const domain = bare(spec.domain, "nginx.conf server_name");
  const tls = tlsPaths(spec);
  const xmpp = nodeByRole(spec, "xmpp");
  const xmppAddr = bare(xmpp.address, "nginx.conf proxy_pass");
  const L: string[] = [];
  L.push(
    `# ${GENERATED}`,
    "#",
    "# OpenBSD's nginx (www/nginx) runs with prefix /var/www and chroots its workers to /var/www; the",
    "# absolute paths below (/var/www/jitsi-meet, /var/www/acme) lie inside the chroot, as in the paper.",
    "worker_processes  5;",
    "worker_rlimit_nofile 1024;",
    "",
    `error_log  ${bare(WEB_PATHS.errorLog, "nginx.conf error_log")};`,
    "",
    "events {",
    "    worker_connections  800;",
    "}",
    "",
    "http {",
    "    include       mime.types;",
    "    default_type  application/octet-stream;",
    "    index         index.html;",
    "",
    "    log_format  main  '[$time_local]^$remote_addr^\"$request\"^'",
    "                      '$status^$body_bytes_sent^'",
    "                      '$proxy_host^$upstream_addr^'",
    "                      '\"$http_x_forwarded_for\"';",
    "",
    `    access_log  ${bare(WEB_PATHS.accessLog, "nginx.conf access_log")}  main;`,
    "    keepalive_timeout  65;",
    "",
    // Plain HTTP in its own server: the paper redirects with a server-level `if ($scheme != "https")`,
    // which runs before any location, so its ACME location was only reachable through the redirect.
    // Here the http-01 challenge is answered on port 80 directly (RFC 8555 section 8.3) and everything
    // else is redirected.
    "    # Port 80: the ACME http-01 challenge (when Let's Encrypt is used), and a redirect to https.",
    "    server {",
    "        listen       80;",
    "        listen       [::]:80;",
    `        server_name  ${domain};`,
    "",
  );
  if (spec.tls.mode === "acme") {
    L.push(
      "        # acme-client(1) writes the challenge files to its challengedir /var/www/acme.",
      "        location ^~ /.well-known/acme-challenge/ {",
      "            rewrite ^/.well-known/acme-challenge/(.*) /$1 break;",
      `            root ${WEB_PATHS.acmeChallengeDir};`,
      "        }",
      "",
    );
  }
  L.push(
    "        location / {",
    '            return 307 "https://$host$request_uri";',
    "        }",
    "    }",
    "",
    "    server {",
    "        listen       443 ssl;",
    "        listen       [::]:443 ssl;",
    `        server_name  ${domain};`,
    "",
    `        ssl_certificate      ${bare(tls.certificate, "nginx.conf ssl_certificate (tls.certificate)")};`,
    `        ssl_certificate_key  ${bare(tls.key, "nginx.conf ssl_certificate_key (tls.key)")};`,
    "        ssl_protocols TLSv1.3;",
    "        ssl_prefer_server_ciphers   off;",
    "",
    `        root         ${WEB_PATHS.webRoot};`,
    "",
    "        error_page   500 502 503 504  /50x.html;",
    "        location = /50x.html {",
    "            root  /var/www/htdocs;",
    "        }",
    "",
    '        # config.js and index.html use SSI (<!--# echo var="subdir" -->).',
    "        ssi on;",
    "        ssi_types application/x-javascript application/javascript;",
    "",
    // The address, not the node's name: nginx resolves a proxy_pass host name once, when it starts,
    // and refuses to start if it does not resolve ("host not found in upstream",
    // docs/jitsi-config-notes.md section 1; docker-jitsi-meet#767). An address keeps nginx independent of
    // /etc/hosts and DNS.
    `        # BOSH, to prosody on the xmpp VM (${bare(xmpp.name, "nginx.conf comment")}). An address rather than a name:`,
    "        # nginx resolves proxy_pass names once at start and will not start if one does not resolve.",
    "        location = /http-bind {",
    `            proxy_pass      http://${xmppAddr}:${PROSODY_HTTP_PORT}/http-bind;`,
    "            proxy_set_header X-Forwarded-For $remote_addr;",
    "            proxy_set_header Host $http_host;",
    "        }",
    "",
  );
  if (spec.xmppWebsocket) {
    L.push(
      "        # XMPP over websocket, to prosody's mod_websocket.",
      "        location = /xmpp-websocket {",
      `            proxy_pass http://${xmppAddr}:${PROSODY_HTTP_PORT}/xmpp-websocket;`,
      ...websocketProxyLines(),
      "        }",
      "",
    );
  }
  if (spec.bridgeChannel === "colibri-websocket") {
    const jvbs = spec.nodes.filter((n) => n.role === "jvb");
    L.push(
      "        # Colibri websockets (the bridge channel; SCTP is not available on OpenBSD), one location per",
      "        # bridge: jvb announces wss://DOMAIN/colibri-ws/SERVER-ID/... with SERVER-ID its",
      "        # websockets.server-id, so the path says which bridge the endpoint belongs to.",
    );
    for (const jvb of jvbs) {
      L.push(
        `        location ^~ ${bare(colibriWsPath(jvb), "nginx.conf colibri-ws location (nodes[].jvb.nickname)")} {`,
        // No URI part: the request URI (/colibri-ws/SERVER-ID/...) is passed on unchanged, as jvb's
        // servlet expects it.
        `            proxy_pass http://${bare(jvb.address, "nginx.conf proxy_pass")}:${JVB_PUBLIC_HTTP_PORT};`,
        ...websocketProxyLines(),
        "        }",
      );
    }
    L.push("");
  }
  L.push(
    "        location ~ ^/(libs|css|static|images|fonts|lang|sounds|connection_optimization)/(.*)$ {",
    "            add_header 'Access-Control-Allow-Origin' '*';",
    `            alias ${WEB_PATHS.webRoot}/$1/$2;`,
    "        }",
    "",
    "        # rooms",
    "        location ~ ^/([a-zA-Z0-9=\\?]+)$ {",
    "            rewrite ^/(.*)$ / break;",
    "        }",
    "",
    "        # external_api.js must be accessible from the root of the",
    "        # installation for the electron version of Jitsi Meet to work",
    "        location /external_api.js {",
    `            alias ${WEB_PATHS.webRoot}/libs/external_api.min.js;`,
    "        }",
    "    }",
    "}",
  );
  return `${L.join("\n")}\n`;
}

/** Proxy settings of a websocket location: HTTP/1.1 with the Upgrade handshake, long-lived connections. */
function websocketProxyLines(): string[] {
  return [
    "            proxy_http_version 1.1;",
    "            proxy_set_header Upgrade $http_upgrade;",
    '            proxy_set_header Connection "upgrade";',
    "            proxy_set_header Host $http_host;",
    "            proxy_set_header X-Forwarded-For $remote_addr;",
    // nginx closes a proxied connection after 60 s without data by default; keep idle websockets open.
    "            proxy_read_timeout 900s;",
    "            tcp_nodelay on;",
  ];
}

// ----------------------------------------------------------------------------------------------- config.js

function configJs(spec: Spec): string {
  const d = spec.domain;
  const internal = spec.auth.mode === "internal";
  const L: string[] = [];
  L.push(
    `// ${GENERATED}`,
    "// A classic script, not JSON: trailing commas are legal.",
    "var config = {",
    "  hosts: {",
    `    domain: ${js(d)},`,
  );
  if (internal && spec.auth.guests) {
    L.push(
      "    // guests join without an account on this anonymous VirtualHost",
      `    anonymousdomain: ${js(`guest.${d}`)},`,
    );
  }
  L.push(
    `    muc: ${js(`conference.${d}`)},`,
    "    // prosody's client_proxy component that forwards to focus@auth (jicofo)",
    `    focus: ${js(`focus.${d}`)},`,
    "  },",
    `  bosh: ${js(`//${d}/http-bind`)},`,
  );
  if (spec.xmppWebsocket) L.push(`  websocket: ${js(`wss://${d}/xmpp-websocket`)},`);
  L.push(
    "  useTurnUdp: false,",
    `  enableWelcomePage: ${spec.web.welcomePage},`,
    "  prejoinConfig: {",
    `    enabled: ${spec.web.prejoin},`,
    `    hideExtraJoinButtons: [${js("no-audio")}, ${js("by-phone")}],`,
    "  },",
    "  p2p: {",
    "    stunServers: [",
    ...spec.web.stunServers.map((s) => `      { urls: ${js(s)} },`),
    "    ],",
    "  },",
  );
  if (spec.bridgeChannel === "colibri-websocket") {
    L.push(
      "  // SCTP data channels are not available on OpenBSD (jvb and jicofo run with sctp disabled):",
      "  // the bridge channel is the colibri websocket that nginx proxies under /colibri-ws/.",
      "  bridgeChannel: {",
      "    preferSctp: false,",
      "  },",
    );
  }
  L.push("};");
  return `${L.join("\n")}\n`;
}

// ----------------------------------------------------------------------------------------- acme-client.conf

/**
 * The certificate's first start and renewal, done by the agent: nginx cannot start without the files of
 * ssl_certificate, and acme-client needs nginx running to answer the http-01 challenge. The agent writes a
 * self-signed placeholder before nginx starts, then runs acme-client and reloads nginx (agent
 * actions/acme.ts). Same paths as acme-client.conf below.
 */
function acmeAction(spec: Spec): SetupAction {
  const tls = tlsPaths(spec);
  const action: SetupAction = {
    kind: "acme-certificate",
    domain: spec.domain,
    certificate: tls.certificate,
    key: tls.key,
    challengeDir: WEB_PATHS.acmeChallengeDir,
    renewBeforeDays: ACME_RENEW_BEFORE_DAYS,
  };
  // The agent refuses the action with any other paths (it writes these files as root): say so now, at
  // render time, naming the spec field, rather than at push time.
  const why = actionRefusal("web", action);
  if (why) throw new Error(`tls.${why}`);
  return action;
}

function acmeClientConf(spec: Spec): string {
  if (spec.tls.mode !== "acme") throw new Error("tls.mode: acme-client.conf is only rendered for mode acme");
  const tls = tlsPaths(spec);
  const authority = spec.tls.authority;
  // acme-client.conf(5): the authority blocks are not built in; /etc/examples/acme-client.conf defines
  // these two with the account keys under /etc/acme.
  const url =
    authority === "letsencrypt"
      ? "https://acme-v02.api.letsencrypt.org/directory"
      : "https://acme-staging-v02.api.letsencrypt.org/directory";
  const q = (v: string, where: string) => `"${bare(v, `acme-client.conf ${where}`)}"`;
  const L = [
    `# ${GENERATED}`,
    `authority ${authority} {`,
    `\tapi url ${q(url, "api url")}`,
    `\taccount key ${q(`/etc/acme/${authority}-privkey.pem`, "account key")}`,
  ];
  if (spec.tls.contact !== undefined) {
    if (!/^mailto:[A-Za-z0-9._%+@-]+$/.test(spec.tls.contact)) {
      throw new Error("tls.contact: refusing to render it into acme-client.conf");
    }
    L.push(`\tcontact "${spec.tls.contact}"`);
  }
  L.push(
    "}",
    "",
    `domain ${bare(spec.domain, "acme-client.conf domain")} {`,
    `\tdomain key ${q(tls.key, "domain key (tls.key)")}`,
    `\tdomain full chain certificate ${q(tls.certificate, "full chain (tls.certificate)")}`,
    `\tsign with ${authority}`,
    `\tchallengedir ${q(WEB_PATHS.acmeChallengeDir, "challengedir")}`,
    "}",
  );
  return `${L.join("\n")}\n`;
}
