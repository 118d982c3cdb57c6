import type { SetupAction } from "@vmmeet/shared";

/** One setup action's outcome: done (it acted), skipped (already in the desired state), failed, refused. */
export interface ActionItem {
  kind: "action";
  action: SetupAction["kind"];
  /** What it is about ("focus@auth.example.org", "focus.example.org focus@auth.example.org", a path); never a secret. */
  target: string;
  status: "done" | "skipped" | "failed" | "refused";
  detail?: string;
  /**
   * It could not act now for a reason outside this node (acme-client could not get a certificate: DNS not
   * pointing here yet, a rate limit) and will be tried again later. Reported as skipped, so it does not fail
   * the apply (which would roll the whole push back); the healer retries it sooner than its usual period.
   */
  deferred?: true;
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
    case "acme-certificate":
      return a.domain;
  }
}
