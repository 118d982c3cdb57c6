// The status page itself: plain HTML, CSS and a script with no framework and no build step. The script opens
// /events (Server-Sent Events; the browser reconnects by itself), draws each view it receives, and loads
// /topology.svg again when the generation in force changes, colouring its VMs and flows by their state.
// Everything from the coordinator goes into the page as text nodes, never as markup, except the SVG, which
// the coordinator itself renders with every value escaped.

export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vmmeet status</title>
<style>
:root { --ok: #1a7f37; --warn: #9a6700; --bad: #cf222e; --info: #0969da; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1f2328; background: #fff; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; padding: 10px 18px; border-bottom: 1px solid var(--line); background: #f6f8fa; }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 15px; margin: 0 0 8px; }
h3 { font-size: 14px; margin: 0; display: flex; gap: 8px; align-items: baseline; flex-wrap: wrap; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-weight: 600; font-size: 12px; border: 1px solid currentColor; }
[data-state="healthy"] > .badge, .badge[data-state="healthy"], #verdict[data-verdict="conference-ready"], [data-phase="healthy"] .badge, [data-phase="unchanged"] .badge { color: var(--ok); }
[data-state="degraded"] > .badge, .badge[data-state="degraded"], #verdict[data-verdict="degraded"] { color: var(--warn); }
[data-state="failed"] > .badge, .badge[data-state="failed"], [data-state="offline"] > .badge, #verdict[data-verdict="down"], [data-phase="failed"] .badge, [data-phase="rolled-back"] .badge { color: var(--bad); }
[data-state="starting"] > .badge, .badge[data-state="starting"], .badge[data-state="running"], [data-phase="applying"] .badge, [data-phase="restarting"] .badge, [data-phase="gating"] .badge { color: var(--info); }
#verdict { font-size: 15px; padding: 2px 12px; }
#live { margin-left: auto; color: var(--muted); font-size: 12px; }
#live[data-live="open"]::before { content: "● "; color: var(--ok); }
#live[data-live="closed"]::before { content: "● "; color: var(--bad); }
#reasons { margin: 0; padding: 6px 18px; color: var(--muted); font-size: 13px; }
#alarm { margin: 0; padding: 6px 18px; color: #fff; background: var(--bad); font-weight: 600; }
main { display: grid; grid-template-columns: minmax(0, 3fr) minmax(320px, 2fr); gap: 16px; padding: 14px 18px; }
#topology-section { grid-column: 1 / -1; }
#topology svg { width: 100%; height: auto; max-height: 62vh; display: block; }
section { min-width: 0; }
.card { border: 1px solid var(--line); border-left: 4px solid var(--line); border-radius: 6px; padding: 8px 10px; margin-bottom: 10px; }
.card[data-state="healthy"] { border-left-color: var(--ok); }
.card[data-state="degraded"] { border-left-color: var(--warn); }
.card[data-state="failed"], .card[data-state="offline"] { border-left-color: var(--bad); }
.card[data-state="starting"] { border-left-color: var(--info); }
.why, .meta, .fix, .explain { margin: 2px 0; font-size: 13px; }
.meta { color: var(--muted); }
.fix { color: #953800; }
.fix::before { content: "fix: "; font-weight: 600; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
td, th { text-align: left; padding: 1px 10px 1px 0; vertical-align: top; }
.component { margin-top: 6px; padding-top: 4px; border-top: 1px dashed var(--line); }
.signals { margin: 4px 0 0; padding-left: 18px; font-size: 12.5px; }
.signals li { margin: 2px 0; }
code { font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 12px; }
#push .stages { list-style: none; padding: 0; margin: 6px 0; }
#push .stages > li { border: 1px solid var(--line); border-radius: 6px; padding: 6px 8px; margin-bottom: 6px; }
#push .stages > li[data-state="running"] { border-color: var(--info); background: #ddf4ff; }
#push .stages > li[data-state="passed"] { border-color: var(--ok); }
#push .stages > li[data-state="failed"] { border-color: var(--bad); background: #ffebe9; }
#push .stages ul { list-style: none; padding-left: 10px; margin: 4px 0 0; font-size: 13px; }
#events { list-style: none; padding: 0; margin: 0; font-size: 12.5px; max-height: 60vh; overflow: auto; }
#events li { padding: 3px 0; border-bottom: 1px solid #eaeef2; }
#events time { color: var(--muted); font-family: "DejaVu Sans Mono", Menlo, monospace; font-size: 11.5px; margin-right: 6px; }
#topology [data-node][data-state="healthy"] rect { fill: #dafbe1; stroke: var(--ok); }
#topology [data-node][data-state="degraded"] rect { fill: #fff8c5; stroke: var(--warn); }
#topology [data-node][data-state="starting"] rect { fill: #ddf4ff; stroke: var(--info); }
#topology [data-node][data-state="failed"] rect { fill: #ffebe9; stroke: var(--bad); stroke-width: 3; }
#topology [data-node][data-state="offline"] rect { fill: #eaeef2; stroke: var(--bad); stroke-width: 3; stroke-dasharray: 6 4; }
#topology [data-node] rect.box-host { fill: #f6f8fa; }
#topology rect[data-box="brewery"][data-state="healthy"] { stroke: var(--ok); }
#topology rect[data-box="brewery"][data-state="degraded"] { stroke: var(--warn); }
#topology rect[data-box="brewery"][data-state="failed"] { stroke: var(--bad); stroke-width: 3; }
#topology path[data-state="failed"], #topology path[data-state="offline"] { stroke: var(--bad); stroke-width: 2.6; stroke-dasharray: 5 4; }
#topology path[data-state="degraded"] { stroke: #bf8700; stroke-width: 2.4; }
#topology path[data-state="healthy"] { stroke-width: 2.2; }
@media (max-width: 900px) { main { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<header>
  <h1>vmmeet <span id="domain"></span></h1>
  <span id="verdict" class="badge" data-verdict="unknown">waiting for the coordinator</span>
  <span id="generation" class="meta"></span>
  <span id="live" data-live="connecting">connecting</span>
</header>
<p id="alarm" hidden></p>
<p id="reasons"></p>
<main>
  <section id="topology-section" aria-label="topology"><div id="topology">no spec pushed yet</div></section>
  <section id="nodes-section"><h2>Nodes</h2><div id="nodes"></div></section>
  <section id="side">
    <h2>Push</h2><div id="push"><p class="meta">no push since the coordinator started</p></div>
    <h2>Recent events</h2><ol id="events"></ol>
  </section>
</main>
<script src="/app.js"></script>
</body>
</html>
`;

export const PAGE_SCRIPT = `"use strict";
(function () {
  var RANK = { healthy: 0, degraded: 1, starting: 2, unknown: 3, failed: 4, offline: 5 };
  var view = null;
  var svgGeneration = null;
  var $ = function (id) { return document.getElementById(id); };

  function h(tag, attrs) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) return;
      if (k === "class") e.className = v; else e.setAttribute(k, String(v));
    });
    for (var i = 2; i < arguments.length; i++) add(e, arguments[i]);
    return e;
  }
  function add(e, kid) {
    if (kid === undefined || kid === null || kid === false) return;
    if (Array.isArray(kid)) { kid.forEach(function (k) { add(e, k); }); return; }
    e.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  function ago(iso) {
    if (!iso || !view) return "never";
    var s = Math.max(0, Math.round((Date.parse(view.at) - Date.parse(iso)) / 1000));
    return s < 120 ? s + "s ago" : s < 7200 ? Math.round(s / 60) + "m ago" : Math.round(s / 3600) + "h ago";
  }
  function clock(iso) { return iso ? iso.slice(11, 19) : ""; }
  function badge(state, text) { return h("span", { class: "badge", "data-state": state }, text || state); }

  function drawHeader() {
    $("domain").textContent = view.domain || "";
    var v = $("verdict");
    v.textContent = view.verdict.verdict;
    v.setAttribute("data-verdict", view.verdict.verdict);
    $("reasons").textContent = view.verdict.reasons.join("; ");
    $("generation").textContent = "generation " + view.generation +
      (view.pushRunning ? ", push of " + view.pushRunning.generation + " running" : "");
    var alarm = $("alarm");
    alarm.hidden = !view.alarm;
    alarm.textContent = view.alarm ? "ALARM: down since " + view.alarm.since + ": " + view.alarm.reasons.join("; ") : "";
    document.title = "vmmeet: " + view.verdict.verdict + (view.domain ? " (" + view.domain + ")" : "");
  }

  function drawNodes() {
    var cards = view.nodes.map(function (n) {
      var r = n.report;
      var services = r.services.length === 0 ? null : h("table", { class: "services" },
        r.services.map(function (s) {
          return h("tr", { "data-service": s.name, "data-state": s.state },
            h("td", {}, h("code", {}, s.name)), h("td", {}, s.state + (s.running ? "" : " (not running)")),
            h("td", {}, s.restarts ? s.restarts + " restarts" : ""), h("td", {}, s.detail || ""));
        }));
      var components = r.health.map(function (c) {
        return h("div", { class: "component", "data-component": c.component, "data-state": c.state },
          h("h3", {}, h("code", {}, c.component), badge(c.state), h("span", { class: "meta" }, "for " + c.ageSeconds + "s")),
          h("p", { class: "explain" }, c.explain),
          c.fix ? h("p", { class: "fix" }, c.fix) : null,
          c.bridges ? h("p", { class: "meta" }, "bridges in the brewery: " + (c.bridges.join(", ") || "none")) : null,
          c.signals.length === 0 ? null : h("ul", { class: "signals" }, c.signals.map(function (s) {
            return h("li", { "data-signal": s.signal, "data-label": s.label },
              badge(s.label === "info" ? "unknown" : s.label, s.label), " ", h("code", {}, s.signal),
              s.detail ? " " + s.detail : "", " (" + ago(s.at) + "): ", s.explain,
              s.fix ? h("p", { class: "fix" }, s.fix) : null);
          })));
      });
      var vms = !r.vms ? null : h("table", { class: "vms" }, r.vms.map(function (vm) {
        return h("tr", { "data-vm": vm.name }, h("td", {}, "vm " + vm.name), h("td", {}, vm.state),
          h("td", {}, vm.id === null ? "" : "id " + vm.id), h("td", {}, vm.memory || ""));
      }));
      return h("div", { class: "card", "data-node-card": n.node, "data-state": n.state },
        h("h3", {}, n.node, h("span", { class: "meta" }, n.role), badge(n.state)),
        h("p", { class: "why" }, n.why),
        h("p", { class: "meta" }, (r.connected ? "agent connected" : "agent away, last seen " + ago(r.lastSeen)) +
          ", generation " + r.generation.applied + " of " + r.generation.desired +
          (r.agentVersion ? ", agent " + r.agentVersion : "")),
        r.clock && r.clock.warning ? h("p", { class: "fix", "data-clock-skew": String(r.clock.skewMs) },
          "clock: " + r.clock.warning) : null,
        services, vms, components);
    });
    $("nodes").replaceChildren.apply($("nodes"), cards);
  }

  function drawPush() {
    var p = view.push;
    if (!p) return;
    var state = p.running ? "running" : p.ok ? "healthy" : "failed";
    var parts = [
      h("p", { class: "push-head", "data-state": state },
        "generation " + p.generation + (p.by ? " by " + p.by : "") + ", started " + clock(p.startedAt) + " ",
        badge(state, p.running ? "running" : p.ok ? "rolled out" : "failed")),
      h("ol", { class: "stages" }, p.stages.map(function (s) {
        return h("li", { "data-stage": s.name, "data-state": s.state },
          h("strong", {}, "stage " + s.name), " ", badge(s.state === "passed" ? "healthy" : s.state, s.state),
          h("ul", {}, s.nodes.map(function (n) {
            return h("li", { "data-push-node": n.node, "data-phase": n.phase },
              h("code", {}, n.node), " ", h("span", { class: "badge" }, n.phase), n.message ? " " + n.message : "");
          })));
      })),
      p.rollback ? h("p", { class: "fix" }, p.rollback) : null,
      p.running ? null : h("p", { class: "meta" }, p.message)];
    // replaceChildren would insert a null as the text "null".
    $("push").replaceChildren.apply($("push"), parts.filter(Boolean));
  }

  function drawEvents() {
    $("events").replaceChildren.apply($("events"), view.events.map(function (e) {
      return h("li", { "data-kind": e.kind }, h("time", { datetime: e.at }, clock(e.at)),
        e.node ? h("strong", {}, e.node + " ") : null, h("code", {}, e.kind), " ", e.message);
    }));
  }

  function colour() {
    var svg = $("topology").querySelector("svg");
    if (!svg || !view) return;
    view.nodes.forEach(function (n) {
      svg.querySelectorAll('[data-node="' + CSS.escape(n.node) + '"]').forEach(function (g) {
        g.setAttribute("data-state", n.state);
        var t = g.querySelector("title") || g.appendChild(document.createElementNS("http://www.w3.org/2000/svg", "title"));
        t.textContent = n.node + ": " + n.state + ": " + n.why;
      });
    });
    svg.querySelectorAll("path[data-flows]").forEach(function (p) {
      var st = null;
      p.getAttribute("data-flows").split(" ").forEach(function (id) {
        var f = view.flows[id];
        if (f && (st === null || RANK[f.state] > RANK[st])) st = f.state;
      });
      if (st) p.setAttribute("data-state", st); else p.removeAttribute("data-state");
    });
    var brewery = svg.querySelector('[data-box="brewery"]');
    if (brewery && view.brewery) brewery.setAttribute("data-state", view.brewery.state);
  }

  function loadSvg() {
    if (svgGeneration === view.generation) return;
    svgGeneration = view.generation;
    fetch("/topology.svg").then(function (r) {
      if (!r.ok) { svgGeneration = null; return null; }
      return r.text();
    }).then(function (text) {
      if (text === null) return;
      $("topology").innerHTML = text;
      colour();
    }).catch(function () { svgGeneration = null; });
  }

  function draw(v) {
    view = v;
    drawHeader();
    drawNodes();
    drawPush();
    drawEvents();
    loadSvg();
    colour();
    document.body.setAttribute("data-at", view.at);
  }

  var source = new EventSource("/events");
  source.onopen = function () { $("live").setAttribute("data-live", "open"); $("live").textContent = "live"; };
  source.onerror = function () { $("live").setAttribute("data-live", "closed"); $("live").textContent = "reconnecting"; };
  source.onmessage = function (m) { draw(JSON.parse(m.data)); };
})();
`;
