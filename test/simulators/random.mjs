// The simulators' random numbers. Without VMMEET_SIM_SEED they are Math.random's: a real program's draws
// cannot be foretold, and neither can a simulator's. With VMMEET_SIM_SEED (an integer from 0 to 2^32-1)
// every draw is reproducible: a simulator started twice with the same seed draws the same numbers. The
// restart benchmark (bench/lib/restart-child.mjs) uses it for common random numbers: the two runs it
// compares (a push and a plain restart) start jicofo with the same seed, so both wait the same reconnect
// delay, and the difference between them is the push's cost, not the luck of the draw.
//
// The rcctl test double hands VMMEET_SIM_SEED from rcctl's environment to the services it starts (as it
// does the VM's clock offset), so whoever starts a simulator through rcctl chooses its seed.

export const SIM_SEED_ENV = "VMMEET_SIM_SEED";

/**
 * A generator of numbers in [0, 1) for one `stream` of draws (a simulator's name): Math.random without
 * the seed, else a seeded generator of its own for that stream. Throws on a seed that is not an integer
 * from 0 to 2^32-1, naming the variable.
 */
export function simRandom(stream, env = process.env) {
  const raw = env[SIM_SEED_ENV];
  if (raw === undefined || raw === "") return Math.random;
  if (!/^\d{1,10}$/.test(raw) || Number(raw) > 0xffffffff)
    throw new Error(`${SIM_SEED_ENV}=${JSON.stringify(raw)}: not an integer from 0 to 4294967295`);
  return seededRandom(Number(raw), stream);
}

/** The generator of `stream`'s draws: mulberry32 from `seed` mixed with the FNV-1a hash of `stream`. */
export function seededRandom(seed, stream = "") {
  let h = 0x811c9dc5;
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 0x01000193);
  return mulberry32(seed ^ h);
}

/** Mulberry32: a small seeded 32-bit generator (period 2^32) of numbers in [0, 1). */
export function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
