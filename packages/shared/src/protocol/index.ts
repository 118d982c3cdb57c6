export * from "./agentToCoordinator.js";
export * from "./codes.js";
export * from "./common.js";
export * from "./coordinatorToAgent.js";
export * from "./decode.js";
export * from "./requests.js";
