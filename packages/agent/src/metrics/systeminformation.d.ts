// Types for the three systeminformation modules the agent loads one by one (see index.ts): the package
// ships types for its index only. The functions are the index's own (lib/index.js re-exports them as is).
declare module "systeminformation/lib/memory.js" {
  const memory: { mem: typeof import("systeminformation").mem };
  export default memory;
}
declare module "systeminformation/lib/filesystem.js" {
  const filesystem: { fsSize: typeof import("systeminformation").fsSize };
  export default filesystem;
}
declare module "systeminformation/lib/network.js" {
  const network: { networkStats: typeof import("systeminformation").networkStats };
  export default network;
}
