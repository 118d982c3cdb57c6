// Readers and checkers of the files vmmeet renders, one module per grammar. pf.conf (pfctl -n) and vm.conf
// (vmd -n) are checked in full because Linux has neither program: the pfctl and vmd test doubles use these
// checkers to accept or refuse a file, and the cross-file invariants (render/invariants.ts, run by
// `vmmeet validate` and `vmmeet render`) read pf.conf with it. The other readers take the subset of each
// format the renderers write, for the invariants and the tests; every parse error names the line (and the
// file, when the caller gives its name).

export { type JsObject, type JsValue, jsGet, parseConfigJs } from "./configjs.js";
export { type HoconObject, type HoconValue, hoconGet, isHoconObject, parseHocon } from "./hocon.js";
export { parseHostsFile } from "./hosts.js";
export {
  isLuaTable,
  type LuaTable,
  type LuaValue,
  luaString,
  type ProsodySection,
  parseProsodyConfig,
} from "./lua.js";
export {
  type NginxDirective,
  type NginxReadOptions,
  nginxFind,
  nginxLocations,
  parseNginxConf,
} from "./nginx.js";
export {
  checkPfConf,
  formatPfRule,
  PF_KEYWORDS,
  PF_SERVICES,
  type PfConf,
  type PfEndpoint,
  type PfHost,
  type PfPort,
  type PfPortOp,
  type PfRule,
  type PfTranslation,
  parsePfConf,
} from "./pf.js";
export { parseProperties } from "./properties.js";
export { envLineNames, parseKshAssignments, scanShellWord } from "./shellenv.js";
export { GrammarError, type ReadOptions } from "./text.js";
export type { CheckResult, Problem } from "./tokenize.js";
export { parseTurnserverConf } from "./turnserver.js";
export {
  checkVmConf,
  parseSize,
  parseVmConf,
  VMCONF_KEYWORDS,
  type VmConf,
  type VmDefinition,
  type VmDisk,
  type VmInterface,
} from "./vmconf.js";
