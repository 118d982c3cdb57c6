export { type SystemHooksOptions, systemHooks } from "./hooks.js";
export {
  DEFAULT_CONFIRM_SECONDS,
  DEFAULT_PFCTL,
  PF_CONF,
  type PfEvents,
  type PfLoadResult,
  PfManager,
  type PfManagerOptions,
  type PfRevert,
} from "./manager.js";
