import { describe, expect, it } from "vitest";
import { accountFile, passwordHash, prosodyEncode } from "./prosody.js";
import { execRunner, redact } from "./runner.js";

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
