// The sandbox deployment (test/harness/deployment.ts) with one VM's agent behind the tests' lossy proxy
// (lossy-proxy.ts) from its first start, its enrollment included: the link faults a test then sets on the
// proxy are that agent's alone.
import type { StatusReport } from "@vmmeet/coordinator";
import { afterAll, beforeAll } from "vitest";
import { Deployment } from "../harness/deployment.js";
import { prng } from "./fuzz.js";
import { type LossyProxy, lossyProxy } from "./lossy-proxy.js";
import { waitFor } from "./wait.js";

export const nodeOf = (st: StatusReport, node: string) => st.nodes.find((n) => n.node === node);

export async function deploymentWithProxy(
  node: string,
  seed: number,
): Promise<{ d: Deployment; proxy: LossyProxy }> {
  let proxy: LossyProxy | undefined;
  let d: Deployment;
  try {
    d = await Deployment.start({
      perNode: async (name, url) => {
        if (name !== node) return {};
        const port = new URL(url.replace(/^wss?:/, "http:")).port;
        proxy = await lossyProxy(Number(port), prng(seed));
        return { coordinator: url.replace(`:${port}/`, `:${proxy.port}/`) };
      },
    });
  } catch (err) {
    await proxy?.close();
    throw err;
  }
  const p = proxy;
  if (!p) throw new Error(`${node} is not a node of the sandbox's spec`);
  // (Before the first push the status lists the nodes that connected.)
  await waitFor(async () => p.accepted > 0 && nodeOf(await d.status(), node)?.connected === true, {
    what: `${node} enrolled and connected through the proxy`,
    timeoutMs: 60_000,
  });
  return { d, proxy: p };
}

/**
 * deploymentWithProxy for the tests of one file: started before them (enrolled through the proxy too: the
 * faults come later, for the agent's websocket), removed after them. Read `d` and `proxy` inside a test.
 */
export function proxiedNodeForTests(
  node: string,
  seed: number,
): { readonly d: Deployment; readonly proxy: LossyProxy } {
  const started: Partial<{ d: Deployment; proxy: LossyProxy }> = {};
  beforeAll(async () => {
    Object.assign(started, await deploymentWithProxy(node, seed));
  }, 180_000);
  afterAll(async () => {
    await started.d?.remove();
    await started.proxy?.close();
  }, 60_000);
  return {
    get d() {
      if (!started.d) throw new Error("the sandbox deployment did not start");
      return started.d;
    },
    get proxy() {
      if (!started.proxy) throw new Error("the sandbox deployment did not start");
      return started.proxy;
    },
  };
}
