// Shared pieces of the renderer unit tests (packages/coordinator/src/render/*.test.ts): the paper's spec as
// render input with edits, and what every Jitsi Java component's render declares for its logs and probe.
import { FileEntry, type NodeSpec, pathRefusal } from "@vmmeet/shared";
import { expect, it } from "vitest";
import type { ComponentRender, RenderInput } from "../../packages/coordinator/src/render/types.js";
import { fakeInput, fakePki, fakeSecrets } from "../fixtures/material.js";

/** A spec as parsed YAML, for edits before it is validated. */
export type Raw = Record<string, unknown>;

/** An edit of a spec as parsed YAML. */
export type Patch = (raw: Raw) => void;

/** The paper's spec (paper-7648.yaml) with fake material, after `more` edited it. */
export function paperInput(more?: (raw: Raw) => void): RenderInput {
  return fakeInput("paper-7648.yaml", more);
}

/** `renderer` on the first node of `role`: of the paper's spec edited by `patch`, or of `input` when given. */
export function renderRole<R>(
  role: NodeSpec["role"],
  renderer: (input: RenderInput, node: NodeSpec) => R,
  patch?: Patch,
  input?: RenderInput,
): { input: RenderInput; out: R } {
  const chosen = input ?? paperInput(patch);
  const node = chosen.spec.nodes.find((n) => n.role === role);
  if (!node) throw new Error(`the spec has no node of role ${role}`);
  return { input: chosen, out: renderer(chosen, node) };
}

/**
 * One test per variant, the paper's spec first and then each of `variants`, named `VARIANT: deterministic,
 * newline-terminated, allowed, WHAT`: `render` (a test's renderRole call) gives the same files twice and from
 * a copy of its input (a rendering does not depend on the object identity of its input), each file ends in
 * exactly one newline and its path is allowed on the VM of `role`; then `check` looks at the rendering.
 */
export function itRendersStableFiles<T extends { input: RenderInput; out: ComponentRender }>(
  what: string,
  role: NodeSpec["role"],
  render: (patch?: Patch, input?: RenderInput) => T,
  variants: Record<string, Patch>,
  check: (rendered: T) => void,
): void {
  const all: [string, Patch | undefined][] = [["paper", undefined], ...Object.entries(variants)];
  it.each(all)(`%s: deterministic, newline-terminated, allowed, ${what}`, (_, patch) => {
    const first = render(patch);
    expect(render(patch).out).toEqual(first.out);
    expect(render(undefined, structuredClone(first.input)).out).toEqual(first.out);
    for (const f of first.out.files) {
      expect(f.content.endsWith("\n"), f.path).toBe(true);
      expect(f.content.endsWith("\n\n"), f.path).toBe(false);
      expect(pathRefusal(role, f.path), f.path).toBeNull();
    }
    check(first);
  });
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

/** Each of the fake secrets is in exactly the files `holders` names for it: none for a secret not named. */
export function expectSecretHolders(
  r: ComponentRender,
  holders: Partial<Record<keyof typeof fakeSecrets, string[]>>,
): void {
  for (const [name, secret] of Object.entries(fakeSecrets)) {
    const paths = r.files.filter((f) => f.content.includes(secret)).map((f) => f.path);
    expect(paths, name).toEqual(holders[name as keyof typeof fakeSecrets] ?? []);
  }
}

/**
 * Every file of a Java component (jicofo, jvb) is a valid entry allowed on its VM, root:_COMPONENT 0640, and
 * restarts the component when it changes; a text file is headed and ends in a newline without trailing
 * blanks, the truststore is the fake PKCS#12's base64.
 */
export function expectJavaFiles(r: ComponentRender, component: "jicofo" | "jvb"): void {
  for (const f of r.files) {
    const entry = FileEntry.parse(f);
    expect(pathRefusal(component, entry.path)).toBeNull();
    expect([entry.mode, entry.owner, entry.group]).toEqual(["0640", "root", `_${component}`]);
    expect(entry.notify).toEqual([{ service: component, action: "restart" }]);
    if (entry.encoding === "utf8") {
      expect(
        entry.content.startsWith(
          "# generated by vmmeet from the deployment spec; local edits are reverted\n",
        ),
      ).toBe(true);
      expect(entry.content.endsWith("\n")).toBe(true);
      expect(entry.content).not.toMatch(/[ \t]$/m);
    } else expect(entry.content).toBe(fakePki.truststoreP12Base64);
  }
}

/** The paper's spec with jitsi.release set to `release`, then `more`. */
export function withRelease(release: number, more?: (raw: Raw) => void): RenderInput {
  return paperInput((raw) => {
    (raw.jitsi as Raw).release = release;
    more?.(raw);
  });
}

/**
 * A flat view of the HOCON subset the renderers write (`key {`, `key = JSON value`, `}`; a multi-line list
 * such as static-mappings is kept as its raw text): enough to read values back in unit tests. The real
 * Typesafe Config parse is in test/render-jicofo-jvb.test.ts.
 */
export function flatHocon(text: string): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const stack: string[] = [];
  let list: { key: string; lines: string[] } | undefined;
  for (const raw of text.split("\n")) {
    const l = raw.trim();
    if (list) {
      if (l === "]") {
        out.set(list.key, list.lines.join("\n"));
        list = undefined;
      } else list.lines.push(l);
      continue;
    }
    if (l === "" || l.startsWith("#")) continue;
    const open = /^([\w-]+) \{$/.exec(l);
    const kv = /^([\w-]+) = (.*)$/.exec(l);
    if (open) stack.push(open[1]!);
    else if (l === "}") stack.pop();
    else if (kv && kv[2] === "[") list = { key: [...stack, kv[1]].join("."), lines: [] };
    else if (kv) out.set([...stack, kv[1]].join("."), JSON.parse(kv[2]!));
    else throw new Error(`unexpected line ${JSON.stringify(l)}`);
  }
  expect(stack).toEqual([]);
  return out;
}

/** The NAME=value lines of a rendered ksh env file (jicofo.in.sh, jvb.in.sh); `""` is the empty string. */
export function envFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of text.split("\n")) {
    const m = /^([A-Z_]+)=(.*)$/.exec(l);
    if (m) out.set(m[1]!, m[2] === '""' ? "" : m[2]!);
  }
  return out;
}

/** Two more bridges beside the paper's jvb, each with its own nickname and UDP port. */
export function threeJvbs(raw: Raw): void {
  (raw.nodes as Raw[]).push(
    { name: "jvb2", role: "jvb", address: "100.64.5.3", jvb: { nickname: "jvb2", udpPort: 10001 } },
    { name: "jvb3", role: "jvb", address: "100.64.6.3", jvb: { nickname: "jvb3", udpPort: 10002 } },
  );
}

/** Three bridges and every optional flow: TURN, colibri websockets, debug BOSH, admin and monitor networks. */
export function everyFlow(raw: Raw): void {
  threeJvbs(raw);
  raw.turn = { enabled: true };
  (raw.nodes as Raw[]).push({ name: "turn", role: "turn", address: "100.64.7.3" });
  raw.bridgeChannel = "colibri-websocket";
  raw.host = {
    ...(raw.host as Raw),
    debugBosh: true,
    adminNetworks: ["192.0.2.0/24"],
    monitorNetworks: ["198.51.100.7/32"],
  };
}
