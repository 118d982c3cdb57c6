// The simulators' random draws (test/simulators/random.mjs) and jicofo's reconnect delay model
// (lib.mjs RECONNECT, smack 4.4.8's RANDOM_INCREASING_DELAY): without VMMEET_SIM_SEED the draw stays
// random; with it, the same seed gives the same delays, which the restart benchmark's paired runs rely on.
import { describe, expect, it } from "vitest";
import { RECONNECT } from "./simulators/lib.mjs";
import { SIM_SEED_ENV, seededRandom, simRandom } from "./simulators/random.mjs";

const draws = (random: () => number, n = 50) => Array.from({ length: n }, () => random());
const jicofoBase = (seed: string) =>
  RECONNECT.jicofo(0.1, simRandom("jicofo", { [SIM_SEED_ENV]: seed })).delaySeconds(1);

describe("simulators' random draws", () => {
  it("without a seed they are Math.random's", () => {
    expect(simRandom("jicofo", {})).toBe(Math.random);
    expect(simRandom("jicofo", { [SIM_SEED_ENV]: "" })).toBe(Math.random);
  });

  it("the same seed and stream draw the same numbers; another seed or stream others", () => {
    const a = draws(simRandom("jicofo", { [SIM_SEED_ENV]: "17" }));
    expect(draws(simRandom("jicofo", { [SIM_SEED_ENV]: "17" }))).toEqual(a);
    expect(draws(simRandom("jicofo", { [SIM_SEED_ENV]: "18" }))).not.toEqual(a);
    expect(draws(simRandom("jvb", { [SIM_SEED_ENV]: "17" }))).not.toEqual(a);
    for (const x of draws(seededRandom(4294967295, "jicofo"), 1000)) {
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
  });

  it("a seed that is not an integer from 0 to 2^32-1 is refused, naming the variable", () => {
    for (const bad of ["abc", "-1", "1.5", "4294967296", "12345678901"])
      expect(() => simRandom("jicofo", { [SIM_SEED_ENV]: bad })).toThrow(
        `VMMEET_SIM_SEED=${JSON.stringify(bad)}: not an integer from 0 to 4294967295`,
      );
    expect(simRandom("jicofo", { [SIM_SEED_ENV]: "4294967295" })()).toBeLessThan(1);
  });
});

describe("jicofo's reconnect delays (smack's RANDOM_INCREASING_DELAY)", () => {
  it("the same seed gives the same randomBase; over many seeds every value from 2 to 14 comes up", () => {
    const seen = new Set<number>();
    for (let seed = 0; seed < 1000; seed++) {
      const base = jicofoBase(String(seed));
      expect(jicofoBase(String(seed))).toBe(base);
      seen.add(base);
    }
    expect([...seen].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });

  it("randomBase before attempts 1 to 7, six times it before 8 to 13, thirty times after", () => {
    const r = RECONNECT.jicofo(0.1, () => 0.5); // nextInt(13) = 6: randomBase 8
    expect([1, 7, 8, 13, 14, 40].map((n) => r.delaySeconds(n))).toEqual([8, 8, 48, 48, 240, 240]);
    expect(r).toMatchObject({ initialMs: 500, tickMs: 100 });
    expect(RECONNECT.jicofo(1, () => 0).delaySeconds(1)).toBe(2);
    expect(RECONNECT.jicofo(1, () => 0.999999).delaySeconds(1)).toBe(14);
  });

  it("unseeded, jicofo draws its delay at random", () => {
    const bases = new Set(Array.from({ length: 300 }, () => RECONNECT.jicofo(1).delaySeconds(1)));
    expect(bases.size).toBeGreaterThan(1);
    for (const b of bases) expect(b >= 2 && b <= 14).toBe(true);
  });
});
