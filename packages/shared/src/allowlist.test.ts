import { describe, expect, it } from "vitest";
import { actionRefusal } from "./allowlist.js";
import { SetupAction } from "./desired.js";
import { ROLES } from "./spec.js";

const acme: Extract<SetupAction, { kind: "acme-certificate" }> = {
  kind: "acme-certificate",
  domain: "jts.fips.de",
  certificate: "/etc/ssl/jts.fips.de.fullchain.pem",
  key: "/etc/ssl/private/jts.fips.de.key",
  challengeDir: "/var/www/acme",
  renewBeforeDays: 30,
};

describe("actionRefusal", () => {
  it("runs acme-certificate on the web node only", () => {
    expect(actionRefusal("web", acme)).toBeNull();
    for (const role of [...ROLES.filter((r) => r !== "web"), "host" as const]) {
      expect(actionRefusal(role, acme), role).toBe(`not an action the ${role} role runs (web only)`);
    }
  });

  it("keeps acme-certificate's files where acme-client and nginx keep them", () => {
    const bad: [Partial<typeof acme>, string][] = [
      [{ certificate: "/etc/master.passwd" }, "certificate: "],
      [{ certificate: "/etc/ssl/private/x.pem" }, "certificate: "],
      [{ key: "/etc/ssl/x.key" }, "key: "],
      [{ key: "/etc/ssl/private/sub/x.key" }, "key: "],
      [{ challengeDir: "/etc" }, "challengeDir: "],
      [{ challengeDir: "/var/www" }, "challengeDir: "],
    ];
    for (const [patch, field] of bad) {
      expect(actionRefusal("web", { ...acme, ...patch }), JSON.stringify(patch)).toMatch(
        new RegExp(`^${field}must be`),
      );
    }
  });

  it("leaves the other kinds to every role, as before", () => {
    const logfile = SetupAction.parse({
      kind: "syslog-logfile",
      path: "/var/log/jvb",
      mode: "0640",
      owner: "root",
      group: "wheel",
    });
    for (const role of ROLES) expect(actionRefusal(role, logfile)).toBeNull();
  });

  it("the schema refuses a domain that acme-client would read as an option", () => {
    expect(SetupAction.safeParse(acme).success).toBe(true);
    for (const domain of ["-F", "-v.example.org", "JTS.fips.de", "jts", "a b.de", "jts.fips.de\n"]) {
      expect(SetupAction.safeParse({ ...acme, domain }).success, domain).toBe(false);
    }
    expect(SetupAction.safeParse({ ...acme, renewBeforeDays: 0 }).success).toBe(false);
    expect(SetupAction.safeParse({ ...acme, extra: 1 }).success).toBe(false);
  });
});
