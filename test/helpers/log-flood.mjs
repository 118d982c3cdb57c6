// A component flooding its log, as a child process of test/reliability-log-flood.test.ts (so that its
// writing costs the test's measurements nothing): appends RATE jicofo-like lines a second for SECONDS to
// FILE, in batches every 10 ms, keeping up with the wall clock; prints {"lines":N,"bytes":B} when done.
//
// usage: node test/helpers/log-flood.mjs FILE RATE SECONDS
import { closeSync, openSync, writeSync } from "node:fs";

const [file, rateArg, secondsArg] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
if (!file || !(rate > 0) || !(seconds > 0)) {
  process.stderr.write("usage: node log-flood.mjs FILE RATE SECONDS\n");
  process.exit(64);
}

// Lines of the kinds a busy jicofo prints; none of them carries a health signal.
const kinds = [
  (i) =>
    `Jicofo 2026-12-06 08:00:00.000 INFO: [42] [room=r${i % 97}@conference.meet.example.org] JitsiMeetConferenceImpl.onMemberJoined#612: Member joined:${(i * 2654435761) % 4294967296}`,
  (i) =>
    `Jicofo 2026-12-06 08:00:00.001 INFO: [43] [room=r${i % 89}@conference.meet.example.org] ColibriV2SessionManager.allocate#171: Allocating for ${i % 7} participants`,
  (i) =>
    `Jicofo 2026-12-06 08:00:00.002 FINE: [44] XmppProvider.debug: stanza ${i} processed in ${i % 13} ms`,
];

const fd = openSync(file, "a");
const start = performance.now();
let lines = 0;
let bytes = 0;
const total = Math.round(rate * seconds);
while (lines < total) {
  const due = Math.min(total, Math.floor(((performance.now() - start) / 1000) * rate));
  if (due > lines) {
    let batch = "";
    for (; lines < due; lines++) batch += `${kinds[lines % kinds.length](lines)}\n`;
    bytes += writeSync(fd, batch);
  }
  await new Promise((r) => setTimeout(r, 10));
}
closeSync(fd);
process.stdout.write(`${JSON.stringify({ lines, bytes, seconds: (performance.now() - start) / 1000 })}\n`);
