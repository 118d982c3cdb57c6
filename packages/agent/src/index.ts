// The agent as a library: what tests, the demo and the benchmarks start in-process.

export { AGENT_VERSION, AgentDaemon, type AgentDaemonOptions, itemResults } from "./daemon.js";
export { type ClassifyResult, classify, UNMATCHED } from "./health/classify.js";
export { SessionCorrelator } from "./health/correlator.js";
export { prefixLength, RecordJoiner, syslogTag } from "./health/joiner.js";
export {
  JsonFileOffsetStore,
  MemoryOffsetStore,
  type OffsetStore,
  type TailState,
} from "./health/offsetStore.js";
export { LogClassifier, toHealthSignal } from "./health/pipeline.js";
export { RULES, type Rule } from "./health/rules.js";
export { type LineInfo, LogTailer, type LogTailerOptions } from "./health/tailer.js";
export { lenientAccounts, systemAccounts } from "./reconcile/accounts.js";
export { ApplyEngine } from "./reconcile/engine.js";
export { type LifeEvent, type LifeResult, ServiceLife } from "./services/life.js";
export { Rcctl } from "./services/rcctl.js";
export { AgentTransport } from "./transport/client.js";
