// Shared pieces of the renderer unit tests (packages/coordinator/src/render/*.test.ts): the paper's spec as
// render input with edits, and what every Jitsi Java component's render declares for its logs and probe.
import { expect } from "vitest";
import type { ComponentRender, RenderInput } from "../../packages/coordinator/src/render/types.js";
import { fakeInput } from "../fixtures/material.js";

/** A spec as parsed YAML, for edits before it is validated. */
export type Raw = Record<string, unknown>;

/** The paper's spec (paper-7648.yaml) with fake material, after `more` edited it. */
export function paperInput(more?: (raw: Raw) => void): RenderInput {
  return fakeInput("paper-7648.yaml", more);
}

/** The paper's spec with `host` merged into its host section, then `more`. */
export function withHost(host: Raw, more?: (raw: Raw) => void): RenderInput {
  return paperInput((raw) => {
    raw.host = { ...(raw.host as Raw), ...host };
    more?.(raw);
  });
}

/**
 * A Java component (jicofo, jvb) logs to /var/log/COMPONENT (rotated by newsyslog: 7 files of 1 MB, root:wheel
 * 0640) and to syslog's daemon file under its tag; its health is GET /about/health on loopback `port`.
 */
export function expectJavaLogsAndProbe(r: ComponentRender, component: "jicofo" | "jvb", port: number): void {
  expect(r.programLogs).toEqual([
    {
      program: component,
      path: `/var/log/${component}`,
      owner: "root",
      group: "wheel",
      mode: "0640",
      keep: 7,
      sizeKb: 1024,
    },
  ]);
  expect(r.logs).toEqual([
    { component, path: `/var/log/${component}` },
    { component, path: "/var/log/daemon", tag: component },
  ]);
  expect(r.probes).toEqual([
    { component, service: component, http: `http://127.0.0.1:${port}/about/health`, ports: [port] },
  ]);
}
