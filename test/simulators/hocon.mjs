// HOCON subset: what vmmeet's renderers write for jicofo.conf and jvb.conf (objects, `=`/`:`, dotted and
// quoted keys, strings, numbers, booleans, arrays, # and // comments, repeated objects merged). No
// includes, no substitutions: the simulator refuses them instead of guessing.

function hoconTokens(text) {
  const toks = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === "\n") {
      toks.push({ t: "nl" });
      i++;
    } else if (c === " " || c === "\t" || c === "\r") {
      i++;
    } else if (c === "#" || (c === "/" && text[i + 1] === "/")) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if ("{}[]=:,".includes(c)) {
      toks.push({ t: c });
      i++;
    } else if (c === '"') {
      if (text.startsWith('"""', i)) throw new Error("hocon: triple-quoted strings are not supported");
      let s = "";
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === "\\") {
          const e = text[i + 1];
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          i += 2;
        } else s += text[i++];
      }
      if (text[i] !== '"') throw new Error("hocon: unterminated string");
      i++;
      toks.push({ t: "str", v: s, quoted: true });
    } else if (c === "$" && text[i + 1] === "{") {
      throw new Error("hocon: substitutions are not supported by the simulator");
    } else {
      let s = "";
      while (i < text.length && !/[\s{}[\]=:,#"]/.test(text[i]) && !text.startsWith("//", i)) s += text[i++];
      toks.push({ t: "str", v: s, quoted: false });
    }
  }
  return toks;
}

function hoconScalar(words) {
  if (words.length === 1 && !words[0].quoted) {
    const v = words[0].v;
    if (v === "true" || v === "yes" || v === "on") return true;
    if (v === "false" || v === "no" || v === "off") return false;
    if (v === "null") return null;
    if (/^-?\d+(\.\d+)?$/.test(v)) return Number(v);
  }
  return words.map((w) => w.v).join(" ");
}

function mergeInto(target, key, value) {
  const old = target[key];
  if (
    old &&
    typeof old === "object" &&
    !Array.isArray(old) &&
    value &&
    typeof value === "object" &&
    !Array.isArray(value)
  ) {
    for (const [k, v] of Object.entries(value)) mergeInto(old, k, v);
  } else {
    target[key] = value;
  }
}

export function parseHocon(text) {
  const toks = hoconTokens(text);
  let p = 0;
  const peek = () => toks[p];
  const skipNl = () => {
    while (peek() && (peek().t === "nl" || peek().t === ",")) p++;
  };
  const value = () => {
    while (peek()?.t === "nl") p++;
    const t = peek();
    if (!t) throw new Error("hocon: value expected");
    if (t.t === "{") {
      p++;
      const o = object("}");
      return o;
    }
    if (t.t === "[") {
      p++;
      const arr = [];
      for (;;) {
        skipNl();
        if (peek()?.t === "]") {
          p++;
          return arr;
        }
        arr.push(value());
      }
    }
    const words = [];
    while (peek() && peek().t === "str") words.push(toks[p++]);
    if (words.length === 0) throw new Error(`hocon: unexpected '${t.t}'`);
    return hoconScalar(words);
  };
  const object = (end) => {
    const o = {};
    for (;;) {
      skipNl();
      const t = peek();
      if (!t) {
        if (end === null) return o;
        throw new Error("hocon: missing '}'");
      }
      if (t.t === end) {
        p++;
        return o;
      }
      if (t.t !== "str") throw new Error(`hocon: key expected, got '${t.t}'`);
      p++;
      const keyPath = t.quoted ? [t.v] : t.v.split(".");
      let v;
      if (peek()?.t === "{") {
        p++;
        v = object("}");
      } else if (peek()?.t === "=" || peek()?.t === ":") {
        p++;
        v = value();
      } else {
        throw new Error(`hocon: '=' or '{' expected after ${t.v}`);
      }
      let target = o;
      for (const k of keyPath.slice(0, -1)) {
        if (!target[k] || typeof target[k] !== "object") target[k] = {};
        target = target[k];
      }
      mergeInto(target, keyPath[keyPath.length - 1], v);
    }
  };
  skipNl();
  if (peek()?.t === "{") {
    p++;
    return object("}");
  }
  return object(null);
}

/** Value at a dotted path ("jicofo.xmpp.client.hostname") or undefined. */
export function getPath(obj, dotted) {
  let cur = obj;
  for (const k of dotted.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = cur[k];
  }
  return cur;
}
