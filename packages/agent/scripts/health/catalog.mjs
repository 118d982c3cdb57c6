#!/usr/bin/env node
// Compiles the deployment-relevant part of a Jitsi log-message catalog into the repo:
//
//   node packages/agent/scripts/health/catalog.mjs --from CATALOG_DIR
//
// CATALOG_DIR holds one JSONL file per program (jicofo.jsonl, jvb.jsonl, ice4j.jsonl, jicoco.jsonl,
// smack.jsonl, prosody.jsonl, prosody-plugins.jsonl, nginx.jsonl): one record per logging call of the
// program's source at several releases (level, class, method, message template with {} for values,
// revisions). test/fixtures/logs/README.md names the upstream repositories, commits and licences.
//
// Writes
//   test/fixtures/logs/catalog.jsonl            the selected records (WARN and higher of the code paths
//                                               that matter to a deployment), for tests and scripts
//   test/fixtures/logs/catalog-quoted.jsonl     records of any level whose message a rule's needle quotes
//                                               (the evaluation's evidence that a rule comes from source)
//   packages/agent/src/health/catalog.gen.json  the first, compacted to what the agent's classifier needs
//                                               (severity, where, template): no files, lines, releases
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
const OUT_JSONL = path.join(REPO, "test/fixtures/logs/catalog.jsonl");
const OUT_AGENT = path.join(REPO, "packages/agent/src/health/catalog.gen.json");
const OUT_QUOTED = path.join(REPO, "test/fixtures/logs/catalog-quoted.jsonl");

/**
 * The code paths that matter to a deployment, per catalog file: XMPP connection and login, TLS and
 * truststores, the brewery and bridge selection, health checks, ICE harvesters and port binding,
 * colibri and colibri-ws, component connections, module and configuration loading, nginx's
 * upstreams, listening sockets, certificates and configuration; for prosody also every module the
 * rendered prosody.cfg.lua loads that can warn (stream management, the process, MUC, registration,
 * storage, routing) and every jitsi plugin it loads from 9646 on (lobby, breakout rooms, the feature
 * components, meeting ids, polls): a warning of a loaded module the catalog did not hold counted as
 * unrecognised, and kept prosody degraded for ten minutes. Java/Kotlin and Lua: the class or module (`class` in the
 * catalog); nginx: the C function (`method`).
 */
export const PATHS = {
  jicofo:
    /^(?:XmppProvider\w*|AbstractXmppProvider|XmppProviderImpl\$\w+|BaseBrewery|BridgeSelector|\w*BridgeSelectionStrategy|JvbDoctor(?:\$\w+)?|JicofoHealthChecker|Bridge|Colibri2Session(?:\$\w+)?|ColibriV2SessionManager|Main|JicofoServices|FocusManager)$/,
  jicoco: /^(?:MucClient\w*|MucClient\$\w+|HealthChecker|RefreshingProperty|RetryStrategy\$\w+)$/,
  smack: /./,
  ice4j:
    /^(?:HostCandidateHarvester|MappingCandidateHarvesters|AbstractUdpListener|StunCandidateHarvester|SinglePortUdpHarvester(?:\$\w+)?|CandidateHarvesterSet|HarvestConfig|NetAccessManager|StunStack)$/,
  jvb: /^(?:XmppConnection|MainKt|Videobridge|ColibriWebSocketServlet|Colibri2ConferenceHandler|Harvesters|IceTransport|UdpTransport)$/,
  prosody:
    /^(?:core\.(?:portmanager|certmanager|modulemanager|configmanager|hostmanager|sessionmanager|usermanager|stanza_router|storagemanager|rostermanager|moduleapi|statsmanager)|util\.(?:startup|dependencies|datamanager|async|timer)|mod_(?:c2s|tls|saslauth|component|bosh|websocket|http|smacks|posix|muc|register_ibr|register_limits|blocklist|disco|admin_shell|pubsub\/pubsub\.lib)|net\.(?:http\.server|server_epoll)|prosody)$/,
  "prosody-plugins":
    /^(?:mod_muc_domain_mapper|util\.lib|mod_external_services|mod_turncredentials|mod_(?:muc_lobby_rooms|muc_breakout_rooms|conference_duration(?:_component)?|speakerstats_component|end_conference|av_moderation_component|room_metadata_component|polls(?:_component)?|muc_meeting_id|muc_filter_access|muc_resource_validate|limits_exception|features_identity|client_proxy))$/,
  nginx:
    /^(?:ngx_http_upstream_(?!.*(?:cache|sticky|hash|random|least_conn|keepalive|zone|thread|expires|last_modified|limit_rate|param_set|bind_set|set_local))\w+|ngx_event_connect_peer|ngx_http_proxy_(?:process_status_line|process_header|pass|eval|create_request)|ngx_open_listening_sockets|ngx_configure_listening_sockets|ngx_http_add_listen|ngx_http_add_addresses|ngx_http_add_server|ngx_http_core_listen|ngx_http_core_server_name|ngx_parse_url|ngx_inet_resolve_host|ngx_resolve_\w+|ngx_resolver_(?:send_udp_query|send_tcp_query|create)|ngx_ssl_certificate|ngx_ssl_load_certificate\w*|ngx_ssl_handshake|ngx_conf_parse|ngx_conf_handler|ngx_conf_read_token|ngx_conf_include|ngx_init_cycle|ngx_create_pidfile)$/,
};

/** Which agent log component reads which catalog files. */
export const LOG_COMPONENTS = {
  jicofo: ["jicofo", "jicoco", "smack"],
  jvb: ["jvb", "ice4j", "jicoco", "smack"],
  prosody: ["prosody", "prosody-plugins"],
  nginx: ["nginx"],
};

const WARN_OR_HIGHER = new Set(["WARNING", "SEVERE", "warn", "error", "emerg", "alert", "crit"]);

/** A record's printed level is WARN or higher (for nginx's run-time levels: when it can be). */
export function isWarnOrHigher(rec) {
  const p = rec.printed_level;
  if (p === null || p === undefined) return false;
  return p.split("|").some((l) => WARN_OR_HIGHER.has(l));
}

/** Java/Kotlin: Class.method; Lua: the module; nginx: the C function. */
export function whereOf(rec) {
  if (rec.component === "nginx") return rec.method ?? "";
  if (rec.component === "prosody" || rec.component === "prosody-plugins") return rec.class ?? "";
  return `${rec.class}.${rec.method ?? "<init>"}`;
}

/** The short release label of a revision (jitsi: the release number; others: their version). */
export function releaseOf(revision) {
  const m = /jitsi-meet_(\d+)$/.exec(revision);
  if (m) return m[1];
  return revision.replace(/^release-/, "");
}

/** Severity letter: E for error/SEVERE/emerg/alert/crit, W for warnings. */
export function severityOf(rec) {
  const levels = (rec.printed_level ?? "").split("|");
  return levels.some((l) => ["SEVERE", "error", "emerg", "alert", "crit"].includes(l)) ? "E" : "W";
}

function select(dir) {
  const out = [];
  for (const [file, re] of Object.entries(PATHS)) {
    const text = readFileSync(path.join(dir, `${file}.jsonl`), "utf8");
    for (const line of text.split("\n")) {
      if (line.trim() === "") continue;
      const rec = JSON.parse(line);
      const key = file === "nginx" ? rec.method : rec.class;
      if (key === null || !re.test(key) || !isWarnOrHigher(rec)) continue;
      out.push({
        component: rec.component,
        repo: rec.repo,
        level: rec.level,
        printed_level: rec.printed_level,
        call: rec.call,
        class: rec.class,
        method: rec.method,
        template: rec.template,
        revisions: rec.revisions.map((r) => ({ revision: r.revision, file: r.file, line: r.line })),
      });
    }
  }
  return out;
}

/**
 * The records (any level, any path) whose message a rule's needle quotes: the needle is the
 * template's text, or an instance of it ("Client disconnected: connection closed" of
 * "Client disconnected: {}"). The evaluation counts such a rule as taken from the program's source,
 * not from one report's wording. Needs the built rules (npm run build).
 */
async function quotedByRules(dir) {
  const { RULES } = await import(path.join(REPO, "packages/agent/dist/health/rules.js"));
  const { templateRegex } = await import(path.join(REPO, "packages/agent/dist/health/catalog.js"));
  const out = [];
  for (const [logComponent, files] of Object.entries(LOG_COMPONENTS)) {
    const needles = [...new Set(RULES[logComponent].flatMap((r) => r.needles))];
    for (const file of files) {
      for (const line of readFileSync(path.join(dir, `${file}.jsonl`), "utf8").split("\n")) {
        if (line.trim() === "") continue;
        const rec = JSON.parse(line);
        const re = templateRegex(rec.template);
        const quoted = needles.filter(
          (n) => n.length >= 8 && (rec.template.includes(n) || re?.test(n) === true),
        );
        if (quoted.length === 0) continue;
        out.push({
          log: logComponent,
          component: rec.component,
          repo: rec.repo,
          printed_level: rec.printed_level,
          class: rec.class,
          method: rec.method,
          template: rec.template,
          needles: quoted,
          revisions: rec.revisions.map((r) => r.revision),
        });
      }
    }
  }
  return out;
}

/**
 * What the agent's classifier needs of the selected records (catalog.gen.json, read by catalog.ts): per
 * catalog file, its distinct [severity E|W, where (Class.method, Lua module or nginx function), message
 * template ({} for values)]; and which files each log component reads (jicoco and Smack run inside both
 * jicofo and jvb, so their lists are kept once).
 */
export function agentCatalog(recs) {
  const files = {};
  for (const file of new Set(Object.values(LOG_COMPONENTS).flat())) {
    const seen = new Set();
    files[file] = [];
    for (const r of recs) {
      if (r.component !== file) continue;
      const entry = [severityOf(r), whereOf(r), r.template];
      const key = JSON.stringify(entry);
      if (seen.has(key)) continue;
      seen.add(key);
      files[file].push(entry);
    }
  }
  return {
    about:
      "Generated by packages/agent/scripts/health/catalog.mjs from test/fixtures/logs/catalog.jsonl's source " +
      "(test/fixtures/logs/README.md names the upstream repositories, commits and licences). Do not edit. " +
      "files: per catalog file, [severity E|W, where, message template] of WARN and higher of the " +
      "deployment-relevant code paths; logs: the catalog files each log component reads.",
    logs: LOG_COMPONENTS,
    files,
  };
}

/** agentCatalog as JSON text with one entry a line, so that a change of the catalog reads as a diff. */
export function agentCatalogText(recs) {
  const { about, logs, files } = agentCatalog(recs);
  const json = JSON.stringify;
  const block = (obj, value) =>
    Object.entries(obj)
      .map(([k, v]) => `    ${json(k)}: ${value(v)}`)
      .join(",\n");
  const entries = (list) =>
    list.length === 0 ? "[]" : `[\n${list.map((e) => `      ${json(e)}`).join(",\n")}\n    ]`;
  return [
    "{",
    `  "about": ${json(about)},`,
    `  "logs": {\n${block(logs, json)}\n  },`,
    `  "files": {\n${block(files, entries)}\n  }`,
    "}",
    "",
  ].join("\n");
}

async function main() {
  const i = process.argv.indexOf("--from");
  const dir = i === -1 ? undefined : process.argv[i + 1];
  if (dir === undefined) {
    process.stderr.write("usage: catalog.mjs --from CATALOG_DIR\n");
    process.exit(2);
  }
  const recs = select(dir);
  writeFileSync(OUT_JSONL, `${recs.map((r) => JSON.stringify(r)).join("\n")}\n`);
  const quoted = await quotedByRules(dir);
  writeFileSync(OUT_QUOTED, `${quoted.map((r) => JSON.stringify(r)).join("\n")}\n`);

  writeFileSync(OUT_AGENT, agentCatalogText(recs));
  process.stdout.write(
    `catalog: ${recs.length} records -> ${path.relative(REPO, OUT_JSONL)}, ${path.relative(REPO, OUT_AGENT)}\n`,
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
