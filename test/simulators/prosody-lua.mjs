// Lua subset for prosody.cfg.lua and prosody's account files: assignments, VirtualHost/Component lines,
// `return { ... }`, tables with `key = v`, `["key"] = v` and positional items, -- comments.

function luaTokens(text) {
  const toks = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (text.startsWith("--[[", i)) {
      const j = text.indexOf("]]", i + 4);
      i = j < 0 ? text.length : j + 2;
    } else if (text.startsWith("--", i)) {
      while (i < text.length && text[i] !== "\n") i++;
    } else if (c === '"' || c === "'") {
      let s = "";
      i++;
      while (i < text.length && text[i] !== c) {
        if (text[i] === "\\") {
          const e = text[i + 1];
          s += e === "n" ? "\n" : e === "t" ? "\t" : e;
          i += 2;
        } else s += text[i++];
      }
      i++;
      toks.push({ t: "str", v: s });
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(\.[0-9]+)?/.exec(text.slice(i));
      toks.push({ t: "num", v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
      toks.push({ t: "id", v: m[0] });
      i += m[0].length;
    } else if ("{}[]=;,".includes(c)) {
      toks.push({ t: c });
      i++;
    } else {
      throw new Error(`lua: unexpected character '${c}'`);
    }
  }
  return toks;
}

function luaParser(text) {
  const toks = luaTokens(text);
  let p = 0;
  const peek = (k = 0) => toks[p + k];
  const expect = (t) => {
    if (peek()?.t !== t) throw new Error(`lua: '${t}' expected`);
    return toks[p++];
  };
  const value = () => {
    const t = toks[p++];
    if (!t) throw new Error("lua: value expected");
    if (t.t === "str" || t.t === "num") return t.v;
    if (t.t === "id") {
      if (t.v === "true") return true;
      if (t.v === "false") return false;
      if (t.v === "nil") return null;
      throw new Error(`lua: expressions are not supported by the simulator (${t.v})`);
    }
    if (t.t === "{") {
      const tbl = {};
      const list = [];
      while (peek() && peek().t !== "}") {
        if (peek().t === "id" && peek(1)?.t === "=") {
          const k = toks[p].v;
          p += 2;
          tbl[k] = value();
        } else if (peek().t === "[") {
          p++;
          const k = value();
          expect("]");
          expect("=");
          tbl[k] = value();
        } else {
          list.push(value());
        }
        if (peek()?.t === ";" || peek()?.t === ",") p++;
      }
      expect("}");
      if (list.length > 0 && Object.keys(tbl).length === 0) return list;
      if (list.length > 0) tbl[""] = list;
      return tbl;
    }
    throw new Error(`lua: unexpected '${t.t}'`);
  };
  return { toks, peek, value, next: () => toks[p++], done: () => p >= toks.length, expect };
}

/** `return { ["k"] = v; ... }` (prosody's util/datamanager files) -> object. */
export function parseLuaReturn(text) {
  const lp = luaParser(text);
  const t = lp.next();
  if (t?.t !== "id" || t.v !== "return") throw new Error("lua: 'return' expected");
  return lp.value();
}

/**
 * prosody.cfg.lua -> { global: {k: v}, hosts: [{name, settings}], components: [{name, type, settings}] }.
 * Settings after a VirtualHost/Component line belong to it, as in prosody.
 */
export function parseProsodyConfig(text) {
  const lp = luaParser(text);
  const cfg = { global: {}, hosts: [], components: [] };
  let section = cfg.global;
  while (!lp.done()) {
    const t = lp.next();
    if (t.t === ";") continue;
    if (t.t !== "id") throw new Error(`prosody config: statement expected, got '${t.t}'`);
    if (t.v === "VirtualHost") {
      const name = lp.expect("str").v;
      const host = { name, settings: {} };
      cfg.hosts.push(host);
      section = host.settings;
    } else if (t.v === "Component") {
      const name = lp.expect("str").v;
      const type = lp.peek()?.t === "str" ? lp.next().v : "component";
      const comp = { name, type, settings: {} };
      cfg.components.push(comp);
      section = comp.settings;
    } else {
      lp.expect("=");
      section[t.v] = lp.value();
    }
  }
  return cfg;
}
