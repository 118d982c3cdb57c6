// Seeded generators of random and mutated input for the fuzzing tests (test/fuzz-*.test.ts: protocol frames;
// test/reliability-bad-input.test.ts: specs): a run that fails is replayed with the same seed.
/** mulberry32: a small seeded PRNG, so a failing run can be replayed. */
export function prng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[int(xs.length)] as T;
  return { next, int, pick };
}
export type Rng = ReturnType<typeof prng>;

export const NASTY_STRINGS = [
  "",
  "\u0000",
  "\n\r\t",
  "../../../etc/passwd",
  "/etc/master.passwd",
  "'; rm -rf / #",
  "$(reboot)",
  "__proto__",
  "constructor",
  "\ud800",
  "%00",
  "A".repeat(5000),
  "😀".repeat(100),
  '{"type":"desired"}',
];

export function randomValue(r: Rng, depth = 0): unknown {
  switch (r.int(depth > 3 ? 6 : 9)) {
    case 0:
      return r.int(2) === 0 ? r.int(1_000_000) : -r.next() * 1e308;
    case 1:
      return r.pick(NASTY_STRINGS);
    case 2:
      return r.next() < 0.5;
    case 3:
      return null;
    case 4:
      return r.next().toString(36).slice(2);
    case 5:
      return r.pick([Number.MAX_SAFE_INTEGER + 2, Number.POSITIVE_INFINITY, -0, 0.5]);
    case 6:
      return Array.from({ length: r.int(5) }, () => randomValue(r, depth + 1));
    case 7:
      return Object.fromEntries(
        Array.from({ length: r.int(5) }, () => [
          r.pick(["type", "id", "a", "__proto__", "files"]),
          randomValue(r, depth + 1),
        ]),
      );
    default:
      return { type: r.pick(["desired", "hello", "snapshot", "ping", "error", "welcome", "x"]) };
  }
}

/** Walk to a random node of a JSON value and change it (delete, replace, retype, add a key). */
export function mutateObject(r: Rng, v: unknown): unknown {
  const root = structuredClone(v) as Record<string, unknown>;
  const steps = 1 + r.int(3);
  for (let s = 0; s < steps; s++) {
    let parent: Record<string, unknown> | unknown[] = root;
    let key: string | number = "type";
    for (let d = 0; d < 6; d++) {
      const keys: (string | number)[] = Array.isArray(parent)
        ? Array.from({ length: parent.length }, (_, i) => i)
        : Object.keys(parent);
      if (keys.length === 0) break;
      key = r.pick(keys);
      const child = (parent as Record<string | number, unknown>)[key];
      if (child && typeof child === "object" && r.next() < 0.6) parent = child as Record<string, unknown>;
      else break;
    }
    const p = parent as Record<string | number, unknown>;
    // Own properties, as JSON.parse makes them: assigning "__proto__" would change the prototype instead.
    const put = (k: string | number, value: unknown) =>
      Object.defineProperty(p, k, { value, enumerable: true, writable: true, configurable: true });
    switch (r.int(5)) {
      case 0:
        if (Array.isArray(parent)) parent.splice(Number(key), 1);
        else delete p[key];
        break;
      case 1:
        put(key, randomValue(r));
        break;
      case 2:
        put(key, r.pick(NASTY_STRINGS));
        break;
      case 3:
        put(r.pick(["extra", "__proto__", "constructor", "x"]), randomValue(r));
        break;
      default:
        put(key, typeof p[key] === "string" ? (p[key] as string) + r.pick(NASTY_STRINGS) : r.int(2 ** 31));
    }
  }
  return root;
}

/** Mutations of the JSON text itself: truncation, a flipped character, duplicated keys, deep nesting. */
export function mutateText(r: Rng, text: string): string | Buffer {
  switch (r.int(6)) {
    case 0:
      return text.slice(0, r.int(text.length));
    case 1: {
      const i = r.int(text.length);
      return text.slice(0, i) + String.fromCharCode(r.int(0x80)) + text.slice(i + 1);
    }
    case 2:
      return text.replace("{", '{"type":"pong","type":');
    case 3:
      return `${"[".repeat(2000)}${"]".repeat(2000)}`;
    case 4:
      return Buffer.from(Array.from({ length: 1 + r.int(512) }, () => r.int(256)));
    default:
      return Array.from({ length: r.int(200) }, () => String.fromCharCode(r.int(0xffff))).join("");
  }
}
