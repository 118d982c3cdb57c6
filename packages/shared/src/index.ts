export * from "./allowlist.js";
export * from "./desired.js";
export * from "./health.js";
export * from "./protocol/index.js";
export * from "./refusals.js";
export * from "./spec.js";
export * from "./verdict.js";
