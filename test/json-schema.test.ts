// The JSON Schema that editors use is generated from the same zod schema as validation: a spec the schema
// rejects is one validate rejects, for the fields the schema can express.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { runCli } from "@vmmeet/coordinator";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";

describe("vmmeet schema / init's vmmeet.schema.json", () => {
  it("describes every top-level field, marks the required ones, and init writes it beside the spec", async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), "vmmeet-schema-"));
    try {
      const out: string[] = [];
      expect(
        await runCli(["schema"], { out: (s: string) => out.push(s), err: () => {}, cwd: dir, env: {} }),
      ).toBe(0);
      const schema = JSON.parse(out.join("")) as {
        properties: Record<string, { description?: string }>;
        required: string[];
      };
      expect(Object.keys(schema.properties).sort()).toEqual(
        [
          "auth",
          "bridgeChannel",
          "brewery",
          "domain",
          "host",
          "jitsi",
          "nodes",
          "operations",
          "publicAddress",
          "tls",
          "turn",
          "version",
          "web",
          "xmppWebsocket",
        ].sort(),
      );
      expect([...schema.required].sort()).toEqual(["domain", "jitsi", "nodes", "publicAddress", "version"]);
      expect(schema.properties.domain?.description).toMatch(/XMPP domain/);
      expect(await runCli(["init"], { out: () => {}, err: () => {}, cwd: dir, env: {} })).toBe(0);
      const written = JSON.parse(await readFile(path.join(dir, "vmmeet.schema.json"), "utf8"));
      expect(written).toEqual(schema);
      const spec = await readFile(path.join(dir, "vmmeet.yaml"), "utf8");
      expect(spec.split("\n")[0]).toBe("# yaml-language-server: $schema=./vmmeet.schema.json");
      expect(parse(spec)).toMatchObject({ version: 1 });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
