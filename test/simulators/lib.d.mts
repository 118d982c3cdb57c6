// Types for the parts of lib.mjs (reconnect.mjs's RECONNECT) that tests import (the simulators are plain
// JavaScript, so that they run without a build step).
export declare const RECONNECT: {
  jicofo(
    scale: number,
    random?: () => number,
  ): { initialMs: number; tickMs: number; delaySeconds(attempt: number): number };
  jvb(scale: number): { periodMs: number };
};
