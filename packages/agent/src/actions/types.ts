import type { SetupAction } from "@vmmeet/shared";

/** One setup action's outcome: done (it acted), skipped (already in the desired state), failed, refused. */
export interface ActionItem {
  kind: "action";
  action: SetupAction["kind"];
  /** What it is about ("focus@auth.example.org", "focus.example.org focus@auth.example.org", a path); never a secret. */
  target: string;
  status: "done" | "skipped" | "failed" | "refused";
  detail?: string;
}

/** Human-readable identity of an action, free of secrets. */
export function actionTarget(a: SetupAction): string {
  switch (a.kind) {
    case "prosody-user":
      return `${a.user}@${a.host}`;
    case "prosody-roster-subscribe":
      return `${a.proxy} ${a.jid}`;
    case "syslog-logfile":
      return a.path;
  }
}
