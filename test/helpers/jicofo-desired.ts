// A jicofo node's desired state as the agent tests write it: jicofo (started at order 20) and the files of
// the test's choice; jicofoConf and jicofoInSh are its two usual files, secret-free, 0640 root:_jicofo, and
// a restart of jicofo when they change.
import { type FileEntryInput, NodeDesired, type NodeDesiredInput } from "@vmmeet/shared";

export function jicofoConf(content: string): FileEntryInput {
  return jicofoFile("/etc/jicofo/jicofo.conf", content);
}

export function jicofoInSh(content: string): FileEntryInput {
  return jicofoFile("/etc/jicofo/jicofo.in.sh", content);
}

function jicofoFile(path: string, content: string): FileEntryInput {
  return {
    path,
    content,
    mode: "0640",
    owner: "root",
    group: "_jicofo",
    notify: [{ service: "jicofo", action: "restart" }],
  };
}

/**
 * The node "jicofo" with these files, jicofo as its one service, no actions, and `health` (release 9646);
 * `over` replaces any of them (jicofo's grace period, another role's node).
 */
export function jicofoDesired(
  files: FileEntryInput[],
  health: Partial<NodeDesiredInput["health"]> = {},
  over: Partial<NodeDesiredInput> = {},
): NodeDesired {
  return NodeDesired.parse({
    node: "jicofo",
    role: "jicofo",
    files,
    services: [{ name: "jicofo", flags: null, order: 20 }],
    actions: [],
    health: { release: 9646, ...health },
    ...over,
  } satisfies NodeDesiredInput);
}
