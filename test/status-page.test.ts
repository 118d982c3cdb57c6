// The status page of `vmmeet serve --http` in a real browser: Debian's chromium, headless, driven through
// playwright-core (no browser download), against the sandbox deployment (test/harness/deployment.ts) with the
// simulators. A push shows its stages, the page says conference-ready, a jvb killed with SIGKILL turns failed
// and healthy again after its agent's repair, and no secret is anywhere on it. Assertions are on the DOM;
// the screenshots under test-artifacts/status-page/ are for people.
import { mkdir, readFile } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { runCli } from "@vmmeet/coordinator";
import { type Browser, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { doubleProcesses } from "./doubles/rcctl/index.js";
import { Deployment } from "./harness/deployment.js";
import { requireTool } from "./validators/index.js";
import { repoRoot } from "./validators/paths.js";

const ARTIFACTS = path.join(repoRoot(), "test-artifacts", "status-page");

let d: Deployment;
let browser: Browser;
let page: Page;
let url: string;

const shot = (name: string) => page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: true });

beforeAll(async () => {
  const executablePath = requireTool("chromium");
  await mkdir(ARTIFACTS, { recursive: true });
  // The agents' service check runs every 5 s; a jvb that died is started again after 5 s of backoff, so
  // that its failure stays on the page long enough for a person (and this test) to see it.
  d = await Deployment.start({
    agentArgs: ["--heal-interval", "5", "--restart-backoff", "5"],
    serveArgs: ["--http", "127.0.0.1:0"],
  });
  const printed = d.statusPageUrl;
  if (!printed)
    throw new Error(`vmmeet serve printed no status page address:\n${d.coordinatorOutput.join("\n")}`);
  url = printed;
  // Chromium's sandbox cannot start as root (a CI container): it refuses to run without --no-sandbox.
  browser = await chromium.launch({
    executablePath,
    args: [...(process.getuid?.() === 0 ? ["--no-sandbox"] : []), "--disable-gpu"],
  });
  page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await d?.remove();
}, 60_000);

/** The state of every push stage as the page showed it, recorded in the page on each change. */
async function recordStages(): Promise<void> {
  // A string: this runs in the page, whose DOM types the test's TypeScript program does not load.
  await page.evaluate(`(() => {
    window.seen = [];
    const note = () => {
      for (const li of document.querySelectorAll("#push [data-stage]"))
        window.seen.push(li.getAttribute("data-stage") + "=" + li.getAttribute("data-state"));
      for (const li of document.querySelectorAll("#push [data-push-node]"))
        window.seen.push(li.getAttribute("data-push-node") + ":" + li.getAttribute("data-phase"));
    };
    new MutationObserver(note).observe(document.getElementById("push"), { subtree: true, childList: true });
  })()`);
}

describe("the status page in chromium", () => {
  it("shows a push stage by stage, then conference-ready with the topology coloured", async () => {
    await page.goto(url);
    await page.waitForSelector('#live[data-live="open"]');
    await recordStages();
    const pushing = d.push(120);
    await page.waitForSelector('#push [data-stage][data-state="running"]', { timeout: 60_000 });
    await shot("1-push-running");
    const push = await pushing;
    expect(push.code, push.stdout + push.stderr).toBe(0);
    await page.waitForSelector('#push .push-head[data-state="healthy"]', { timeout: 30_000 });
    const stages = await page.$$eval("#push [data-stage]", (els) =>
      els.map((e) => `${e.getAttribute("data-stage")}=${e.getAttribute("data-state")}`),
    );
    expect(stages).toEqual(["host=passed", "xmpp=passed", "focus and bridges=passed", "web=passed"]);
    const seen = (await page.evaluate("window.seen")) as string[];
    // The page showed stages running and nodes between waiting and healthy, not only the end.
    expect(seen.some((s) => /=running$/.test(s))).toBe(true);
    expect(seen.some((s) => /:(applying|restarting|gating)$/.test(s))).toBe(true);

    await page.waitForSelector('#verdict[data-verdict="conference-ready"]', { timeout: 90_000 });
    await page.waitForSelector('#topology g[data-node="jvb"][data-state="healthy"]', { timeout: 60_000 });
    expect(await page.textContent("#verdict")).toBe("conference-ready");
    expect(await page.textContent("#reasons")).toMatch(/jicofo on jicofo has 1 bridge in the brewery/);
    // Every VM of the spec in the picture, each coloured by its state; the flows the health knows, too.
    for (const node of ["vmm", "web", "xmpp", "jicofo", "jvb"])
      expect(await page.getAttribute(`#topology [data-node="${node}"]`, "data-state")).toMatch(
        /^(healthy|starting)$/,
      );
    expect(
      await page.getAttribute('#topology path[data-flows="jicofo+jvb>xmpp:tcp/5222"]', "data-state"),
    ).toBe("healthy");
    expect(await page.getAttribute('#topology rect[data-box="brewery"]', "data-state")).toBe("healthy");
    // Each node's services and signals, with what they mean.
    expect(await page.textContent('[data-node-card="jicofo"] [data-service="jicofo"]')).toMatch(/jicofo/);
    const signal = await page.textContent('[data-node-card="xmpp"] [data-signal="c2s-authenticated-focus"]');
    expect(signal).toMatch(/focus@auth\.jts\.fips\.de/);
    expect(await page.$$eval("#events li", (els) => els.length)).toBeGreaterThan(3);
    expect(await page.textContent("#events")).toMatch(/generation 1 rolled out/);
    await shot("2-conference-ready");
  }, 240_000);

  it("a jvb killed with SIGKILL turns failed, then healthy again after its agent's repair", async () => {
    const jvb = d.nodes.get("jvb")!;
    const pids = doubleProcesses(jvb.root).filter(
      (p) => p.kind === "daemon" && /jvb-simulator/.test(p.cmdline),
    );
    expect(pids.length).toBe(1);
    for (const p of pids) process.kill(p.pid, "SIGKILL");
    await page.waitForSelector('#topology g[data-node="jvb"][data-state="failed"]', { timeout: 30_000 });
    await page.waitForSelector('[data-node-card="jvb"][data-state="failed"]', { timeout: 5_000 });
    expect(await page.textContent('[data-node-card="jvb"] .why')).toMatch(
      /not in jicofo's brewery|not running/,
    );
    expect(await page.getAttribute('#topology rect[data-box="brewery"]', "data-state")).toMatch(
      /failed|degraded/,
    );
    await shot("3-jvb-killed");
    // The agent starts jvb again (its repair event reaches the page) and jicofo gets its bridge back.
    await page.waitForSelector('#events li[data-kind="agent-repair-service"]', { timeout: 60_000 });
    await page.waitForSelector('#topology g[data-node="jvb"][data-state="healthy"]', { timeout: 90_000 });
    await page.waitForSelector('[data-node-card="jvb"][data-state="healthy"]', { timeout: 5_000 });
    await page.waitForSelector('#verdict[data-verdict="conference-ready"]', { timeout: 90_000 });
    expect(await page.textContent('#events li[data-kind="agent-repair-service"]')).toMatch(
      /jvb was not running: started it/,
    );
    await shot("4-jvb-repaired");
  }, 240_000);

  it("holds no secret: page, script, view, events and picture", async () => {
    const secrets = Object.values(
      JSON.parse(await readFile(path.join(d.stateDir, "secrets.json"), "utf8")) as Record<string, unknown>,
    ).filter((v): v is string => typeof v === "string" && v.length >= 8);
    expect(secrets.length).toBeGreaterThanOrEqual(4);
    const bodies = [
      await page.content(),
      ...(await Promise.all(
        ["", "app.js", "api/view", "topology.svg", "metrics"].map(async (p) => (await fetch(url + p)).text()),
      )),
    ];
    for (const body of bodies) for (const s of secrets) expect(body).not.toContain(s);
  });

  it("answers only requests addressed to its loopback address, and only GET", async () => {
    const { port } = new URL(url);
    const request = (headers: Record<string, string>, method = "GET") =>
      new Promise<number>((resolve, reject) => {
        const req = http.request({ host: "127.0.0.1", port, path: "/api/view", method, headers }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on("error", reject);
        req.end();
      });
    // A page elsewhere that rebinds its own name to 127.0.0.1 sends its name in Host.
    expect(await request({ host: `attacker.example:${port}` })).toBe(421);
    expect(await request({ host: `127.0.0.1:${port}` }, "POST")).toBe(405);
    expect(await request({ host: `localhost:${port}` })).toBe(200);
  });

  it("vmmeet serve refuses --http on an address other machines reach", async () => {
    let err = "";
    const code = await runCli(["serve", "--http", "0.0.0.0:8080"], {
      out: () => undefined,
      err: (t) => {
        err += t;
      },
      cwd: d.dir,
      env: {},
    });
    expect(code).toBe(64);
    expect(err).toMatch(/--http: the status page listens on a loopback address only/);
  });
});
