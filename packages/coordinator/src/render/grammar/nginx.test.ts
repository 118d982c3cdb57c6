import { describe, expect, it } from "vitest";
import { nginxFind, nginxLocations, parseNginxConf } from "./nginx.js";

const SITE = [
  "http {",
  "  server {",
  "    server_name a.example;",
  "    location ~ ^/([a-zA-Z0-9=\\?]+)$ { rewrite ^/(.*)$ / break; }",
  "    location = /http-bind { proxy_pass http://xmpp:5280/http-bind; }",
  "  }",
  "}",
].join("\n");

describe("parseNginxConf", () => {
  it("unescapes arguments as nginx does: quotes and backslashes, and keeps a regular expression's backslash", () => {
    const [d] = parseNginxConf(String.raw`log_format x "a\"b" 'c\'d' e\\f "g\th" i\?j;`);
    expect(d!.args).toEqual(["x", 'a"b', "c'd", "e\\f", "g\th", "i\\?j"]);
    expect(nginxLocations(parseNginxConf(SITE)).map((l) => l.path)).toEqual([
      "^/([a-zA-Z0-9=\\?]+)$",
      "/http-bind",
    ]);
    expect(nginxFind(parseNginxConf(SITE), ["http", "server", "server_name"])[0]!.args).toEqual([
      "a.example",
    ]);
  });

  it("names file and line of what it cannot read", () => {
    const file = "/etc/nginx/nginx.conf";
    expect(() => parseNginxConf("http {\n  a b;\n  c d }\n}", { file })).toThrow(`${file}:3: unexpected '}'`);
    expect(() => parseNginxConf("a b;\n\nc d", { file })).toThrow(
      `${file}:3: directive "c" is not terminated`,
    );
    expect(() => parseNginxConf('a "b;\n', { file })).toThrow(`${file}:2: unterminated string`);
    expect(() => parseNginxConf("http {\n a b;\n", { file })).toThrow(`${file}: '{' is not closed`);
  });

  it("tolerant: returns what it read before the first problem instead of throwing", () => {
    const cut = `${SITE.split("\n").slice(0, 4).join("\n")}\n    location / { return 301`;
    const tree = parseNginxConf(cut, { tolerant: true });
    expect(nginxFind(tree, ["http", "server", "server_name"])[0]!.args).toEqual(["a.example"]);
    expect(nginxLocations(tree).map((l) => l.path)).toEqual(["^/([a-zA-Z0-9=\\?]+)$", "/"]);
    expect(parseNginxConf("a b; } c d;", { tolerant: true })).toEqual([{ name: "a", args: ["b"] }]);
    expect(parseNginxConf('a b; c "d', { tolerant: true })).toEqual([
      { name: "a", args: ["b"] },
      { name: "c", args: [] },
    ]);
  });

  it("builds the directive tree with quoted arguments", () => {
    const tree = parseNginxConf(
      [
        "events { worker_connections 800; }",
        "http {",
        "  log_format main '[$time_local]^\"$request\"' 'x';",
        "  server {",
        "    server_name a.example;  # comment",
        "    location = /http-bind {",
        "      proxy_pass http://10.0.0.2:5280/http-bind;",
        "    }",
        '    location / { return 307 "https://$host$request_uri"; }',
        "  }",
        "}",
      ].join("\n"),
    );
    expect(tree.map((d) => d.name)).toEqual(["events", "http"]);
    const http = tree[1]!.children!;
    expect(http[0]).toEqual({ name: "log_format", args: ["main", '[$time_local]^"$request"', "x"] });
    const server = http[1]!.children!;
    expect(server[0]).toEqual({ name: "server_name", args: ["a.example"] });
    expect(server[1]).toEqual({
      name: "location",
      args: ["=", "/http-bind"],
      children: [{ name: "proxy_pass", args: ["http://10.0.0.2:5280/http-bind"] }],
    });
    expect(server[2]!.children).toEqual([{ name: "return", args: ["307", "https://$host$request_uri"] }]);
  });

  it("refuses an unterminated directive or an unbalanced brace", () => {
    expect(() => parseNginxConf("http { keepalive_timeout 65 }")).toThrow(/unexpected '}'/);
    expect(() => parseNginxConf("http { a b;")).toThrow(/not closed/);
    expect(() => parseNginxConf("a b")).toThrow(/not terminated/);
    expect(() => parseNginxConf("}")).toThrow(/unexpected/);
  });
});
