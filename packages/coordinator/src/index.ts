// The coordinator as a library: what tests, the demo and the benchmarks start in-process.

export { runCli } from "./cli/run.js";
export { planNode } from "./fleet/plan.js";
export { rolloutStages } from "./fleet/stages.js";
export { buildStatus, type StatusReport } from "./fleet/status.js";
export { renderDeployment, renderHostNode, renderNode } from "./render/index.js";
export type { Pki, RenderInput, Secrets } from "./render/types.js";
export { loadOrCreateMaterial } from "./secrets/index.js";
export { adminCall } from "./server/admin.js";
export { CoordinatorCore, type PushEvent, type PushOutcome } from "./server/coordinator.js";
export { COORDINATOR_VERSION, CoordinatorDaemon } from "./server/daemon.js";
export { formatProblem, loadSpecFile, parseSpecText } from "./spec/load.js";
export { specFields, specManPage } from "./spec/man.js";
