// The apply engine's hooks (reconcile/apply.ts ApplyHooks): which file each program checks, which notify
// it takes over from rcctl, and what the VMM host does after its services. pf.conf is on every node;
// vm.conf and sysctl.conf only on the host (shared/allowlist.ts), so one set of hooks serves every role.
//
// /etc/hosts and /etc/myname need none: the resolver reads /etc/hosts at every lookup, and /etc/myname is
// read by /etc/rc at boot only. The agent writes /etc/myname and deliberately does not run hostname(1) at
// apply: syslogd and smtpd take the host name once at start, so a live rename would leave their lines and
// mail with the old name until each restarts (a half-renamed node), while nothing vmmeet runs depends on
// the kernel's host name (the services use the names of their configs and /etc/hosts). A VM copied from
// the template therefore carries the template's name in its kernel until its next boot.

import { entryBytes } from "@vmmeet/node";
import { type HostManager, SYSCTL_CONF, VM_CONF } from "../host/vmm.js";
import type { ApplyHooks, HookItem } from "../reconcile/apply.js";
import { DEFAULT_CONFIRM_SECONDS, PF_CONF, type PfManager } from "./manager.js";

export interface SystemHooksOptions {
  pf?: PfManager | null;
  host?: HostManager | null;
}

export function systemHooks(options: SystemHooksOptions): ApplyHooks {
  const { pf, host } = options;
  return {
    async check(entry, bytes) {
      if (pf && entry.path === PF_CONF) return pf.check(bytes);
      if (host && entry.path === VM_CONF) return host.checkVmConf(bytes);
      return null;
    },
    async beforeWrite(entry) {
      if (pf && entry.path === PF_CONF) await pf.beforeWrite();
    },
    notify(service, _action, ctx) {
      // rcctl has no pf service (pf=YES is one of its special variables): pfctl loads the rules, and a
      // reload and a restart are the same thing for it.
      if (service !== "pf" || !pf) return null;
      const seconds = ctx.desired?.pf?.confirmSeconds ?? DEFAULT_CONFIRM_SECONDS;
      return pf
        .load(ctx.generation, seconds)
        .then((r) =>
          r.ok
            ? { ok: true, step: "reloaded" as const, detail: r.detail }
            : { ok: false, step: null, detail: r.detail },
        );
    },
    reload(service) {
      // vm.conf(5) takes effect with `vmctl reload` (vmd re-reads it; running VMs keep running).
      return service === "vmd" && host ? host.reloadVmd() : null;
    },
    async finish(desired) {
      if (!host || desired.role !== "host") return [];
      const items: HookItem[] = [];
      const sysctl = desired.files.find((f) => f.path === SYSCTL_CONF);
      if (sysctl) items.push(...(await host.applySysctl(entryBytes(sysctl).toString("utf8"))));
      if (desired.vms) items.push(...(await host.startVms(desired.vms)));
      return items;
    },
  };
}
