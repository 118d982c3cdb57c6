// vmmeet.yaml(5), generated from the spec schema (packages/shared/src/spec.ts): every field with its type,
// its default and its description, cross-field rules included (they are in the descriptions of the fields
// they concern). scripts/man.mjs writes man/vmmeet.yaml.5 from it and a test checks that the committed page
// is what this returns, so the manual and the schema never disagree.
import { specJsonSchema } from "./json-schema.js";

type Json = Record<string, unknown>;

interface Field {
  path: string;
  type: string;
  required: boolean;
  default?: unknown;
  description?: string;
}

const isObject = (v: unknown): v is Json => typeof v === "object" && v !== null && !Array.isArray(v);

function typeOf(s: Json): string {
  if (Array.isArray(s.enum)) return `one of ${s.enum.map(String).join(", ")}`;
  if (s.const !== undefined) return String(s.const);
  if (s.type === "array" && isObject(s.items)) return `list of ${typeOf(s.items)}`;
  const variants = [s.oneOf, s.anyOf].flatMap((v) => (Array.isArray(v) ? v.filter(isObject) : []));
  if (variants.length > 0) {
    if (variants.every((v) => v.const !== undefined))
      return `one of ${variants.map((v) => String(v.const)).join(", ")}`;
    return [...new Set(variants.map(typeOf))].join(" or ");
  }
  if (s.type === "object") return "section";
  if (s.type === "integer" || s.type === "number") {
    // zod's .int() says "a safe integer" as these bounds: no range worth printing.
    const bound = (v: unknown) =>
      typeof v === "number" && Math.abs(v) !== Number.MAX_SAFE_INTEGER ? v : undefined;
    const min = bound(s.minimum);
    const max = bound(s.maximum);
    const range =
      min !== undefined && max !== undefined
        ? ` from ${min} to ${max}`
        : min !== undefined
          ? ` of at least ${min}`
          : "";
    return `${s.type}${range}`;
  }
  return typeof s.type === "string" ? s.type : "value";
}

/** Every field of the spec, depth first in schema order; a union's variants are told apart by their tag. */
export function specFields(): Field[] {
  const out: Field[] = [];
  const walk = (schema: Json, prefix: string, note: string) => {
    const props = isObject(schema.properties) ? schema.properties : {};
    const required = new Set(Array.isArray(schema.required) ? schema.required : []);
    for (const [key, value] of Object.entries(props)) {
      if (!isObject(value)) continue;
      const path = prefix ? `${prefix}.${key}` : key;
      const description = typeof value.description === "string" ? `${note}${value.description}` : undefined;
      out.push({
        path,
        type: typeOf(value),
        required: required.has(key),
        ...(value.default !== undefined ? { default: value.default } : {}),
        ...(description !== undefined ? { description } : {}),
      });
      const items = value.type === "array" && isObject(value.items) ? value.items : undefined;
      if (items?.type === "object") walk(items, `${path}[]`, "");
      if (value.type === "object") walk(value, path, "");
      for (const variant of [value.oneOf, value.anyOf].flatMap((v) => (Array.isArray(v) ? v : []))) {
        if (!isObject(variant) || !isObject(variant.properties)) continue;
        const tag = Object.entries(variant.properties).find(([, p]) => isObject(p) && p.const !== undefined);
        walk(variant, path, tag ? `With ${tag[0]} ${String((tag[1] as Json).const)}: ` : "");
      }
    }
  };
  walk(specJsonSchema(), "", "");
  return out;
}

/**
 * mdoc text lines: backslashes escaped, one sentence per line, lines of at most 80 bytes, no leading dot or
 * quote, and OpenBSD as the .Ox macro (mandoc's style checks).
 */
function text(s: string): string {
  const lines: string[] = [];
  for (const sentence of s.replace(/\\/g, "\\e").split(/(?<=[.;])\s+(?=[A-Z])/)) {
    let line = "";
    const flush = () => {
      if (line) lines.push(/^[.']/.test(line) ? `\\&${line}` : line);
      line = "";
    };
    for (const word of sentence.split(/\s+/).filter(Boolean)) {
      const ox = /^OpenBSD([.,;:)]*)$/.exec(word);
      if (ox) {
        flush();
        lines.push(ox[1] ? `.Ox ${ox[1]}` : ".Ox");
        continue;
      }
      if (line && line.length + 1 + word.length > 78) flush();
      line = line ? `${line} ${word}` : word;
    }
    flush();
  }
  return lines.join("\n");
}

function defaultText(value: unknown): string | undefined {
  if (value === undefined || isObject(value)) return undefined;
  if (Array.isArray(value)) return value.length === 0 ? "an empty list" : value.map(String).join(", ");
  return String(value);
}

export function specManPage(): string {
  const lines: string[] = [
    '.\\" Generated from the spec schema (packages/shared/src/spec.ts) by scripts/man.mjs: do not edit.',
    ".Dd $Mdocdate$",
    ".Dt VMMEET.YAML 5",
    ".Os",
    ".Sh NAME",
    ".Nm vmmeet.yaml",
    ".Nd vmmeet deployment specification",
    ".Sh DESCRIPTION",
    "A",
    ".Nm",
    "file describes one compartmentalized Jitsi Meet on one",
    ".Ox",
    "VMM host: the VMs, their roles and addresses, and the settings every",
    "rendered file is made from.",
    "It is YAML; on the VMM host it is",
    ".Pa /etc/vmmeet/vmmeet.yaml .",
    ".Ic vmmeet init",
    "writes a commented example,",
    ".Ic vmmeet validate",
    "reports every problem at once as",
    ".Ql path: message ,",
    "and",
    ".Ic vmmeet schema",
    "prints the JSON Schema for editors.",
    ".Pp",
    "Every string that ends up in a rendered file is limited to characters that",
    "cannot break out of its context (Lua, HOCON, nginx, pf, ksh).",
    "Fields below are written as paths:",
    ".Ql host.resolver",
    "is",
    ".Ql resolver",
    "inside",
    ".Ql host ,",
    "and",
    ".Ql nodes[].role",
    "is",
    ".Ql role",
    "in each entry of the",
    ".Ql nodes",
    "list.",
    "A field without a default is optional unless marked required.",
    ".Bl -tag -width Ds",
  ];
  for (const f of specFields()) {
    lines.push(`.It Ic ${f.path}`);
    const def = defaultText(f.default);
    lines.push(
      text(`Type: ${f.type}.${f.required ? " Required." : ""}`),
      ...(def !== undefined ? [text(`Default: ${def}.`)] : []),
    );
    if (f.description) lines.push(text(f.description.endsWith(".") ? f.description : `${f.description}.`));
  }
  lines.push(
    ".El",
    ".Sh FILES",
    ".Bl -tag -width Ds -compact",
    ".It Pa /etc/vmmeet/vmmeet.yaml",
    "the spec on the VMM host",
    ".It Pa /usr/local/share/examples/vmmeet/vmmeet.yaml",
    "the example installed with vmmeet",
    ".El",
    ".Sh SEE ALSO",
    ".Xr vmmeet 8 ,",
    ".Xr vmmeet-agent 8 ,",
    ".Xr vmmeetd 8",
    "",
  );
  return lines.join("\n");
}
