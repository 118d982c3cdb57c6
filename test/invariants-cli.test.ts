// `vmmeet validate` and `vmmeet render` report a violation of the cross-file invariants, without a secret.
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import type { NodeDesired } from "@vmmeet/shared";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { render as renderCommand } from "../packages/coordinator/src/cli/commands/render.js";
import { validate as validateCommand } from "../packages/coordinator/src/cli/commands/validate.js";
import type { Io } from "../packages/coordinator/src/cli/io.js";
import { fixturesDir } from "./fixtures/material.js";
import { edit } from "./helpers/invariants.js";

// `vmmeet validate` renders internally with no injection point (a Command takes argv and io only), so the
// CLI tests below corrupt its render through this switch. Everything else gets the real renderDeployment.
const corruption = vi.hoisted(() => ({
  apply: undefined as ((nodes: Record<string, NodeDesired>) => void) | undefined,
}));
vi.mock("../packages/coordinator/src/render/index.js", async (importOriginal) => {
  const real = await importOriginal<typeof import("../packages/coordinator/src/render/index.js")>();
  return {
    ...real,
    renderDeployment: (input: Parameters<typeof real.renderDeployment>[0]) => {
      const nodes = real.renderDeployment(input);
      corruption.apply?.(nodes);
      return nodes;
    },
  };
});

describe("vmmeet validate and vmmeet render report violations", () => {
  let dir: string;
  let specFile: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-invariants-"));
    specFile = path.join(dir, "vmmeet.yaml");
    await writeFile(specFile, readFileSync(path.join(fixturesDir, "paper-7648.yaml"), "utf8"));
  });
  afterAll(async () => {
    corruption.apply = undefined;
    await rm(dir, { recursive: true, force: true });
  });
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    const value: Io = { out: (t) => out.push(t), err: (t) => err.push(t), cwd: dir, env: {} };
    return { io: value, out, err };
  };
  const breakSctp = (nodes: Record<string, NodeDesired>) =>
    edit(nodes, "jvb", "/etc/jvb/jvb.conf", "sctp {\n    enabled = false", "sctp {\n    enabled = true");

  it("validate: exit 0 on the paper's spec, exit 1 with an 'invariant:' line on a broken render", async () => {
    corruption.apply = undefined;
    const good = io();
    expect(await validateCommand.run([specFile], good.io)).toBe(0);
    expect(good.out.join("")).toContain("valid (4 VMs, release 7648)");
    // The paper's spec has no bridge channel: validate warns about it, and that is all it says.
    expect(good.err.join("")).not.toContain("invariant:");
    expect(good.err.join("")).toMatch(/^([^\n]*: warning: [^\n]*\n)*$/);

    corruption.apply = breakSctp;
    const bad = io();
    expect(await validateCommand.run([specFile], bad.io)).toBe(1);
    expect(bad.out.join("")).toBe("");
    const lines = bad.err
      .join("")
      .trimEnd()
      .split("\n")
      .filter((l) => !l.includes(": warning: "));
    expect(lines[0]).toBe(
      "invariant: sctp: jvb:/etc/jvb/jvb.conf videobridge.sctp.enabled is true but jicofo:/etc/jicofo/jicofo.conf jicofo.sctp.enabled is false (no SCTP on OpenBSD: all must be false)",
    );
    expect(lines[1]).toBe(`${specFile}: the rendered files break 1 cross-file invariant(s)`);

    const json = io();
    expect(await validateCommand.run([specFile, "--json"], json.io)).toBe(1);
    expect(JSON.parse(json.out.join(""))).toMatchObject({ ok: false, invariants: [lines[0]] });
    corruption.apply = undefined;
  });

  it("render: real secrets and CA keep every invariant; a violation is printed without the secret", async () => {
    corruption.apply = undefined;
    const state = path.join(dir, "state");
    const good = io();
    expect(
      await renderCommand.run([specFile, "--out", path.join(dir, "out"), "--state", state], good.io),
    ).toBe(0);
    expect(good.err.join("")).toBe("");

    corruption.apply = (nodes) => {
      const jicofo = nodes.jicofo!.files.find((f) => f.path === "/etc/jicofo/jicofo.conf")!;
      jicofo.content = jicofo.content.replace(/password = "[^"]*"/, 'password = "not-the-password-0123"');
    };
    const bad = io();
    expect(
      await renderCommand.run([specFile, "--out", path.join(dir, "out"), "--state", state], bad.io),
    ).toBe(0);
    const err = bad.err.join("");
    expect(err).toBe(
      "invariant: passwords: jicofo:/etc/jicofo/jicofo.conf jicofo.xmpp.client.password differs from xmpp:setup action prosody-user focus@auth.jts.fips.de password\n",
    );
    const secrets = JSON.parse(await readFile(path.join(state, "secrets.json"), "utf8")) as Record<
      string,
      unknown
    >;
    for (const v of Object.values(secrets))
      if (typeof v === "string" && v.length > 8) expect(err).not.toContain(v);
    corruption.apply = undefined;
  });
});
