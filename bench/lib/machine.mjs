// The machine a run happened on, written next to every set of figures.
import { readFileSync } from "node:fs";
import os from "node:os";

function osRelease() {
  try {
    const text = readFileSync("/etc/os-release", "utf8");
    return /^PRETTY_NAME="?([^"\n]*)"?/m.exec(text)?.[1] ?? os.release();
  } catch {
    return `${os.type()} ${os.release()}`;
  }
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpuModel: cpus[0]?.model?.trim() ?? "unknown",
    cores: typeof os.availableParallelism === "function" ? os.availableParallelism() : cpus.length,
    memoryMB: Math.round(os.totalmem() / 1024 / 1024),
    node: process.version,
    os: `${osRelease()} (kernel ${os.release()}, ${os.arch()})`,
    loadAverageAtStart: os.loadavg().map((x) => Math.round(x * 100) / 100),
    date: new Date().toISOString(),
  };
}
