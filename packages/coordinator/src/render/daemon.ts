// What the jicofo and jvb renderers share: both are Java daemons of the OpenBSD ports that log through
// syslog under their own program name, which the paper sends to /var/log/NAME with a syslog.conf block
// `!NAME` / `*.* /var/log/NAME` (sections X.B and XI.B); lines logged before that block exists (or by the
// rc script) land in /var/log/daemon with the program's tag. Both answer /about/health on a local port.
import type { ComponentRender } from "./types.js";

export function javaDaemonLogsAndProbe(
  name: "jicofo" | "jvb",
  healthPort: number,
): Pick<ComponentRender, "programLogs" | "logs" | "probes"> {
  const path = `/var/log/${name}`;
  return {
    programLogs: [
      { program: name, path, owner: "root", group: "wheel", mode: "0640", keep: 7, sizeKb: 1024 },
    ],
    logs: [
      { component: name, path },
      { component: name, path: "/var/log/daemon", tag: name },
    ],
    probes: [
      {
        component: name,
        service: name,
        http: `http://127.0.0.1:${healthPort}/about/health`,
        ports: [healthPort],
      },
    ],
  };
}
