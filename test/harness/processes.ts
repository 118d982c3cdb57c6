// The sandbox's child processes: their output split into lines, and stopping them.
import type { ChildProcess } from "node:child_process";

/** SIGTERM, then SIGKILL after 15 s; resolves once the process has exited (at once when it had). */
export function stopProcess(p: ChildProcess | null): Promise<void> {
  return new Promise((resolve) => {
    if (!p || p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill("SIGKILL"), 15_000);
    p.once("exit", () => {
      clearTimeout(t);
      resolve();
    });
    p.kill("SIGTERM");
  });
}

/** Splits a process's output into lines: the last 5000 kept in `sink`, each passed on prefixed by `name`. */
export function pipeLines(
  proc: ChildProcess,
  name: string,
  sink: string[],
  onOutput?: (line: string) => void,
): void {
  let rest = "";
  const onData = (chunk: Buffer) => {
    rest += chunk.toString();
    const lines = rest.split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) {
      sink.push(line);
      if (sink.length > 5000) sink.splice(0, sink.length - 5000);
      onOutput?.(`${name}: ${line}`);
    }
  };
  proc.stdout?.on("data", onData);
  proc.stderr?.on("data", onData);
}
