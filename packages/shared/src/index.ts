export * from "./allowlist.js";
export * from "./desired.js";
export * from "./health.js";
export * from "./ports.js";
export * from "./protocol/index.js";
export * from "./releases.js";
export * from "./spec.js";
export * from "./verdict.js";
