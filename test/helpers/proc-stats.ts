// CPU time and resident memory of another process, from Linux's /proc (the tests and the reliability run
// measure a real agent or coordinator from outside it).
import { readFileSync } from "node:fs";

/** Clock ticks per second of /proc/PID/stat's times (USER_HZ: 100 on every Linux architecture Node runs on). */
const USER_HZ = 100;

/** User + system CPU time of PID so far, in ms. */
export function procCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces) in parentheses: utime is the 14th field overall.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / USER_HZ;
}

/** Resident set size of PID now, in bytes. */
export function procRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
}
