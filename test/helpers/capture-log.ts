// A pino logger whose lines (JSON, as the agent would print them) are kept in an array: tests read what was
// logged, e.g. that no secret or private key reached the log.
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

export function capturingLogger(lines: string[], level: pino.Level = "debug"): Logger {
  const sink = new Writable({
    write(chunk, _enc, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  return pino({ level }, sink);
}
