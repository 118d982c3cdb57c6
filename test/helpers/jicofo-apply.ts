// The apply engine's unit tests (packages/agent/src/reconcile/apply-*.test.ts) on a temp root: jicofo's node
// (jicofo.conf, jicofo.in.sh, syslog.conf and jicofo's log file), rcctl as a FakeServiceManager where jicofo
// cannot reload and syslogd runs, prosodyctl as a stand-in that creates the account file, and the engine's
// log lines kept per test.
import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { NodeDesiredInput } from "@vmmeet/shared";
import { beforeEach } from "vitest";
import { accountFile } from "../../packages/agent/src/actions/prosody.js";
import type { CommandRunner } from "../../packages/agent/src/actions/runner.js";
import type { ApplyEngineOptions } from "../../packages/agent/src/reconcile/engine.js";
import { FakeServiceManager } from "../../packages/agent/src/services/fake.js";
import { engineOn } from "./agent-engine.js";
import { capturingLogger } from "./capture-log.js";
import { jicofoConf, jicofoInSh } from "./jicofo-desired.js";
import { tempRootEach } from "./temp-root.js";

export function jicofoNode(
  conf = "jicofo { xmpp {} }\n",
  flags: string | null = "--host=xmpp.example.org",
): NodeDesiredInput {
  return {
    node: "jicofo",
    role: "jicofo",
    files: [
      jicofoConf(conf),
      { ...jicofoInSh("JICOFO_MAXMEM=3G\n"), mode: "0644", group: "wheel" },
      {
        path: "/etc/syslog.conf",
        content: "!jicofo\n*.*\t/var/log/jicofo\n",
        mode: "0644",
        owner: "root",
        group: "wheel",
        notify: [{ service: "syslogd", action: "reload" }],
      },
    ],
    services: [{ name: "jicofo", flags, order: 20 }],
    actions: [
      { kind: "syslog-logfile", path: "/var/log/jicofo", mode: "0640", owner: "root", group: "wheel" },
    ],
    health: { release: 9646 },
  };
}

export function jicofoServices() {
  return new FakeServiceManager({
    jicofo: { reloadUnsupported: true },
    syslogd: { enabled: true, running: true },
  });
}

/**
 * A fresh temp root (`tmp`) and an empty `logLines` for every test of the calling file, and the engine on
 * them; call once, at the top of a test file.
 */
export function applyOnTempRoot(prefix = "vmmeet-apply-") {
  const tmp = tempRootEach(prefix);
  const logLines: string[] = [];
  beforeEach(() => {
    logLines.length = 0;
  });

  /** prosodyctl stand-in: register creates the account file as prosody's internal storage would. */
  function fakeProsodyctl(calls: string[][]): CommandRunner {
    return {
      async run(_file, args) {
        calls.push([...args]);
        if (args[0] === "register") {
          const f = path.join(tmp.root, accountFile("/var/prosody", args[2]!, args[1]!));
          await mkdir(path.dirname(f), { recursive: true });
          await writeFile(f, "return {};\n");
        }
        return { code: 0, stdout: "", stderr: "" };
      },
    };
  }

  function engine(
    services: FakeServiceManager,
    extra: Partial<Omit<ApplyEngineOptions, "root" | "stateDir">> = {},
  ) {
    return engineOn(tmp, {
      services,
      log: capturingLogger(logLines),
      runner: fakeProsodyctl([]),
      ...extra,
    });
  }

  /** jicofo's node applied as generation `generation`, its rcctl calls forgotten: what the next apply does. */
  async function appliedJicofo(generation = 1) {
    const svc = jicofoServices();
    const e = engine(svc);
    await e.apply(jicofoNode(), generation);
    svc.calls.length = 0;
    return { svc, e };
  }

  return { tmp, logLines, engine, fakeProsodyctl, appliedJicofo };
}
