// The field types of the spec: every string that ends up inside a rendered file is constrained here to a
// character set that cannot break out of its context (Lua string, HOCON string, nginx directive, pf macro,
// ksh assignment, vm.conf quoted string). The renderers may therefore interpolate spec values without
// escaping; the escaping functions they use anyway are a second line of defence.
import * as z from "zod";

const dnsLabel = "[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?";
const DOMAIN_RE = new RegExp(`^(?=.{1,200}$)${dnsLabel}(\\.${dnsLabel})+$`);
export const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const NAME_RE = /^[a-z][a-z0-9]{0,30}$/;
export const NICK_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;
const PATH_RE = /^\/[A-Za-z0-9._\-/]*$/;
const SIZE_RE = /^[1-9]\d{0,5}[KMGT]$/;
export const IFACE_RE = /^[a-z]{1,12}\d{0,3}$/;

export const DomainName = z
  .string()
  .transform((s) => s.trim())
  .pipe(
    z
      .string()
      .regex(
        DOMAIN_RE,
        "must be a lower-case DNS name with at least two labels (letters, digits, '-', '.'); no spaces, quotes or newlines",
      ),
  );
export const Ipv4 = z.string().regex(IPV4_RE, "must be a dotted-quad IPv4 address");
export const Cidr = z.string().refine((s) => {
  const [addr, len, ...rest] = s.split("/");
  return (
    rest.length === 0 &&
    addr !== undefined &&
    IPV4_RE.test(addr) &&
    len !== undefined &&
    /^\d{1,2}$/.test(len) &&
    Number(len) <= 32
  );
}, "must be an IPv4 network in CIDR form, e.g. 192.0.2.0/24");
export const AbsPath = z
  .string()
  .regex(PATH_RE, "must be an absolute path of letters, digits, '.', '_', '-' and '/'")
  .refine((p) => !p.split("/").includes(".."), "must not contain '..'")
  // OpenBSD's limits (sys/sys/syslimits.h): NAME_MAX 255 bytes a component, PATH_MAX 1024 with the NUL.
  // The characters above are ASCII, so a character is a byte. A longer path validated, and then no
  // program on the VM could open it ("File name too long").
  .refine(
    (p) => p.split("/").every((c) => c.length <= 255),
    "has a component longer than 255 bytes (OpenBSD's NAME_MAX)",
  )
  .refine((p) => p.length <= 1023, "is longer than 1023 bytes (OpenBSD's PATH_MAX)");
/** vm.conf(5) sizes: a number with a K, M, G or T suffix. */
export const Size = z.string().regex(SIZE_RE, "must be a size like 512M, 2G or 20G");
export const NodeName = z
  .string()
  .regex(
    NAME_RE,
    "must start with a lower-case letter, then letters or digits (at most 31): it is a host name, a vm.conf name and a pf macro",
  );

export function ipToInt(ip: string): number {
  return ip.split(".").reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function inCidr(ip: string, cidr: string): boolean {
  const [net, lenText] = cidr.split("/");
  const len = Number(lenText);
  if (net === undefined || !IPV4_RE.test(ip)) return false;
  const size = 2 ** (32 - len);
  const base = Math.floor(ipToInt(net) / size) * size;
  const value = ipToInt(ip);
  return value >= base && value < base + size;
}
