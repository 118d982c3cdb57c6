// Applying a desired state, prosody's accounts: users created after prosody runs, the roster subscription,
// idempotence, and the password kept out of results, logs and every state file but state.json.
import { readdir, readFile, stat, unlink } from "node:fs/promises";
import path from "node:path";
import type { NodeDesiredInput } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { applyOnTempRoot } from "../../../../test/helpers/jicofo-apply.js";
import { accountFile } from "../actions/prosody.js";
import type { CommandRunner } from "../actions/runner.js";
import { FakeServiceManager } from "../services/fake.js";

const PASSWORD = "s3cret-Focus-pw";

const { tmp, logLines, engine, fakeProsodyctl } = applyOnTempRoot();

describe("applyDesired", () => {
  it("creates prosody users after prosody runs, redacts the password, and is idempotent", async () => {
    const calls: string[][] = [];
    const svc = new FakeServiceManager({ prosody: {}, syslogd: { enabled: true, running: true } });
    // prosodyctl must not be called before prosody is started
    const runner: CommandRunner = {
      async run(file, args, opts) {
        expect(svc.services.get("prosody")?.running).toBe(true);
        return fakeProsodyctl(calls).run(file, args, opts);
      },
    };
    const e = engine(svc, { runner });
    const desired: NodeDesiredInput = {
      node: "xmpp",
      role: "xmpp",
      files: [],
      services: [{ name: "prosody", flags: null, order: 10 }],
      actions: [
        { kind: "prosody-roster-subscribe", proxy: "focus.example.org", jid: "focus@auth.example.org" },
        { kind: "prosody-user", host: "auth.example.org", user: "focus", password: PASSWORD },
      ],
      health: { release: 9646 },
    };
    const r1 = await e.apply(desired, 1);
    expect(r1.outcome).toBe("applied");
    expect(calls).toEqual([
      ["register", "focus", "auth.example.org", PASSWORD],
      ["mod_roster_command", "subscribe", "focus.example.org", "focus@auth.example.org"],
    ]);
    const r2 = await e.apply(desired, 1);
    expect(r2.changed).toBe(false);
    expect(calls).toHaveLength(2);
    // a new password: register again (resets it), the roster stays
    const changed = structuredClone(desired);
    (changed.actions[1] as { password: string }).password = `${PASSWORD}-2`;
    await e.apply(changed, 2);
    expect(calls).toHaveLength(3);
    // the account vanished (prosody data lost): re-created, and the subscription is redone
    await unlink(path.join(tmp.root, accountFile("/var/prosody", "auth.example.org", "focus")));
    await e.apply(changed, 2);
    expect(calls.slice(3).map((c) => c[0])).toEqual(["register", "mod_roster_command"]);
    // state.json must keep it (the agent re-creates the user with the coordinator gone): 0600 in a 0700 tmp.dir
    expect((await stat(path.join(tmp.stateDir, "state.json"))).mode & 0o777).toBe(0o600);
    expect((await stat(tmp.stateDir)).mode & 0o777).toBe(0o700);
    const everything =
      JSON.stringify([r1, r2]) + logLines.join("") + (await readAll(tmp.stateDir, "state.json"));
    expect(everything).not.toContain(PASSWORD);
  });

  it("keeps the password out of results when prosodyctl fails", async () => {
    const svc = new FakeServiceManager({ prosody: {} });
    const runner: CommandRunner = {
      async run(_f, args) {
        return { code: 1, stdout: `Error: bad ${args.join(" ")}`, stderr: "" };
      },
    };
    const r = await engine(svc, { runner }).apply(
      {
        node: "xmpp",
        role: "xmpp",
        files: [],
        services: [{ name: "prosody", flags: null, order: 10 }],
        actions: [{ kind: "prosody-user", host: "auth.example.org", user: "focus", password: PASSWORD }],
        health: { release: 9646 },
      },
      1,
    );
    expect(r.outcome).toBe("failed");
    expect(r.actions[0]?.status).toBe("failed");
    expect(JSON.stringify(r) + logLines.join("")).not.toContain(PASSWORD);
  });
});

async function readAll(d: string, except: string): Promise<string> {
  let out = "";
  for (const e of await readdir(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name !== except) out += await readFile(path.join(e.parentPath, e.name), "utf8");
  }
  return out;
}
