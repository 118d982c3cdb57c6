// The pf.conf rules as the checker reads them (render/grammar/pf.ts) and formatPfRule prints them.

export interface PfHost {
  /** Preceded by '!'. */
  not: boolean;
  /** "any", "self", "no-route", "urpf-failed", an address, a CIDR, "(iface[:mod])", "<table>" or a host name. */
  addr: string;
}

export type PfPortOp = "=" | "!=" | "<" | ">" | "<=" | ">=" | ":" | "<>" | "><";

export interface PfPort {
  op: PfPortOp;
  port: number;
  /** Upper end for ":", "<>" and "><". */
  to?: number;
}

export interface PfEndpoint {
  /** Empty when the rule names no host on this side (any). */
  hosts: PfHost[];
  /** Empty when the rule names no port on this side. */
  ports: PfPort[];
}

export interface PfTranslation {
  hosts: PfHost[];
  ports: PfPort[];
  /** Pool options and static-port, as written. */
  options: string[];
}

export interface PfRule {
  line: number;
  action: "pass" | "block" | "match";
  blockPolicy?: "drop" | "return" | "return-rst" | "return-icmp";
  direction?: "in" | "out";
  log: boolean;
  quick: boolean;
  /** Interfaces or groups after `on` (empty: every interface). */
  on: string[];
  af?: "inet" | "inet6";
  /** Protocols after `proto` (empty: every protocol). */
  proto: string[];
  /** `all` or no from/to at all. */
  all: boolean;
  from: PfEndpoint;
  to: PfEndpoint;
  rdrTo?: PfTranslation;
  natTo?: PfTranslation;
  binatTo?: PfTranslation;
  state?: "keep" | "modulate" | "synproxy" | "no";
  /** Other filter options in order of appearance (e.g. "tag", "label", "flags S/SA"). */
  options: string[];
}

export interface PfConf {
  macros: Record<string, string>;
  /** `set skip on` interfaces. */
  skip: string[];
  /** Other `set` options: name -> value. */
  options: Record<string, string>;
  rules: PfRule[];
}
