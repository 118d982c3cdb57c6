// Grammar checkers for the OpenBSD files vmmeet renders but cannot validate with the real programs on
// Linux: pf.conf (pfctl -n) and vm.conf (vmd -n). The coordinator runs them on every render, the agent
// before it loads a file, and the pfctl/vmd test doubles use them to accept or refuse a file.

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
export type { CheckResult, Problem } from "./tokenize.js";
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
