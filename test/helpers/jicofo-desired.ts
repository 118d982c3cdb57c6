// The jicofo.conf entry of a jicofo node's desired state, as the agent tests write it: secret-free content
// of the test's choice, 0640 root:_jicofo, a restart of jicofo when it changes.
import type { FileEntryInput } from "@vmmeet/shared";

export function jicofoConf(content: string): FileEntryInput {
  return {
    path: "/etc/jicofo/jicofo.conf",
    content,
    mode: "0640",
    owner: "root",
    group: "_jicofo",
    notify: [{ service: "jicofo", action: "restart" }],
  };
}
