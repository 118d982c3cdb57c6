// Types for the parts of lib.mjs that tests import (lib.mjs is plain JavaScript, so that the simulators
// run without a build step).
export declare const RECONNECT: {
  jicofo(
    scale: number,
    random?: () => number,
  ): { initialMs: number; tickMs: number; delaySeconds(attempt: number): number };
  jvb(scale: number): { periodMs: number };
};
