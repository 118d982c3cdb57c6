import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { HealthLabelSchema, type LogComponent } from "@vmmeet/shared";
import { describe, expect, it } from "vitest";
import {
  type CatalogEntry,
  catalogOf,
  ownerOf,
  parseSelector,
  prosodySource,
  selects,
  templateRegex,
  whereOfLine,
} from "./catalog.js";
import { CATALOG_RULES, NO_RULE } from "./catalogRules.js";
import { classify } from "./classify.js";
import { JUL_LEVEL_NAMES } from "./julLevels.gen.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../..");

interface CatalogRecord {
  component: string;
  printed_level: string;
  class: string | null;
  method: string | null;
  template: string;
  revisions: { revision: string }[];
}

/** test/fixtures/logs/catalog.jsonl: the warning and error statements of the deployment paths. */
const records: CatalogRecord[] = readFileSync(path.join(repoRoot, "test/fixtures/logs/catalog.jsonl"), "utf8")
  .split("\n")
  .filter((l) => l.trim() !== "")
  .map((l) => JSON.parse(l) as CatalogRecord);

/** Which log a catalog file's messages appear in (jicoco and Smack run inside jicofo and jvb). */
const LOGS: Record<string, LogComponent[]> = {
  jicofo: ["jicofo"],
  jvb: ["jvb"],
  ice4j: ["jvb"],
  jicoco: ["jicofo", "jvb"],
  smack: ["jicofo", "jvb"],
  prosody: ["prosody"],
  "prosody-plugins": ["prosody"],
  nginx: ["nginx"],
};

/**
 * Values put into each {}: none of them may reach an explanation or a fix (values of real lines
 * may hold secrets). Digits and letters that no template or explanation holds.
 */
const VALUES = ["Zq7secretValue", "203.0.113.77", "Kx9tokenABC", "48611"];

function message(template: string): string {
  let i = 0;
  // A multi-line template (ice4j's socket failure) is printed on one line here: the record joiner
  // puts such lines back together in a real log.
  return template.replace(/\{\}/g, () => VALUES[i++ % VALUES.length] as string).replace(/\n/g, " ");
}

function severity(rec: CatalogRecord): "E" | "W" {
  return /SEVERE|error|emerg|alert|crit/.test(rec.printed_level) ? "E" : "W";
}

/** java.util.logging names of one language for SEVERE and WARNING, from the generated table. */
function julNames(lang: string): { E: string; W: string } {
  const pick = (level: "SEVERE" | "WARNING") =>
    Object.entries(JUL_LEVEL_NAMES[level]).find(([, langs]) =>
      langs.split(" ").includes(lang),
    )?.[0] as string;
  return { E: pick("SEVERE"), W: pick("WARNING") };
}
const LOCALES = ["de", "fr", "es", "it", "pt", "sv", "ja", "zh", "ko"].map(julNames);

type Layout = (rec: CatalogRecord, msg: string, n: number) => string;

function javaLine(rec: CatalogRecord, msg: string, level: string, name: string): string {
  const cls = rec.class as string;
  const method = rec.method ?? "<init>";
  // Jitsi's own classes print Class.method#line; ice4j and Smack log through java.util.logging
  // with the qualified class and no line number.
  const where =
    rec.component === "ice4j" || rec.component === "smack"
      ? `org.example.${cls}.${method}:`
      : `${cls}.${method}#${100 + (msg.length % 400)}:`;
  return `${name} 2024-06-01 08:00:00.123 ${level}: [42] ${where} ${msg}`;
}

function prosodyLine(rec: CatalogRecord, msg: string, level: string, sep: "\t" | "spaces"): string {
  const mod = (rec.class ?? "general").replace(/^mod_/, "").replace(/^(?:core|util|net)\./, "");
  const source = rec.class?.startsWith("mod_") ? `meet.example.org:${mod}` : mod;
  return sep === "\t" ? `${source}\t${level}\t${msg}` : `${source.padEnd(19)} ${level.padEnd(8)}${msg}`;
}

function nginxLevel(rec: CatalogRecord): string {
  const levels = rec.printed_level.split("|");
  return ["error", "crit", "alert", "emerg", "warn"].find((l) => levels.includes(l)) as string;
}

function layouts(component: LogComponent): Record<string, Layout> {
  if (component === "jicofo" || component === "jvb") {
    const name = component === "jicofo" ? "Jicofo" : "JVB";
    const plain: Layout = (rec, msg) =>
      javaLine(rec, msg, severity(rec) === "E" ? "SEVERE" : "WARNING", name);
    return {
      plain,
      syslog: (rec, msg) => `Jun  1 08:00:00 ${component} ${component}[4242]: ${plain(rec, msg, 0)}`,
      "docker-compose": (rec, msg) => `${component}_1  | ${plain(rec, msg, 0)}`,
      journald: (rec, msg) => `Jun 01 08:00:00 meet ${component}.sh[4072]: ${plain(rec, msg, 0)}`,
      "JVM locale": (rec, msg, n) => {
        const names = LOCALES[n % LOCALES.length] as { E: string; W: string };
        return javaLine(rec, msg, names[severity(rec)], name);
      },
    };
  }
  if (component === "prosody") {
    const level = (rec: CatalogRecord) => (severity(rec) === "E" ? "error" : "warn");
    const plain: Layout = (rec, msg) => `Jun 01 08:00:00 ${prosodyLine(rec, msg, level(rec), "\t")}`;
    return {
      plain,
      syslog: (rec, msg) => `Jun  1 08:00:00 xmpp prosody[4242]: ${prosodyLine(rec, msg, level(rec), "\t")}`,
      "docker-compose": (rec, msg) => `prosody_1  | ${plain(rec, msg, 0)}`,
      journald: (rec, msg) =>
        `Jun 01 08:00:00 xmpp prosody[4242]: ${prosodyLine(rec, msg, level(rec), "\t")}`,
      // prosody has no JVM: its other layout is the console's, padded with blanks.
      "blank-padded": (rec, msg) => `Jun 01 08:00:00 ${prosodyLine(rec, msg, level(rec), "spaces")}`,
    };
  }
  const plain: Layout = (rec, msg) => `2024/06/01 08:00:00 [${nginxLevel(rec)}] 1234#1234: *5 ${msg}`;
  return {
    plain,
    syslog: (rec, msg) => `Jun  1 08:00:00 web nginx: ${plain(rec, msg, 0)}`,
    "docker-compose": (rec, msg) => `web_1  | ${plain(rec, msg, 0)}`,
    journald: (rec, msg) => `Jun 01 08:00:00 web nginx[1234]: ${plain(rec, msg, 0)}`,
    // nginx has no JVM: start-up errors go to stderr instead.
    stderr: (rec, msg) => `nginx: [${nginxLevel(rec)}] ${msg}`,
  };
}

function entryOf(rec: CatalogRecord): CatalogEntry {
  const where =
    rec.component === "nginx"
      ? (rec.method as string)
      : rec.component.startsWith("prosody")
        ? (rec.class as string)
        : `${rec.class}.${rec.method ?? "<init>"}`;
  return [severity(rec), where, rec.template];
}

const cases = records.flatMap((rec) => (LOGS[rec.component] ?? []).map((component) => ({ rec, component })));

describe("catalog entries x layouts (generated from test/fixtures/logs/catalog.jsonl)", () => {
  it("covers every file and level of the catalog subset", () => {
    expect(new Set(records.map((r) => r.component))).toEqual(new Set(Object.keys(LOGS)));
    expect(cases.length).toBeGreaterThan(500);
  });

  for (const component of ["jicofo", "jvb", "prosody", "nginx"] as const) {
    for (const [layout, make] of Object.entries(layouts(component))) {
      it(`${component}, ${layout}: every warning or error is not info, and no value reaches the explanation`, () => {
        const failures: string[] = [];
        cases
          .filter((c) => c.component === component)
          .forEach(({ rec }, n) => {
            const line = make(rec, message(rec.template), n);
            const r = classify(component, line);
            const owner = ownerOf(component, entryOf(rec));
            // A known-harmless warning is info on purpose, and says so.
            const ok =
              r.label !== "info" || (r.signal === "known-harmless" && owner?.signal === "known-harmless");
            if (!ok) failures.push(`${r.label} ${r.signal}: ${line}`);
            // `detail` is a rule's extracted JID, port or path (rules.ts), shown apart from the explanation.
            for (const text of [r.explain, r.fix ?? ""])
              for (const v of VALUES) if (text.includes(v)) failures.push(`value ${v} in result of: ${line}`);
          });
        expect(failures).toEqual([]);
      });
    }
  }

  it("a covered entry gets a rule's signal, not 'unrecognised'", () => {
    const failures: string[] = [];
    for (const { rec, component } of cases) {
      const entry = entryOf(rec);
      if (ownerOf(component, entry) === undefined || templateRegex(rec.template) === undefined) continue;
      const line = (layouts(component).plain as Layout)(rec, message(rec.template), 0);
      const r = classify(component, line);
      if (r.signal === null || r.signal.startsWith("unrecognised-")) failures.push(`${r.signal}: ${line}`);
    }
    expect(failures).toEqual([]);
  });

  it("every entry is claimed by a rule or listed with the reason it needs none", () => {
    const unclaimed: string[] = [];
    for (const { rec, component } of cases) {
      const entry = entryOf(rec);
      if (ownerOf(component, entry) !== undefined) continue;
      const listed = NO_RULE[component].some((n) => n.covers.some((s) => selects(parseSelector(s), entry)));
      if (!listed) unclaimed.push(`${component} ${entry[1]}: ${entry[2]}`);
    }
    expect(unclaimed).toEqual([]);
  });

  it("catalogRules.json: each rule has a signal name, a known label, an explanation and selectors", () => {
    const components = ["jicofo", "jvb", "prosody", "nginx"] as const;
    const bad: string[] = [];
    for (const component of components) {
      for (const r of CATALOG_RULES[component]) {
        const at = `${component}/${r.signal}`;
        if (!/^[a-z0-9]+(?:-[a-z0-9]+)*$/.test(r.signal)) bad.push(`${at}: signal name`);
        if (!HealthLabelSchema.safeParse(r.label).success) bad.push(`${at}: label ${r.label}`);
        if (r.explain.length < 20) bad.push(`${at}: explain`);
        if (r.covers.length === 0) bad.push(`${at}: no covers`);
        // "[E |W ]Where[: template text]" (catalog.ts parseSelector); a Lua library's Where has its folder
        // ("mod_pubsub/pubsub.lib").
        for (const sel of r.covers)
          if (!/^(?:[EW] )?[\w$.<>*]+(?:\/[\w.]+)?(?:: .+)?$/.test(sel)) bad.push(`${at}: ${sel}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it("catalog.gen.json is what catalog.mjs makes of the fixture's records, to the byte", async () => {
    const script = path.join(repoRoot, "packages/agent/scripts/health/catalog.mjs");
    const { agentCatalogText } = (await import(script)) as {
      agentCatalogText: (recs: readonly CatalogRecord[]) => string;
    };
    const committed = readFileSync(path.join(repoRoot, "packages/agent/src/health/catalog.gen.json"), "utf8");
    expect(agentCatalogText(records)).toBe(committed);
  });

  it("the agent's compiled catalog holds every entry of the fixture (catalog.mjs wrote both)", () => {
    for (const { rec, component } of cases) {
      const [sev, where, template] = entryOf(rec);
      expect(
        catalogOf(component).some((e) => e[0] === sev && e[1] === where && e[2] === template),
        `${component} ${where}: ${template}`,
      ).toBe(true);
    }
  });
});

describe("never silently info", () => {
  const unknown = "Something nobody catalogued happened to Zq7secretValue";

  it("a java.util.logging warning or error in any JDK locale is degraded or failed", () => {
    for (const [name, langs] of Object.entries(JUL_LEVEL_NAMES.SEVERE)) {
      const r = classify("jicofo", `Jicofo 2024-06-01 08:00:00.000 ${name}: [1] Foo.bar#1: ${unknown}`);
      expect(r, `${name} (${langs})`).toMatchObject({ signal: "unrecognised-error", label: "failed" });
    }
    for (const [name, langs] of Object.entries(JUL_LEVEL_NAMES.WARNING)) {
      const r = classify("jvb", `${name}: ${unknown}`);
      expect(r, `${name} (${langs})`).toMatchObject({ signal: "unrecognised-warning", label: "degraded" });
    }
    for (const name of Object.keys(JUL_LEVEL_NAMES.INFO)) {
      expect(
        classify("jicofo", `Jicofo 2024-06-01 08:00:00.000 ${name}: [1] Foo.bar#1: ${unknown}`),
      ).toMatchObject({
        signal: null,
        label: "info",
      });
    }
  });

  it("the level table was generated from the JDK: the names the issue lists are there", () => {
    expect(Object.keys(JUL_LEVEL_NAMES.SEVERE)).toEqual(
      expect.arrayContaining(["SEVERE", "GRAVE", "SCHWERWIEGEND"]),
    );
    expect(Object.keys(JUL_LEVEL_NAMES.WARNING)).toEqual(
      expect.arrayContaining(["WARNING", "AVERTISSEMENT", "WARNUNG", "ADVERTENCIA"]),
    );
  });

  it("prosody's warn and error, nginx's bracketed levels, an exception at the start of a line", () => {
    expect(classify("prosody", `Jun 01 08:00:00 mod_foo\terror\t${unknown}`).label).toBe("failed");
    expect(classify("prosody", `Jun 01 08:00:00 mod_foo\twarn\t${unknown}`).label).toBe("degraded");
    expect(classify("prosody", `Jun 01 08:00:00 mod_foo\tinfo\t${unknown}`).label).toBe("info");
    for (const level of ["emerg", "alert", "crit"])
      expect(classify("nginx", `2024/06/01 08:00:00 [${level}] 1#1: ${unknown}`).label).toBe("failed");
    for (const level of ["error", "warn"])
      expect(classify("nginx", `2024/06/01 08:00:00 [${level}] 1#1: ${unknown}`).label).toBe("degraded");
    expect(classify("nginx", `2024/06/01 08:00:00 [notice] 1#1: ${unknown}`).label).toBe("info");
    expect(classify("jvb", "java.lang.IllegalStateException: Zq7secretValue").label).toBe("failed");
    expect(classify("jvb", "jvb_1  | Caused by: java.io.IOException: Zq7secretValue").label).toBe("failed");
  });

  it("quotes the catalog's template and where, never the line's values", () => {
    const r = classify(
      "jicofo",
      "Jicofo 2024-06-01 08:00:00.000 WARNING: [5] XmppProvider.discoverFeatures#300: Failed to discover features for Zq7secretValue: 203.0.113.77, assuming default feature set.",
    );
    expect(r.signal).toBe("known-harmless");
    const u = classify(
      "jvb",
      "JVB 2024-06-01 08:00:00.000 SEVERE: [5] MainKt.error#10: Zq7secretValue went wrong with 203.0.113.77",
    );
    expect(u).toMatchObject({ signal: "unrecognised-error", label: "failed" });
    expect(u.explain).toContain("MainKt.error");
    expect(JSON.stringify(u)).not.toMatch(/Zq7secretValue|203\.0\.113\.77/);
    const t = classify("nginx", "2024/06/01 08:00:00 [error] 1#1: *3 something Zq7secretValue unknown");
    expect(t.explain).not.toContain("Zq7secretValue");
  });

  it("names what printed a prosody message the catalog does not hold: the module or the kind of session, nothing more", () => {
    const explain = (source: string) =>
      classify("prosody", `Dec 06 21:21:14 ${source}\twarn\t${unknown} for focus@auth.zq7.example`).explain;
    expect(explain("jts.fips.de:mod_smacks")).toBe(
      "An unrecognised warning of prosody printed by mod_smacks, a message vmmeet's catalog of its messages does not hold.",
    );
    expect(explain("c2s55d8a0ab12f0")).toContain("printed by c2s,");
    expect(explain("general")).toContain("printed by general,");
    expect(prosodySource("Dec 06 21:21:14 bosh7f3c2a11\twarn\tx")).toBe("bosh");
    expect(prosodySource("Dec 06 21:21:14 bosheaece7de-857f-498d-939c-79634fe57beb\twarn\tx")).toBe("bosh");
    expect(prosodySource("2026-12-06 21:21:14 portmanager\terror\tx")).toBe("portmanager");
    // Not a name: left out rather than quoted.
    expect(explain("Zq7secretValue")).toBe(
      "An unrecognised warning of prosody that vmmeet's catalog of its messages does not hold.",
    );
    for (const s of ["jts.fips.de:mod_smacks", "c2s55d8a0ab12f0", "Zq7secretValue"])
      expect(JSON.stringify(classify("prosody", `Dec 06 21:21:14 ${s}\twarn\t${unknown}`))).not.toMatch(
        /Zq7secretValue|fips/,
      );
  });

  it("matches on the stable Class.method when the message was reworded in another release", () => {
    const r = classify(
      "jicofo",
      "Jicofo 2027-01-01 08:00:00.000 WARNING: [5] BridgeSelectionStrategy.select#90: Could not find any bridge for participant x",
    );
    expect(r).toMatchObject({ signal: "bridge-selection-failed", label: "failed" });
    expect(whereOfLine("JVB 2024 INFO: [1] MucClient.lambda$getConnectAndLoginCallable$7#673: x")).toBe(
      "MucClient.getConnectAndLoginCallable",
    );
    expect(whereOfLine("JVB WARNING: [1] org.ice4j.ice.harvest.HostCandidateHarvester.harvest: x")).toBe(
      "HostCandidateHarvester.harvest",
    );
  });

  it("the issue's missed lines are no longer info", () => {
    const lines: [LogComponent, string, string][] = [
      [
        "jicofo",
        "Jicofo 2024-06-01 08:00:00.000 WARNING: [40] BridgeSelector.selectBridge#150: There are no operational bridges.",
        "no-operational-bridges",
      ],
      [
        "jvb",
        "JVB 2024-06-01 08:00:00.000 SEVERE: [1] MainKt.main#80: An uncaught exception occurred in thread=Thread[main,5,main]",
        "uncaught-exception",
      ],
      [
        "nginx",
        '2024/06/01 08:00:00 [emerg] 1#1: host not found in upstream "xmpp.meet.jitsi:5280" in /etc/nginx/conf.d/meet.conf:12',
        "upstream-host-not-found",
      ],
      [
        "prosody",
        "Jun 01 08:00:00 startup\terror\tNo enabled VirtualHost entries found in the config file.",
        "no-virtualhost",
      ],
      [
        "jicofo",
        "Jicofo 2024-06-01 08:00:00.000 SEVERE: [30] XmppProvider.connectionClosedOnError#250: XMPP connection closed on error: stream error",
        "xmpp-connection-lost",
      ],
      [
        "jicofo",
        "Jicofo 2024-06-01 08:00:00.000 WARNING: [30] XmppProvider.scheduleConnectTask#120: Failed to connect, will re-try after 5 second",
        "xmpp-reconnecting",
      ],
    ];
    for (const [component, line, signal] of lines) {
      const r = classify(component, line);
      expect(r.signal, line).toBe(signal);
      expect(r.label, line).not.toBe("info");
    }
  });
});
