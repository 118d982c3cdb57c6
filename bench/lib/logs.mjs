// Generated jicofo, jvb and prosody logs: the labelled lines of test/fixtures/logs/corpus.jsonl (the lines
// that carry health signals) among realistic routine lines that match no rule, in each component's own
// layout (jicofo/jvb: Jitsi's "NAME DATE TIME LEVEL: [THREAD] Class.method#LINE: message"; prosody: its
// file log "Mon DD HH:MM:SS SESSION\tLEVEL\tmessage"). Deterministic for a given seed.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { mulberry32 } from "../../test/simulators/random.mjs";

export const CORPUS = fileURLToPath(new URL("../../test/fixtures/logs/corpus.jsonl", import.meta.url));
export const COMPONENTS = ["jicofo", "jvb", "prosody"];

/** Corpus lines by component (single lines; nginx is not part of these logs). */
export function corpusLines(file = CORPUS) {
  const out = { jicofo: [], jvb: [], prosody: [] };
  for (const text of readFileSync(file, "utf8").split("\n")) {
    if (text.trim() === "") continue;
    const rec = JSON.parse(text);
    if (out[rec.component] && !rec.line.includes("\n")) out[rec.component].push(rec.line);
  }
  return out;
}

/** A small seeded generator (the simulators' mulberry32), so every run writes the same file. */
export function rng(seed = 9) {
  return mulberry32(seed);
}

const hex = (r, n) => {
  let s = "";
  while (s.length < n)
    s += Math.floor(r() * 0x100000000)
      .toString(16)
      .padStart(8, "0");
  return s.slice(0, n);
};
const uuid = (r) => `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
const pick = (r, list) => list[Math.floor(r() * list.length)];
const ROOMS = ["standup", "retro", "lecture42", "familycall", "board", "support", "reading-group"];
const D = "jts.fips.de";

/** Routine lines (no health signal) per component; `ts` is the component's timestamp text. */
const NOISE = {
  jicofo: [
    (r, ts) =>
      `Jicofo ${ts} INFO: [${30 + Math.floor(r() * 90)}] [room=${pick(r, ROOMS)}@conference.${D} meeting_id=${uuid(r)}] ColibriV2SessionManager.allocate#${100 + Math.floor(r() * 400)}: Allocating for ${hex(r, 8)} on jvbbrewery@internal.auth.${D}/jvb`,
    (r, ts) =>
      `Jicofo ${ts} INFO: [${30 + Math.floor(r() * 90)}] [room=${pick(r, ROOMS)}@conference.${D}] JitsiMeetConferenceImpl.inviteParticipant#${600 + Math.floor(r() * 300)}: Inviting participant ${hex(r, 8)}`,
    (r, ts) =>
      `Jicofo ${ts} INFO: [${30 + Math.floor(r() * 90)}] JvbDoctor$HealthCheckTask.doHealthCheck#${150 + Math.floor(r() * 50)}: Performing a health check on jvbbrewery@internal.auth.${D}/jvb`,
    (r, ts) =>
      `Jicofo ${ts} INFO: [${30 + Math.floor(r() * 90)}] [room=${pick(r, ROOMS)}@conference.${D}] ParticipantInviteRunnable.doRun#${200 + Math.floor(r() * 100)}: Using jvbbrewery@internal.auth.${D}/jvb to allocate channels for: Participant[${pick(r, ROOMS)}@conference.${D}/${hex(r, 8)}]`,
    (r, ts) =>
      `Jicofo ${ts} WARNING: [${30 + Math.floor(r() * 90)}] [room=${pick(r, ROOMS)}@conference.${D}] JitsiMeetConferenceImpl.onSessionAccept#${900 + Math.floor(r() * 100)}: Source add for ${hex(r, 8)} arrived before session-accept, queued`,
    (r, ts) =>
      `Jicofo ${ts} INFO: [${30 + Math.floor(r() * 90)}] ConferenceIqHandler.handleConferenceIq#${80 + Math.floor(r() * 20)}: Accepted conference IQ from ${uuid(r)}@${D}/${hex(r, 10)}`,
  ],
  jvb: [
    (r, ts) =>
      `JVB ${ts} INFO: [${40 + Math.floor(r() * 200)}] [confId=${hex(r, 16)} conf_name=${pick(r, ROOMS)}@conference.${D} meeting_id=${hex(r, 8)} epId=${hex(r, 8)} stats_id=Guest-${Math.floor(r() * 900)}] Endpoint.<init>#${300 + Math.floor(r() * 100)}: Created new endpoint isUsingSourceNames=true`,
    (r, ts) =>
      `JVB ${ts} INFO: [${40 + Math.floor(r() * 200)}] [confId=${hex(r, 16)} epId=${hex(r, 8)} local_ufrag=${hex(r, 6)} ufrag=${hex(r, 6)}] Agent.setState#${900 + Math.floor(r() * 50)}: ICE state changed from Running to Completed.`,
    (r, ts) =>
      `JVB ${ts} INFO: [${40 + Math.floor(r() * 200)}] VideobridgeExpireThread.expire#140: Running expire()`,
    (r, ts) =>
      `JVB ${ts} INFO: [${40 + Math.floor(r() * 200)}] [confId=${hex(r, 16)} epId=${hex(r, 8)}] DtlsTransport.dtlsHandshakeComplete#${200 + Math.floor(r() * 50)}: DTLS handshake complete`,
    (r, ts) =>
      `JVB ${ts} INFO: [${40 + Math.floor(r() * 200)}] Videobridge.createConference#${270 + Math.floor(r() * 10)}: create_conf, id=${hex(r, 16)} meeting_id=${uuid(r)}`,
    (r, ts) =>
      `JVB ${ts} INFO: [${40 + Math.floor(r() * 200)}] [confId=${hex(r, 16)} epId=${hex(r, 8)}] BandwidthAllocator.allocate#${300 + Math.floor(r() * 30)}: Allocation changed, ${Math.floor(r() * 9)} sources forwarded`,
  ],
  prosody: [
    (r, ts) => `${ts} c2s${hex(r, 12)}\tdebug\tReceived[c2s]: <iq type='get' id='${hex(r, 8)}' to='${D}'>`,
    (r, ts) =>
      `${ts} c2s${hex(r, 12)}\tdebug\tSending[c2s]: <iq type='result' id='${hex(r, 8)}' from='${D}'>`,
    (r, ts) =>
      `${ts} conference.${D}:muc\tdebug\tpresence update for ${pick(r, ROOMS)}@conference.${D}/${hex(r, 8)} from session ${hex(r, 12)}`,
    (r, ts) =>
      `${ts} mod_bosh\tdebug\tRequest data: <body rid='${Math.floor(r() * 1e9)}' sid='${uuid(r)}' xmlns='http://jabber.org/protocol/httpbind'/>`,
    (r, ts) => `${ts} bosh${uuid(r)}\tdebug\tBOSH body open (sid: ${uuid(r)})`,
    (r, ts) => `${ts} ${D}:presence\tdebug\tbroadcasting presence to ${1 + Math.floor(r() * 30)} sessions`,
  ],
};

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
function stamp(component, ms) {
  const d = new Date(ms);
  const p = (n, w = 2) => String(n).padStart(w, "0");
  const time = `${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
  if (component === "prosody") return `${MONTHS[d.getUTCMonth()]} ${p(d.getUTCDate())} ${time}`;
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${time}.${p(d.getUTCMilliseconds(), 3)}`;
}

/**
 * A line generator: next() returns one line (no newline). `components` are mixed uniformly; one line in
 * `signalEvery` is a corpus line (a health signal), the others are routine noise.
 */
export function lineSource({
  components = COMPONENTS,
  signalEvery = 50,
  seed = 9,
  corpus = corpusLines(),
} = {}) {
  const r = rng(seed);
  let ms = Date.UTC(2025, 3, 16, 14, 0, 0);
  let n = 0;
  return {
    next() {
      n++;
      ms += Math.floor(r() * 40);
      const c = components[Math.floor(r() * components.length)];
      if (n % signalEvery === 0 && corpus[c].length > 0) return pick(r, corpus[c]);
      return pick(r, NOISE[c])(r, stamp(c, ms));
    },
  };
}

/** `count` lines joined with "\n" (with a trailing newline), built in one string. */
export function linesText(source, count) {
  const parts = new Array(count);
  for (let i = 0; i < count; i++) parts[i] = source.next();
  return `${parts.join("\n")}\n`;
}

/** Every noise template with a sample, for the check that noise carries no signal. */
export function noiseSamples(count = 20, seed = 3) {
  const r = rng(seed);
  const out = [];
  for (const c of COMPONENTS)
    for (const make of NOISE[c])
      for (let i = 0; i < count; i++) out.push({ component: c, line: make(r, stamp(c, Date.now())) });
  return out;
}
