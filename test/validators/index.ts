// Real-parser validators for rendered files, for vitest tests (renderer tests, fixtures, the paper's
// samples). Every check runs the REAL program on the text you give it, in a private temp dir, and
// resolves to a structured result; none of them touches the machine's /etc or leaves a process behind.
//
//   import { checkNginx, checkProsody, checkHocon, ... } from "../validators/index.js";
//
// Common result: { ok: boolean; output: string } plus per-check fields below. `output` is what the real
// program printed (harmless notices filtered where noted), so `expect(r.output).toMatch(...)` works and
// a failing test shows the program's own message. All functions are async.
//
// | function | real program(s) | extra result fields |
// | --- | --- | --- |
// | checkNginx(conf, { hosts?, certPaths?, strictHosts?, wrap?, files? }) | `nginx -t -p TMP/ -c TMP/nginx.conf -g 'pid TMP/nginx.pid;'` inside `unshare -m` (root only) | code, line?, mappedHosts, autoHosts, fakedFiles, wrapped |
// | checkProsody(cfg, { plugins?, pluginsDir? }) | `luac5.4 -p` + `prosodyctl --config F check config` + `lua5.4` (modules named) | luacCode, prosodyctlCode, rawOutput, modules |
// | prosodySections(cfg) | `lua5.4` evaluating the file as prosody's loader does | (sections with their options) |
// | checkHocon(text, { require?, get?, references? }) / checkHoconMany([{ text, options }]) | HoconCheck.java on Typesafe Config (one JVM per call) | code (0/2/3), error?, missing, got, values? |
// | checkProperties(text, { require? }) / checkPropertiesMany([...]) | PropsCheck.java, java.util.Properties.load | code (0/2/3/4), properties, missing, warnings |
// | checkKsh(text, { name? }) | `mksh -n` | code |
// | shellEnv(text, { name? }) | `mksh -n`, then `env -i mksh -c '. FILE; ...'` | vars, refused |
// | checkJs(text, { require?, name? }) | `node --check` + node:vm classic-script evaluation | config?, missing |
//
// checkNginx: TLS files named by ssl_certificate(_key)/ssl_trusted_certificate/ssl_dhparam (and
//   `certPaths`) are faked with a throw-away self-signed pair at their exact paths; log files go to a tmpfs;
//   upstream names (proxy_pass, upstream `server`) resolve through a private /etc/hosts: `hosts` maps
//   names to addresses, any other non-IP name maps to 127.0.0.1 (listed in `autoHosts`) unless
//   `strictHosts: true`. A text with no top-level `http`/`events` is wrapped as a site snippet. Messages
//   name TMP/nginx.conf (or TMP/site.conf when wrapped) and the renderer's own line numbers; `line` is the
//   line of the first [emerg].
// checkProsody: never runs `prosodyctl check dns/certs/turn` (network). Filtered notices: OpenBSD's
//   `_prosody` account missing on Debian, the `certs` dir beside the temp config, the lua-unbound banner.
//   check config loads no module, so every module the file names must also be Debian prosody's own or one of
//   `plugins` (default: OpenBSD's jitsi-prosody-plugins 2.0.10133) with `pluginsDir` in plugin_paths.
// checkHocon: ok when it parses with ConfigSyntax.CONF, resolves (after layering `references`, without
//   the process environment) and every `require` path exists. `values` is the resolved config as plain
//   JSON (durations stay strings such as "10 seconds"); `got[path]` the value at each `get` path.
//   Use checkHoconMany for several files: each JVM start costs ~0.7 s.
// checkProperties: ok when readable, every `require` key is present and there is no warning (a value
//   with leading/trailing blanks, a backslash-continued line). Values are exactly what jvb would read.
// shellEnv: refuses (ok=false, nothing sourced, `refused` lists why) a file with anything other than
//   blank lines, comments and `[export] NAME=VALUE` assignments, or with command substitution.
// checkJs: `config` is a plain copy of the script's global `config`; `require` paths are dotted.
//
// Missing programs: every check throws MissingToolError ("... run the apt-get lines of .ci/run") instead
// of returning a result, so a test on a machine without the programs FAILS with that message; it never
// skips. hasTool(name) / missingTools() let a test report all of them at once.
export {
  checkHocon,
  checkHoconMany,
  type HoconOptions,
  type HoconResult,
  TYPESAFE_CONFIG_JAR,
} from "./hocon.js";
export { checkJs, getPath, type JsOptions, type JsResult } from "./js.js";
export {
  checkKsh,
  envLineNames,
  type KshOptions,
  type KshResult,
  type RefusedLine,
  type ShellEnvResult,
  shellEnv,
} from "./ksh.js";
export {
  checkNginx,
  type NginxDirective,
  type NginxOptions,
  type NginxResult,
  nginxNeeds,
  parseNginx,
} from "./nginx.js";
export { paperSampleDir, repoRoot } from "./paths.js";
export {
  checkProperties,
  checkPropertiesMany,
  type PropertiesOptions,
  type PropertiesResult,
} from "./properties.js";
export {
  checkProsody,
  filterProsodyNotices,
  LOCAL_PROSODY_MODULES,
  type ProsodyModule,
  type ProsodyOptions,
  type ProsodyResult,
  type ProsodySection,
  prosodySections,
} from "./prosody.js";
export {
  type CheckResult,
  hasTool,
  MissingToolError,
  missingTools,
  requireTool,
  runProgram,
  TOOL_PACKAGES,
  withTempDir,
} from "./run.js";
