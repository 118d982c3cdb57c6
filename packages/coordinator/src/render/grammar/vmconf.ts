// A checker for the vm.conf(5) subset vmmeet emits, with a structured result. There is no vmd on Linux;
// this follows vm.conf(5) and the shape of vmd's parse.y:
//
//   macros      name = "value", used as $name
//   globals     local prefix ADDR/LEN, local inet6 [prefix ADDR/LEN], socket owner USER[:GROUP],
//               staggered start parallel N delay N
//   vm "name" [instance "template"-derived name] {      one option per line:
//       enable | disable
//       memory SIZE                   (bytes, or a number with B K M G T; at least 1M)
//       disk "PATH" [format qcow2|raw]   (absolute path, at most 4 disks)
//       local interface [NAME] [{ OPTIONS }]
//       interface [NAME] [{ OPTIONS }]   (at most 4 interfaces in all)
//       interfaces N
//       boot "PATH" | boot device cdrom|disk|net
//       cdrom "PATH"
//       owner USER[:GROUP]
//   }
//   interface OPTIONS: up, down, group NAME, lladdr [ADDR], locked lladdr [ADDR], rdomain N, switch "NAME"
//   switch "name" { interface NAME | group NAME | locked lladdr | rdomain N | up | down | enable | disable }
//
// `vm "web" instance "xmpp" { ... }` defines the VM "xmpp" from the template "web", which must be defined
// above; VM names are unique.

import { SyntaxFailure, show, TokenCursor } from "./cursor.js";
import type { CheckResult, Problem, Token, TokenGrammar } from "./tokenize.js";
import { checkWith, parseWith } from "./tokenize.js";

export type { CheckResult, Problem } from "./tokenize.js";

export interface VmDisk {
  path: string;
  format?: "qcow2" | "raw";
}

export interface VmInterface {
  local: boolean;
  name?: string;
  /** Options inside { }, e.g. ["up"], ["group vms", "up"]. */
  options: string[];
}

export interface VmDefinition {
  line: number;
  name: string;
  /** The template of `vm "TEMPLATE" instance "NAME"`. */
  instanceOf?: string;
  /** true for `enable`, false for `disable`, undefined when neither is written. */
  enable?: boolean;
  /** As written (e.g. "2G") and in bytes. */
  memory?: string;
  memoryBytes?: number;
  disks: VmDisk[];
  interfaces: VmInterface[];
  boot?: string;
  cdrom?: string;
  owner?: string;
}

export interface VmConf {
  macros: Record<string, string>;
  localPrefix?: string;
  vms: VmDefinition[];
}

export const VMCONF_KEYWORDS: ReadonlySet<string> = new Set([
  "allow",
  "boot",
  "cdrom",
  "delay",
  "device",
  "disable",
  "disk",
  "down",
  "enable",
  "format",
  "group",
  "include",
  "inet6",
  "instance",
  "interface",
  "interfaces",
  "lladdr",
  "local",
  "locked",
  "memory",
  "owner",
  "parallel",
  "prefix",
  "rdomain",
  "sev",
  "socket",
  "staggered",
  "start",
  "switch",
  "up",
  "vm",
]);

/** vmm(4) VMM_MAX_VM_MEM_SIZE on amd64 (128G in OpenBSD 7.x; older releases had 32G). */
const MAX_MEMORY = 128 * 1024 ** 3;
/** vmd's VM_MAX_DISKS_PER_VM and VM_MAX_NICS_PER_VM. */
const MAX_DISKS = 4;
const MAX_NICS = 4;
const SCALE: Record<string, number> = {
  B: 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
  E: 1024 ** 6,
};
const VM_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const IPV4_CIDR =
  /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}\/([12]?\d|3[0-2])$/;

/** vm.conf sizes as scan_scaled(3) reads them: a number with an optional B/K/M/G/T/P/E suffix, or bytes. */
export function parseSize(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([BKMGTPE])?$/i.exec(text);
  if (!m) return undefined;
  return Math.round(Number(m[1]) * SCALE[(m[2] ?? "B").toUpperCase()]!);
}

const VM_CONF: TokenGrammar<VmConf> = {
  lex: { punct: "{},=" },
  isKeyword: (w) => VMCONF_KEYWORDS.has(w),
  read(tokens, macros, errors) {
    const conf: VmConf = { macros, vms: [] };
    const p = new Cursor(tokens);
    while (!p.done()) {
      if (p.skipNl()) continue;
      const start = p.i;
      try {
        statement(p, conf);
      } catch (e) {
        if (!(e instanceof SyntaxFailure)) throw e;
        if (!e.silent) errors.push(e.problem);
        // Resynchronise: past the end of a broken block (or line) and go on, so one run lists every problem.
        p.recover(start);
      }
    }
    errors.push(...p.soft);
    semantic(conf, errors);
    return conf;
  },
};

export function parseVmConf(text: string): { conf: VmConf; errors: Problem[] } {
  return parseWith(text, VM_CONF);
}

export function checkVmConf(text: string): CheckResult {
  return checkWith(text, VM_CONF);
}

class Cursor extends TokenCursor {
  /** Problems after which parsing goes on where it is. */
  readonly soft: Problem[] = [];
  override peek(): Token | undefined {
    const t = this.ts[this.i];
    // An undefined macro is reported where it was used; the statement around it is abandoned quietly.
    if (t?.kind === "error") throw new SyntaxFailure({ line: t.line, message: t.text }, true);
    return t;
  }
  skipNl(): boolean {
    let skipped = false;
    while (this.ts[this.i]?.kind === "nl") {
      this.i++;
      skipped = true;
    }
    return skipped;
  }
  protected override lineWithoutToken(): number {
    return this.ts[this.ts.length - 1]?.line ?? 1;
  }
  /** A quoted string or a bare word that is not a keyword. */
  value(what: string): Token {
    const t = this.peek();
    if (!t || !(t.kind === "string" || (t.kind === "word" && !VMCONF_KEYWORDS.has(t.text))))
      throw this.fail(t, `expected ${what}, found ${show(t)}`);
    this.i++;
    return t;
  }
  /** End of an option: a newline, or the '}' that closes the block (left for the caller). */
  endOfOption(what: string): void {
    const t = this.peek();
    if (t === undefined || t.kind === "nl" || this.is("}") || this.is(",")) {
      this.accept(",");
      return;
    }
    throw this.fail(t, `unexpected ${show(t)} after ${what} (one option per line)`);
  }
  /** After an error: skip to the end of the block that was being read, or of the line. */
  recover(start: number): void {
    let depth = 0;
    let i = start;
    for (; i < this.ts.length; i++) {
      const t = this.ts[i]!;
      if (t.kind === "punct" && t.text === "{") depth++;
      if (t.kind === "punct" && t.text === "}") {
        depth--;
        if (depth <= 0) {
          i++;
          break;
        }
      }
      if (t.kind === "nl" && depth === 0 && i >= this.i) break;
    }
    // A block that never closed swallows the rest of the file: that is the error already reported.
    this.i = Math.max(i, this.i + 1);
  }
}

function statement(p: Cursor, conf: VmConf): void {
  const t = p.next()!;
  if (t.kind !== "word") throw p.fail(t, `a statement cannot start with ${show(t)}`);
  switch (t.text) {
    case "vm":
      conf.vms.push(vmBlock(p, t));
      return;
    case "local": {
      if (p.accept("prefix")) {
        const v = p.value("an IPv4 prefix like 100.64.0.0/10");
        if (!IPV4_CIDR.test(v.text)) throw p.fail(v, `'${v.text}' is not an IPv4 prefix like 100.64.0.0/10`);
        conf.localPrefix = v.text;
      } else if (p.accept("inet6")) {
        if (p.accept("prefix")) p.value("an IPv6 prefix");
      } else throw p.fail(p.peek(), `expected 'prefix' or 'inet6' after 'local', found ${show(p.peek())}`);
      p.endOfOption("'local'");
      return;
    }
    case "socket": {
      p.expect("owner", "'owner' after 'socket'");
      p.value("a user[:group]");
      p.endOfOption("'socket owner'");
      return;
    }
    case "staggered": {
      p.expect("start", "'start' after 'staggered'");
      p.expect("parallel", "'parallel'");
      number(p, "the number of VMs started in parallel");
      p.expect("delay", "'delay'");
      number(p, "the delay in seconds");
      p.endOfOption("'staggered start'");
      return;
    }
    case "switch":
      switchBlock(p);
      return;
    default:
      throw p.fail(
        t,
        VMCONF_KEYWORDS.has(t.text)
          ? `'${t.text}' is not in the vm.conf subset vmmeet emits and checks, or is misplaced`
          : `unknown keyword '${t.text}'`,
      );
  }
}

function number(p: Cursor, what: string): number {
  const t = p.next();
  if (t?.kind !== "word" || !/^\d+$/.test(t.text)) throw p.fail(t, `expected ${what}, found ${show(t)}`);
  return Number(t.text);
}

function openBrace(p: Cursor, what: string): Token {
  // vmd's grammar wants the '{' on the line of the statement that opens the block.
  const t = p.peek();
  if (!p.accept("{")) throw p.fail(t, `expected '{' to open ${what}, found ${show(t)}`);
  return t!;
}

function vmBlock(p: Cursor, head: Token): VmDefinition {
  const first = p.value("the VM name in quotes");
  let name = first.text;
  let instanceOf: string | undefined;
  if (p.accept("instance")) {
    instanceOf = first.text;
    name = p.value("the instance name in quotes").text;
  }
  const vm: VmDefinition = { line: head.line, name, disks: [], interfaces: [] };
  if (instanceOf !== undefined) vm.instanceOf = instanceOf;
  const open = openBrace(p, `the block of vm "${name}"`);
  for (;;) {
    p.skipNl();
    if (p.accept("}")) break;
    const t = p.next();
    if (!t) throw p.fail(open, `'}' missing: the block of vm "${name}" opened here is not closed`);
    if (t.kind !== "word") throw p.fail(t, `unexpected ${show(t)} in vm "${name}"`);
    if (t.text === "vm") {
      // The next VM starts inside this one: the '}' is missing. Report it and go on with that VM.
      p.soft.push({
        line: open.line,
        message: `'}' missing: the block of vm "${name}" opened here is not closed`,
      });
      p.i--;
      return vm;
    }
    switch (t.text) {
      case "enable":
      case "disable":
        vm.enable = t.text === "enable";
        break;
      case "memory": {
        const v = p.value("a memory size like 2G");
        const bytes = parseSize(v.text);
        if (bytes === undefined)
          throw p.fail(v, `bad memory size '${v.text}' (a number with B, K, M, G or T)`);
        if (bytes < 1024 ** 2) throw p.fail(v, `memory size '${v.text}' is below vmd's minimum of 1M`);
        if (bytes > MAX_MEMORY) throw p.fail(v, `memory size '${v.text}' is above vmm(4)'s limit of 128G`);
        vm.memory = v.text;
        vm.memoryBytes = bytes;
        break;
      }
      case "disk": {
        const v = p.value("the disk image path in quotes");
        if (!v.text.startsWith("/")) throw p.fail(v, `disk path '${v.text}' must be absolute`);
        const disk: VmDisk = { path: v.text };
        if (p.accept("format")) {
          const f = p.next();
          if (f?.kind !== "word" || (f.text !== "qcow2" && f.text !== "raw"))
            throw p.fail(f, `disk format must be qcow2 or raw, found ${show(f)}`);
          disk.format = f.text;
        }
        vm.disks.push(disk);
        if (vm.disks.length > MAX_DISKS) throw p.fail(v, `vm "${name}" has more than ${MAX_DISKS} disks`);
        break;
      }
      case "local":
        p.expect("interface", "'interface' after 'local'");
        vm.interfaces.push(iface(p, true));
        break;
      case "interface":
        vm.interfaces.push(iface(p, false));
        break;
      case "interfaces": {
        const n = number(p, "the number of interfaces");
        if (n > MAX_NICS) throw p.fail(t, `vm "${name}": at most ${MAX_NICS} interfaces`);
        break;
      }
      case "boot": {
        if (p.accept("device")) {
          const d = p.next();
          if (d?.kind !== "word" || !["cdrom", "disk", "net"].includes(d.text))
            throw p.fail(d, `boot device must be cdrom, disk or net, found ${show(d)}`);
          vm.boot = `device ${d.text}`;
        } else vm.boot = p.value("a kernel path in quotes or 'device'").text;
        break;
      }
      case "cdrom":
        vm.cdrom = p.value("an ISO image path in quotes").text;
        break;
      case "owner":
        vm.owner = p.value("a user[:group]").text;
        break;
      default:
        throw p.fail(
          t,
          VMCONF_KEYWORDS.has(t.text)
            ? `'${t.text}' is not a vm option in the subset vmmeet emits and checks`
            : `unknown keyword '${t.text}' in vm "${name}"`,
        );
    }
    if (vm.interfaces.length > MAX_NICS) throw p.fail(t, `vm "${name}" has more than ${MAX_NICS} interfaces`);
    p.endOfOption(`'${t.text}'`);
  }
  return vm;
}

function iface(p: Cursor, local: boolean): VmInterface {
  const out: VmInterface = { local, options: [] };
  const t = p.peek();
  if (t && (t.kind === "string" || (t.kind === "word" && !VMCONF_KEYWORDS.has(t.text))))
    out.name = p.next()!.text;
  if (!p.is("{")) return out;
  const open = p.next()!;
  for (;;) {
    p.skipNl();
    if (p.accept("}")) break;
    if (p.accept(",")) continue;
    const option = p.next();
    if (!option) throw p.fail(open, "'}' missing: the interface options opened here are not closed");
    if (option.kind !== "word") throw p.fail(option, `unexpected ${show(option)} in interface options`);
    switch (option.text) {
      case "up":
      case "down":
        out.options.push(option.text);
        break;
      case "group":
        out.options.push(`group ${p.value("a group name").text}`);
        break;
      case "rdomain":
        out.options.push(`rdomain ${number(p, "a routing domain number")}`);
        break;
      case "switch":
        out.options.push(`switch ${p.value("a switch name in quotes").text}`);
        break;
      case "locked":
        p.expect("lladdr", "'lladdr' after 'locked'");
        out.options.push(`locked lladdr${lladdr(p)}`);
        break;
      case "lladdr":
        out.options.push(`lladdr${lladdr(p)}`);
        break;
      default:
        throw p.fail(
          option,
          `unknown interface option '${option.text}' (up, down, group, lladdr, locked lladdr, rdomain, switch)`,
        );
    }
  }
  return out;
}

function lladdr(p: Cursor): string {
  const t = p.peek();
  if (t?.kind === "word" && /^[0-9a-fA-F]{1,2}(:[0-9a-fA-F]{1,2}){5}$/.test(t.text)) {
    p.next();
    return ` ${t.text}`;
  }
  return "";
}

function switchBlock(p: Cursor): void {
  const name = p.value("the switch name in quotes");
  const open = openBrace(p, `switch "${name.text}"`);
  for (;;) {
    p.skipNl();
    if (p.accept("}")) break;
    const t = p.next();
    if (!t) throw p.fail(open, `'}' missing: switch "${name.text}" opened here is not closed`);
    switch (t.text) {
      case "interface":
      case "group":
        p.value(`a name after '${t.text}'`);
        break;
      case "locked":
        p.expect("lladdr", "'lladdr' after 'locked'");
        break;
      case "rdomain":
        number(p, "a routing domain number");
        break;
      case "up":
      case "down":
      case "enable":
      case "disable":
        break;
      default:
        throw p.fail(t, `unknown switch option ${show(t)}`);
    }
    p.endOfOption(`'${t.text}'`);
  }
}

function semantic(conf: VmConf, errors: Problem[]): void {
  const seen = new Map<string, VmDefinition>();
  for (const vm of conf.vms) {
    if (!VM_NAME.test(vm.name))
      errors.push({
        line: vm.line,
        message: `bad VM name '${vm.name}' (letters, digits, '.', '_', '-'; at most 64)`,
      });
    const other = seen.get(vm.name);
    if (other)
      errors.push({ line: vm.line, message: `vm "${vm.name}" is already defined on line ${other.line}` });
    if (vm.instanceOf !== undefined && !seen.has(vm.instanceOf))
      errors.push({
        line: vm.line,
        message: `instance "${vm.name}": its template vm "${vm.instanceOf}" must be defined above it`,
      });
    if (!other) seen.set(vm.name, vm);
  }
}
