// What a push would do, per node: the unified diff of each file against what the agent last reported, the
// services that would restart or reload, and the setup actions that would run. Pure.
//
// The agent reports file hashes, not contents (contents may hold secrets and stay on the VM). The old side
// of a diff is therefore the content of the generation the agent says it applied, when the reported hash
// matches it; a file changed by hand on the VM shows as drift with unknown content.
import { entryDigest, sha256 } from "@vmmeet/node";
import type { FileEntry, NodeDesired, NodeStatus, SetupAction } from "@vmmeet/shared";
import { createTwoFilesPatch } from "diff";
import type { FilePlan, NodePlan } from "../admin/methods.js";

export type { FilePlan, NodePlan } from "../admin/methods.js";

/**
 * In files marked secret, every run of 32+ letters and digits is masked too: the node's old content may hold
 * a secret that has since been rotated, which masking by the current values cannot know (generated secrets
 * are 40 of these characters).
 */
const GENERATED_SECRET = /\b[A-Za-z0-9]{32,}\b/g;
const NOTHING = /(?!)/g;

const PRIVATE_KEY_BLOCK = /-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?-----END \1PRIVATE KEY-----/g;

/**
 * Replaces every secret value by a placeholder, longest first so a secret containing another is masked
 * whole, and every PEM private key block (prosody's auth.DOMAIN key is not one of the generated passwords).
 */
export function maskSecrets(text: string, secrets: readonly string[]): string {
  let out = text.replace(PRIVATE_KEY_BLOCK, "<private key>");
  for (const s of [...secrets].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length))
    out = out.split(s).join("<secret>");
  return out;
}

export function actionLabel(a: SetupAction): string {
  switch (a.kind) {
    case "prosody-user":
      return `prosody-user ${a.user}@${a.host}`;
    case "prosody-roster-subscribe":
      return `prosody-roster-subscribe ${a.proxy} ${a.jid}`;
    case "syslog-logfile":
      return `syslog-logfile ${a.path}`;
    case "acme-certificate":
      return `acme-certificate ${a.domain}`;
  }
}

function actionKey(a: SetupAction): string {
  return a.kind === "prosody-user" ? `${actionLabel(a)} ${sha256(a.password)}` : JSON.stringify(a);
}

export function planNode(
  next: NodeDesired,
  baseline: { desired: NodeDesired | null; status: NodeStatus | null },
  secrets: readonly string[],
): NodePlan {
  const reported = new Map((baseline.status?.files ?? []).map((f) => [f.path, f]));
  const previous = new Map((baseline.desired?.files ?? []).map((f) => [f.path, f]));
  const files: FilePlan[] = [];
  const restarts = new Set<string>();
  const reloads = new Set<string>();
  for (const f of next.files) {
    const plan = planFile(f, reported.get(f.path), previous.get(f.path), baseline.status === null, secrets);
    files.push(plan);
    if (plan.change !== "unchanged") {
      for (const n of f.notify) (n.action === "restart" ? restarts : reloads).add(n.service);
    }
  }
  for (const r of restarts) reloads.delete(r);
  const done = new Set((baseline.desired?.actions ?? []).map(actionKey));
  // A node that never reported runs every action; otherwise only new or changed ones (the agent checks first anyway).
  const actions = next.actions
    .filter((a) => baseline.status === null || baseline.status.generation === 0 || !done.has(actionKey(a)))
    .map(actionLabel);
  return {
    node: next.node,
    files,
    restarts: [...restarts].sort(),
    reloads: [...reloads].sort(),
    reconnects: [],
    actions,
    unknownBaseline: baseline.status === null,
  };
}

function planFile(
  f: FileEntry,
  reported: NodeStatus["files"][number] | undefined,
  previous: FileEntry | undefined,
  neverReported: boolean,
  secrets: readonly string[],
): FilePlan {
  const want = entryDigest(f);
  const base = { path: f.path, secret: f.secret };
  const text = (e: FileEntry) =>
    e.encoding === "base64"
      ? null
      : maskSecrets(e.content, secrets).replace(f.secret ? GENERATED_SECRET : NOTHING, "<secret>");
  const patch = (oldText: string, newText: string, oldLabel: string) =>
    createTwoFilesPatch(
      `${f.path} (${oldLabel})`,
      `${f.path} (new)`,
      oldText,
      newText,
      undefined,
      undefined,
      { context: 3 },
    )
      .split("\n")
      .slice(1)
      .join("\n");
  const onNode = reported?.sha256 ?? null;
  if (!neverReported && onNode === want) {
    const modeOk = reported?.mode === f.mode && reported.owner === f.owner && reported.group === f.group;
    return modeOk
      ? { ...base, change: "unchanged", diff: "" }
      : {
          ...base,
          change: "mode",
          diff: `mode/owner ${reported?.mode ?? "?"} ${reported?.owner ?? "?"}:${reported?.group ?? "?"} -> ${f.mode} ${f.owner}:${f.group}\n`,
        };
  }
  const newText = text(f);
  if (onNode === null || neverReported) {
    return {
      ...base,
      change: "create",
      diff: newText === null ? "(binary content)\n" : patch("", newText, "absent"),
    };
  }
  if (previous && entryDigest(previous) === onNode) {
    const oldText = text(previous);
    if (oldText === null || newText === null)
      return { ...base, change: "modify", diff: "(binary content changed)\n" };
    // Only masked parts changed (a rotated password, a renewed key): say so rather than show an empty diff.
    return {
      ...base,
      change: "modify",
      diff: oldText === newText ? "(secret content changed)\n" : patch(oldText, newText, "on node"),
    };
  }
  return {
    ...base,
    change: "drift",
    diff: `changed on the node (sha256 ${onNode.slice(0, 12)}…, content not known to the coordinator); will be replaced\n`,
  };
}

export function planHasChanges(plans: NodePlan[]): boolean {
  return plans.some((p) => p.files.some((f) => f.change !== "unchanged") || p.actions.length > 0);
}
