import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { PROSODY } from "@vmmeet/shared";
import { afterEach, describe, expect, it } from "vitest";
import type { ActionsState } from "../state/store.js";
import { accountFile, ProsodyActions, passwordHash, prosodyEncode } from "./prosody.js";
import { type CommandRunner, execRunner, redact } from "./runner.js";

describe("prosody storage names", () => {
  it("encodes like util/datamanager: every non-alphanumeric byte as %xx", () => {
    expect(prosodyEncode("auth.jts.fips.de")).toBe("auth%2ejts%2efips%2ede");
    expect(prosodyEncode("focus")).toBe("focus");
    expect(prosodyEncode("a_b-c")).toBe("a%5fb%2dc");
    expect(accountFile("/var/prosody", "auth.example.org", "jvb")).toBe(
      "/var/prosody/auth%2eexample%2eorg/accounts/jvb.dat",
    );
  });

  it("hashes passwords with the node's salt", () => {
    const a = passwordHash(Buffer.from("salt-a"), "focus@auth.x", "pw");
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(passwordHash(Buffer.from("salt-b"), "focus@auth.x", "pw")).not.toBe(a);
    expect(passwordHash(Buffer.from("salt-a"), "focus@auth.x", "pw2")).not.toBe(a);
  });
});

describe("execRunner", () => {
  it("runs without a shell and redacts secrets from outputs and errors", async () => {
    const run = execRunner();
    const r = await run.run("/bin/sh", ["-c", 'echo "got $0"; exit 3', "hunter2"], { secrets: ["hunter2"] });
    expect(r).toEqual({ code: 3, stdout: "got <redacted>\n", stderr: "" });
    // an argument with shell syntax stays one argument
    const r2 = await run.run("/bin/echo", ["$(id) ; rm -rf /"]);
    expect(r2.stdout).toBe("$(id) ; rm -rf /\n");
    await expect(
      run.run("/nonexistent/prosodyctl", ["register", "focus", "h", "hunter2"], { secrets: ["hunter2"] }),
    ).rejects.toThrow("/nonexistent/prosodyctl register focus h <redacted>: ENOENT");
    expect(redact("a hunter2 b hunter2", ["hunter2"])).toBe("a <redacted> b <redacted>");
  });
});

/**
 * A prosodyctl stand-in for prosody 13's admin shell: records every call, and `shell user create` writes the
 * account file where prosody's internal storage keeps it. `fail` makes one subcommand exit 1.
 */
function shellRunner(root: string, fail?: string) {
  const calls: string[][] = [];
  const runner: CommandRunner = {
    async run(file, args) {
      calls.push([file, ...args]);
      if (fail !== undefined && args.join(" ").startsWith(fail))
        return { code: 1, stdout: "", stderr: `! ${fail} failed: Prosody is not running\n` };
      if (args[0] === "shell" && args[1] === "user" && args[2] === "create") {
        const [user, host] = (args[3] ?? "").split("@");
        const target = path.join(root, accountFile(PROSODY.dataDir.value, host!, user!));
        await mkdir(path.dirname(target), { recursive: true });
        await writeFile(target, "return {};\n");
      }
      return { code: 0, stdout: "OK: User created\n", stderr: "" };
    },
  };
  return { calls, runner };
}

describe("prosody 13: users and the roster subscription through prosodyctl shell", () => {
  const dirs: string[] = [];
  afterEach(async () => {
    for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
  });
  const setup = async (fail?: string) => {
    const root = await mkdtemp(path.join(os.tmpdir(), "vmmeet-prosody13-"));
    dirs.push(root);
    const { calls, runner } = shellRunner(root, fail);
    // No prosodyctl given: net/prosody's path.
    const actions = new ProsodyActions({ root, runner });
    const state: ActionsState = { users: {}, roster: {} };
    return { actions, calls, state };
  };
  const salt = Buffer.from("salt");
  const user = (password: string) =>
    ({ kind: "prosody-user", host: "auth.example.org", user: "focus", password, prosody: "13" }) as const;
  const roster = {
    kind: "prosody-roster-subscribe",
    proxy: "focus.example.org",
    jid: "focus@auth.example.org",
    prosody: "13",
  } as const;

  it("creates the account, changes a changed password, subscribes both ways and reloads the proxy", async () => {
    const { actions, calls, state } = await setup();
    expect(actions.prosodyctl).toBe("/usr/local/sbin/prosodyctl");
    expect(await actions.ensureUser(user("pw-one"), state, salt)).toMatchObject({
      status: "done",
      detail: "created",
    });
    expect(await actions.ensureRoster(roster, state)).toMatchObject({ status: "done" });
    // Nothing changed: nothing runs.
    expect(await actions.ensureUser(user("pw-one"), state, salt)).toMatchObject({ status: "skipped" });
    expect(await actions.ensureRoster(roster, state)).toMatchObject({ status: "skipped" });
    expect(await actions.ensureUser(user("pw-two"), state, salt)).toMatchObject({
      status: "done",
      detail: "password changed",
    });
    expect(calls).toEqual([
      ["/usr/local/sbin/prosodyctl", "shell", "user", "create", "focus@auth.example.org", "pw-one"],
      [
        "/usr/local/sbin/prosodyctl",
        "shell",
        "roster",
        "subscribe_both",
        "focus@auth.example.org",
        "focus.example.org",
      ],
      ["/usr/local/sbin/prosodyctl", "shell", "module", "reload", "client_proxy", "focus.example.org"],
      ["/usr/local/sbin/prosodyctl", "shell", "user", "password", "focus@auth.example.org", "pw-two"],
    ]);
  });

  it("reports prosodyctl shell's failure without the password, and does not record the subscription", async () => {
    const { actions, state } = await setup("shell user create");
    const item = await actions.ensureUser(user("hunter2-secret"), state, salt);
    expect(item.status).toBe("failed");
    expect(item.detail).toBe(
      "prosodyctl shell user create exited 1: ! shell user create failed: Prosody is not running",
    );
    expect(JSON.stringify(item)).not.toContain("hunter2-secret");
    expect(state.users).toEqual({});
    const r = await setup("shell roster");
    const sub = await r.actions.ensureRoster(roster, r.state);
    expect(sub).toMatchObject({ status: "failed" });
    expect(sub.detail).toMatch(/^prosodyctl shell roster subscribe_both exited 1: /);
    expect(r.state.roster).toEqual({});
  });
});
