// Node code that the agent and the coordinator both run (@vmmeet/shared stays free of Node APIs).
export * from "./atomic.js";
export * from "./backoff.js";
export * from "./clock.js";
export * from "./fileEntry.js";
export * from "./fingerprint.js";
