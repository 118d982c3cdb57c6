import { entryDigest } from "@vmmeet/node";
import { NodeDesired, type NodeStatus } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import { maskSecrets, planNode } from "./plan.js";

const key = (body: string) => `-----BEGIN PRIVATE KEY-----\n${body}\n-----END PRIVATE KEY-----\n`;

function desired(conf: string, keyBody: string) {
  return NodeDesired.parse({
    node: "xmpp",
    role: "xmpp",
    files: [
      {
        path: "/etc/prosody/prosody.cfg.lua",
        content: conf,
        mode: "0640",
        owner: "root",
        group: "_prosody",
        secret: true,
        notify: [{ service: "prosody", action: "restart" }],
      },
      {
        path: "/var/prosody/auth.example.org.key",
        content: key(keyBody),
        mode: "0640",
        owner: "root",
        group: "_prosody",
        secret: true,
        notify: [{ service: "prosody", action: "restart" }],
      },
    ],
    services: [{ name: "prosody", flags: null, order: 10 }],
    actions: [
      { kind: "prosody-user", host: "auth.example.org", user: "focus", password: "pw-old-0123456789" },
    ],
    health: { release: 9646 },
  });
}

function reported(d: NodeDesired, generation = 1): NodeStatus {
  return {
    generation,
    applying: null,
    files: d.files.map((f) => ({
      path: f.path,
      sha256: entryDigest(f),
      mode: f.mode,
      owner: f.owner,
      group: f.group,
    })),
    services: [],
    health: [],
    metrics: null,
  };
}

describe("maskSecrets", () => {
  it("masks secret values (longest first) and PEM private key blocks", () => {
    expect(maskSecrets('password = "abcd1234abcd"\n', ["abcd1234abcd", "abcd"])).toBe(
      'password = "<secret>"\n',
    );
    expect(maskSecrets(`x\n${key("MIIEsecret")}y\n`, [])).toBe("x\n<private key>\ny\n");
    expect(maskSecrets("-----BEGIN RSA PRIVATE KEY-----\nAAA\n-----END RSA PRIVATE KEY-----", [])).toBe(
      "<private key>",
    );
  });
});

describe("planNode", () => {
  it("shows the changed line with secrets masked, never a key, and the restart", () => {
    const before = desired('c2s = "a"\nextra = "pw-old-0123456789"\n', "OLDKEYMATERIAL");
    const after = desired('c2s = "b"\nextra = "pw-new-0123456789"\n', "NEWKEYMATERIAL");
    const plan = planNode(after, { desired: before, status: reported(before) }, [
      "pw-old-0123456789",
      "pw-new-0123456789",
    ]);
    const text = JSON.stringify(plan);
    expect(text).not.toMatch(/OLDKEYMATERIAL|NEWKEYMATERIAL|pw-old|pw-new/);
    const cfg = plan.files.find((f) => f.path.endsWith(".lua"))!;
    expect(cfg.change).toBe("modify");
    expect(cfg.diff).toMatch(/-c2s = "a"/);
    expect(cfg.diff).toMatch(/\+c2s = "b"/);
    expect(plan.files.find((f) => f.path.endsWith(".key"))).toMatchObject({
      change: "modify",
      diff: "(secret content changed)\n",
    });
    expect(plan.restarts).toEqual(["prosody"]);
  });

  it("reports nothing to do when the node has exactly the desired files, and drift when it does not", () => {
    const d = desired('c2s = "a"\n', "K");
    expect(
      planNode(d, { desired: d, status: reported(d) }, []).files.every((f) => f.change === "unchanged"),
    ).toBe(true);
    const drifted = reported(d);
    drifted.files[0] = { ...drifted.files[0]!, sha256: "0".repeat(64) };
    expect(planNode(d, { desired: d, status: drifted }, []).files[0]?.change).toBe("drift");
  });

  it("masks a rotated secret that is no longer among the current ones (secret files)", () => {
    const oldPw = "Ab3dEfGh1jKlMn0pQrStUvWxYz0123456789abcd";
    const before = desired(`password = "${oldPw}"\n`, "K");
    const after = desired('password = "NEW-is-in-the-list-0123"\n', "K");
    const plan = planNode(after, { desired: before, status: reported(before) }, ["NEW-is-in-the-list-0123"]);
    const cfg = plan.files.find((f) => f.path.endsWith(".lua"))!;
    expect(cfg.change).toBe("modify");
    expect(cfg.diff).not.toContain(oldPw);
    expect(cfg.diff).toBe("(secret content changed)\n");
  });
});
