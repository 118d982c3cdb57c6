import { describe, expect, it } from "vitest";
import { PORT_DEFAULTS, PROSODY, PROSODY_PLUGINS } from "./ports.js";
import {
  CHANGES,
  componentReleases,
  hasChange,
  JITSI_RELEASES,
  KNOWN_RELEASES,
  PORTS_RELEASE,
  pluginModules,
} from "./releases.js";

describe("the ports defaults table", () => {
  it("names a port, a file and an abbreviated commit for every fact", () => {
    const entries = Object.entries(PORT_DEFAULTS);
    expect(entries.length).toBeGreaterThan(30);
    for (const [name, f] of entries) {
      expect(f.source.port, name).toMatch(/^(base|[a-z]+\/[a-z0-9/-]+)$/);
      expect(f.source.file, name).toMatch(/^[\w./-]+$/);
      expect(f.source.commit, name).toMatch(/^[0-9a-f]{12}$/);
    }
  });

  it("has prosodyctl in sbin, as net/prosody installs it", () => {
    expect(PROSODY.prosodyctl.value).toBe("/usr/local/sbin/prosodyctl");
    expect(PROSODY.prosodyctl.source).toEqual({
      port: "net/prosody",
      file: "pkg/PLIST",
      commit: "730a93b529f9",
    });
  });
});

describe("the releases table", () => {
  it("holds the paper's, the ports', the prosody-13 and the newest stable release, in order", () => {
    for (const r of [7648, 9646, 10133, 10184, 10314, 11146]) expect(KNOWN_RELEASES).toContain(r);
    expect([...KNOWN_RELEASES].sort((a, b) => a - b)).toEqual(KNOWN_RELEASES);
    for (const row of JITSI_RELEASES) {
      expect(row.java.length, String(row.release)).toBeGreaterThan(0);
      expect(row.prosody.length, String(row.release)).toBeGreaterThan(0);
    }
    expect(JITSI_RELEASES.find((r) => r.release === 11146)?.java).toEqual([17, 21]);
  });

  it("gives each component its release, and changes by their first release", () => {
    expect(componentReleases(9646)).toEqual({ jicofo: 9646, jvb: 9646, web: 9646, plugins: 9646 });
    expect(componentReleases(PORTS_RELEASE)).toEqual({ jicofo: 9646, jvb: 9646, web: 10133, plugins: 10133 });
    expect(hasChange("jicofoRestLoopback", 10184)).toBe(false);
    expect(hasChange("jicofoRestLoopback", 10314)).toBe(true);
    for (const c of Object.values(CHANGES)) expect(c.source).toMatch(/\S/);
  });

  it("knows which plugin modules a release adds to the ports' package", () => {
    const ports = PROSODY_PLUGINS.modules.value;
    expect(pluginModules(10133, ports, 10133)).toEqual(ports);
    expect(pluginModules(10590, ports, 10133)).toEqual([...ports, "features_identity", "polls_component"]);
    expect(pluginModules(11146, ports, 10133)).toContain("muc_resource_validate");
  });
});
