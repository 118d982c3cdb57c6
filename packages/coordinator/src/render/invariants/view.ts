// The deployment as the checks see it: nodes by role, their files parsed once (render/grammar's readers,
// cached), values located by node, file and key, and names resolved as each VM resolves them.
import { entryText } from "@vmmeet/node";
import { type FileEntry, type NodeDesired, releaseOf, type Spec } from "@vmmeet/shared";
import {
  type HoconObject,
  type HoconValue,
  hoconGet,
  isHoconObject as isObject,
  type JsObject,
  type NginxDirective,
  type PfRule,
  type ProsodySection,
  parseConfigJs,
  parseHocon,
  parseHostsFile,
  parseKshAssignments,
  parseNginxConf,
  parsePfConf,
  parseProperties,
  parseProsodyConfig,
  parseTurnserverConf,
} from "../grammar/index.js";
import { JICOFO_CONF } from "../jicofo.js";
import { JVB_CONF } from "../jvb.js";
import { HOSTS, PF_CONF } from "../system.js";
import { TURN_CONF } from "../turn.js";
import { WEB_PATHS } from "../web.js";
import { XMPP_PATHS } from "../xmpp.js";
import { type Found, Unreadable } from "./checker.js";

/** The first release whose jicofo reads the XMPP domain from jicofo.conf (jicofo 2943c21f). */
export const JICOFO_XMPP_DOMAIN_RELEASE = 8044;
/** ice4j's default videobridge.ice.udp.port (jvb reference.conf). */
export const JVB_DEFAULT_UDP_PORT = 10000;
const JVB_MUC_CONFIGS = "videobridge.apis.xmpp-client.configs";
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

export class View {
  private readonly cache = new Map<string, unknown>();
  readonly domain: string;
  /** jicofo's release: every release-dependent check here concerns jicofo. */
  readonly release: number;

  constructor(
    readonly spec: Spec,
    readonly nodes: Record<string, NodeDesired>,
  ) {
    this.domain = spec.domain;
    this.release = releaseOf(spec, "jicofo");
  }

  all(role: NodeDesired["role"]): NodeDesired[] {
    return Object.values(this.nodes).filter((n) => n.role === role);
  }

  one(role: NodeDesired["role"]): NodeDesired {
    const found = this.all(role);
    if (found.length === 0) throw new Unreadable(`the rendered deployment has no ${role} node`);
    return found[0]!;
  }

  /** The node's address on the VM network (the spec's; no file states a VM's own address). */
  address(node: NodeDesired): string | undefined {
    return this.spec.nodes.find((n) => n.name === node.node)?.address;
  }

  file(node: NodeDesired, path: string): FileEntry | undefined {
    return node.files.find((f) => f.path === path);
  }

  text(node: NodeDesired, path: string): string {
    const f = this.file(node, path);
    if (!f) throw new Unreadable(`${node.node}:${path} is not rendered`);
    return entryText(f);
  }

  private parsed<T>(node: NodeDesired, path: string, kind: string, parse: (text: string) => T): T {
    const key = `${kind}\0${node.node}\0${path}`;
    if (this.cache.has(key)) {
      const hit = this.cache.get(key);
      if (hit instanceof Unreadable) throw hit;
      return hit as T;
    }
    let value: T | Unreadable;
    try {
      value = parse(this.text(node, path));
    } catch (e) {
      value =
        e instanceof Unreadable && e.message.startsWith(`${node.node}:`)
          ? e
          : new Unreadable(`${node.node}:${path} cannot be read: ${(e as Error).message}`);
    }
    this.cache.set(key, value);
    if (value instanceof Unreadable) throw value;
    return value;
  }

  hocon(node: NodeDesired, path: string): HoconObject {
    return this.parsed(node, path, "hocon", parseHocon);
  }
  prosody(node: NodeDesired): ProsodySection[] {
    return this.parsed(node, XMPP_PATHS.config, "prosody", parseProsodyConfig);
  }
  nginx(node: NodeDesired): NginxDirective[] {
    return this.parsed(node, WEB_PATHS.nginxConf, "nginx", parseNginxConf);
  }
  configJs(node: NodeDesired): JsObject {
    return this.parsed(node, WEB_PATHS.configJs, "js", parseConfigJs);
  }
  ksh(node: NodeDesired, path: string): Record<string, string> {
    return this.parsed(node, path, "ksh", parseKshAssignments);
  }
  properties(node: NodeDesired, path: string): Record<string, string> {
    return this.parsed(node, path, "properties", parseProperties);
  }
  turnserver(node: NodeDesired): Record<string, string[]> {
    return this.parsed(node, TURN_CONF, "turn", parseTurnserverConf);
  }
  hosts(node: NodeDesired): Map<string, string> {
    return this.parsed(node, HOSTS, "hosts", parseHostsFile);
  }
  pf(node: NodeDesired): PfRule[] {
    return this.parsed(node, PF_CONF, "pf", (text) => {
      const { conf, errors } = parsePfConf(text);
      if (errors.length > 0) throw new Error(`line ${errors[0]!.line}: ${errors[0]!.message}`);
      return conf.rules;
    });
  }

  /** A value of a HOCON file, located. */
  hoconValue(node: NodeDesired, path: string, key: string): Found<HoconValue> {
    return { at: `${node.node}:${path} ${key}`, value: hoconGet(this.hocon(node, path), key) };
  }
  hoconString(node: NodeDesired, path: string, key: string): Found {
    const f = this.hoconValue(node, path, key);
    return { at: f.at, value: scalar(f.value) };
  }

  /** Prosody's section for a host or component name (VirtualHost "x" / Component "x"), if any. */
  prosodySection(name: string, kind?: "VirtualHost" | "Component"): ProsodySection | undefined {
    return this.prosody(this.one("xmpp")).find(
      (s) => s.kind !== "global" && s.name === name && (kind === undefined || s.kind === kind),
    );
  }
  prosodyAt(detail: string): string {
    return `${this.one("xmpp").node}:${XMPP_PATHS.config} ${detail}`;
  }

  /** The jvb MUC client configs (videobridge.apis.xmpp-client.configs.ID) of a bridge, each with its key prefix. */
  jvbMucConfigs(jvb: NodeDesired): { key: string; config: HoconObject }[] {
    const configs = hoconGet(this.hocon(jvb, JVB_CONF), JVB_MUC_CONFIGS);
    if (!isObject(configs) || Object.keys(configs).length === 0)
      throw new Unreadable(`${jvb.node}:${JVB_CONF} has no ${JVB_MUC_CONFIGS} (the bridge cannot log in)`);
    return Object.entries(configs).map(([id, config]) => {
      if (!isObject(config))
        throw new Unreadable(`${jvb.node}:${JVB_CONF} ${JVB_MUC_CONFIGS}.${id} is not a block`);
      return { key: `${JVB_MUC_CONFIGS}.${id}`, config };
    });
  }
  /** One key of a MUC client config; jvb matches them case-insensitively (MucClientConfiguration). */
  jvbMuc(jvb: NodeDesired, cfg: { key: string; config: HoconObject }, name: string): Found {
    const hit = Object.entries(cfg.config).find(([k]) => k.toLowerCase() === name);
    return { at: `${jvb.node}:${JVB_CONF} ${cfg.key}.${hit?.[0] ?? name}`, value: scalar(hit?.[1]) };
  }

  /**
   * What `host` means on `node`: itself when it is an address, else the address the node's rendered
   * /etc/hosts gives it. (The VMs resolve names through /etc/hosts first, then the host's resolver,
   * which knows nothing of the VM network: the paper, section VI.B.)
   */
  resolve(node: NodeDesired, host: string): { address: string | undefined; via: string } {
    if (IPV4.test(host)) return { address: host, via: "an address" };
    const hosts = this.file(node, HOSTS) ? this.hosts(node) : new Map<string, string>();
    return { address: hosts.get(host.toLowerCase()), via: `${node.node}:${HOSTS}` };
  }
}

export const jicofoAt = (v: View, key: string) => v.hoconString(v.one("jicofo"), JICOFO_CONF, key);

export function jicofoHostFlag(jicofo: NodeDesired): Found {
  const service = jicofo.services.find((s) => s.name === "jicofo");
  const flags = service?.flags ?? "";
  const m = /(?:^|\s)--host=(\S+)/.exec(flags);
  return { at: `${jicofo.node}:rc.conf.local jicofo_flags --host`, value: m?.[1] };
}

export function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return undefined;
}

/** The host of `//host/path`, `https://host:port/path`. */
export function urlHost(url: string): string | undefined {
  return /^(?:[a-z][a-z0-9+.-]*:)?\/\/([^/:?#]+)/i.exec(url)?.[1];
}

export function parseHttpUrl(url: string): { host: string; port: number } | undefined {
  const m = /^http:\/\/([^/:?#]+)(?::(\d+))?(?:[/?#]|$)/i.exec(url);
  if (!m) return undefined;
  return { host: m[1]!, port: m[2] === undefined ? 80 : Number(m[2]) };
}
