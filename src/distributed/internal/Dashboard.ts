/**
 * The host's live dashboard: one HTML page with its styles and script
 * inline (no build step, nothing fetched from elsewhere: it works on a
 * machine without internet). It reads the host's status as server-sent
 * events from `/events` (through `fetch`, so that it can send the admin
 * token as a bearer header, which `EventSource` cannot) and draws the
 * message rates of the last minute as inline SVG, the worker/agent-type map,
 * and the tables of workers, agent types, rates by message type,
 * subscriptions and recent dead letters.
 *
 * The page itself holds no data, so it is served without the token; the
 * token comes from the address's fragment (`/dashboard#token=...`, which a
 * browser never sends to a server) or from the form the page shows when
 * `/events` refuses it, and stays in the tab's session storage.
 */

/** The page. Everything it shows is set through `textContent` or SVG attributes: nothing from the host is parsed as HTML. */
export const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>effect-agents host</title>
<style>
  :root { --bg: #0f1419; --panel: #171d24; --line: #2a3440; --text: #d8dee6; --dim: #8a96a3; --sent: #4fa3ff; --published: #46c28e; --failed: #ff6b6b; --type: #c792ea; }
  * { box-sizing: border-box; }
  body { margin: 0; font: 14px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; gap: 16px; align-items: baseline; padding: 14px 20px; border-bottom: 1px solid var(--line); flex-wrap: wrap; }
  header h1 { font-size: 18px; margin: 0; }
  .dim { color: var(--dim); }
  .badge { padding: 2px 8px; border-radius: 10px; font-size: 12px; background: var(--line); }
  .badge.live { background: #1f4d36; color: #9ff0c6; }
  .badge.down { background: #5a2222; color: #ffc2c2; }
  main { padding: 16px 20px; display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(460px, 1fr)); }
  section { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
  section h2 { font-size: 13px; text-transform: uppercase; letter-spacing: .06em; color: var(--dim); margin: 0 0 8px; }
  .cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(110px, 1fr)); gap: 8px; grid-column: 1 / -1; }
  .card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
  .card b { display: block; font-size: 22px; font-variant-numeric: tabular-nums; }
  .card span { color: var(--dim); font-size: 12px; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; max-width: 260px; }
  th { color: var(--dim); font-weight: 500; font-size: 12px; }
  td.n, th.n { text-align: right; }
  .empty { color: var(--dim); font-style: italic; }
  svg text { fill: var(--dim); font-size: 11px; }
  .legend span { margin-right: 12px; font-size: 12px; }
  .legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
  .wide { grid-column: 1 / -1; }
  form#login { display: none; gap: 8px; align-items: center; padding: 10px 20px; background: #3a2a10; }
  form#login input { background: var(--bg); color: var(--text); border: 1px solid var(--line); padding: 4px 8px; border-radius: 4px; }
</style>
</head>
<body>
<header>
  <h1>effect-agents host <span id="host-id" class="dim"></span></h1>
  <span id="conn" class="badge" data-state="connecting">connecting</span>
  <span id="recovering" class="badge" hidden>recovering</span>
  <span class="dim">workers join at <span id="url"></span></span>
  <span class="dim">up <span id="uptime"></span></span>
</header>
<form id="login"><span>The admin endpoint wants its token:</span><input id="token" type="password" autocomplete="off" placeholder="admin token"><button>Connect</button></form>
<main>
  <div class="cards">
    <div class="card"><b id="total-workers">-</b><span>workers</span></div>
    <div class="card"><b id="total-types">-</b><span>agent types</span></div>
    <div class="card"><b id="total-placements">-</b><span>placed agents</span></div>
    <div class="card"><b id="total-subscriptions">-</b><span>subscriptions</span></div>
    <div class="card"><b id="total-pending">-</b><span>in flight</span></div>
    <div class="card"><b id="rate-total">-</b><span>messages, last minute</span></div>
    <div class="card"><b id="total-dead">-</b><span>dead letters</span></div>
  </div>
  <section class="wide">
    <h2>Message rate, last minute (per second)</h2>
    <div class="legend"><span><i style="background:var(--sent)"></i>sent</span><span><i style="background:var(--published)"></i>published</span><span><i style="background:var(--failed)"></i>failed</span></div>
    <svg id="rates" viewBox="0 0 900 180" preserveAspectRatio="none" width="100%" height="180" role="img" aria-label="message rates"></svg>
  </section>
  <section>
    <h2>Workers and agent types</h2>
    <svg id="map" width="100%" role="img" aria-label="which worker runs which agent type"></svg>
  </section>
  <section>
    <h2>Workers</h2>
    <table id="workers"><thead><tr><th>worker</th><th>since</th><th>agent types</th><th class="n">queue</th><th class="n">in flight</th><th class="n">heard</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Agent types</h2>
    <table id="types"><thead><tr><th>agent type</th><th>workers</th><th class="n">placed</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>By message type, last minute</h2>
    <table id="messages"><thead><tr><th>message type</th><th class="n">sent</th><th class="n">published</th><th class="n">failed</th><th>errors</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Subscriptions</h2>
    <table id="subscriptions"><thead><tr><th>topic</th><th>agent type</th><th>declared by</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Recent dead letters</h2>
    <table id="dead"><thead><tr><th>at</th><th>recipient</th><th>message type</th><th>error</th><th>reason</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const SVG = "http://www.w3.org/2000/svg";
let token = sessionStorage.getItem("effect-agents-admin-token") || "";
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.has("token")) {
  token = fragment.get("token");
  sessionStorage.setItem("effect-agents-admin-token", token);
  history.replaceState(null, "", location.pathname + location.search);
}
let skew = 0;
const ago = (millis) => {
  const s = Math.max(0, Math.round((Date.now() - skew - millis) / 1000));
  return s < 60 ? s + " s" : s < 3600 ? Math.floor(s / 60) + " min" : Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
};
const setConn = (state, text) => { const c = $("conn"); c.dataset.state = state; c.textContent = text; c.className = "badge " + (state === "live" ? "live" : state === "down" ? "down" : ""); };
const rows = (id, items, cells, key) => {
  const body = $(id).tBodies[0];
  body.replaceChildren();
  if (items.length === 0) {
    const tr = body.insertRow(); const td = tr.insertCell();
    td.colSpan = $(id).tHead.rows[0].cells.length; td.className = "empty"; td.textContent = "none";
    return;
  }
  for (const item of items) {
    const tr = body.insertRow();
    if (key) tr.dataset.key = key(item);
    for (const [value, numeric] of cells(item)) {
      const td = tr.insertCell(); td.textContent = String(value); if (numeric) td.className = "n"; td.title = String(value);
    }
  }
};
const el = (name, attrs, text) => {
  const node = document.createElementNS(SVG, name);
  for (const k in attrs) node.setAttribute(k, String(attrs[k]));
  if (text !== undefined) node.textContent = text;
  return node;
};
const drawRates = (perSecond) => {
  const svg = $("rates"); svg.replaceChildren();
  const W = 900, H = 180, L = 40, B = 18, T = 8;
  const series = [["sent", "var(--sent)"], ["published", "var(--published)"], ["failed", "var(--failed)"]];
  const max = Math.max(1, ...series.flatMap(([k]) => perSecond[k]));
  const n = perSecond.sent.length;
  const x = (i) => L + (W - L - 4) * (n <= 1 ? 0 : i / (n - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  for (const f of [0, 0.5, 1]) {
    svg.append(el("line", { x1: L, x2: W, y1: y(max * f), y2: y(max * f), stroke: "#2a3440" }));
    svg.append(el("text", { x: L - 6, y: y(max * f) + 4, "text-anchor": "end" }, String(Math.round(max * f))));
  }
  svg.append(el("text", { x: L, y: H - 4 }, "-" + n + " s"));
  svg.append(el("text", { x: W - 4, y: H - 4, "text-anchor": "end" }, "now"));
  for (const [k, color] of series) {
    const points = perSecond[k].map((v, i) => x(i).toFixed(1) + "," + y(v).toFixed(1)).join(" ");
    svg.append(el("polyline", { points, fill: "none", stroke: color, "stroke-width": 2, "data-series": k }));
  }
};
const drawMap = (workers, types) => {
  const svg = $("map"); svg.replaceChildren();
  const rowH = 26, top = 16;
  const height = top + Math.max(workers.length, types.length, 1) * rowH + 8;
  svg.setAttribute("viewBox", "0 0 460 " + height); svg.setAttribute("height", String(height));
  if (workers.length === 0) { svg.append(el("text", { x: 10, y: 30 }, "no workers")); return; }
  const wy = new Map(workers.map((w, i) => [w.workerId, top + i * rowH + rowH / 2]));
  const ty = new Map(types.map((t, i) => [t.name, top + i * rowH + rowH / 2]));
  svg.append(el("text", { x: 10, y: 11 }, "workers")); svg.append(el("text", { x: 450, y: 11, "text-anchor": "end" }, "agent types"));
  for (const t of types) for (const w of t.workers) if (wy.has(w)) {
    svg.append(el("path", { d: "M150," + wy.get(w) + " C230," + wy.get(w) + " 230," + ty.get(t.name) + " 310," + ty.get(t.name), fill: "none", stroke: "#3d4b5c", "stroke-width": 1.5 }));
  }
  for (const w of workers) {
    const g = el("g", { "data-worker": w.workerId });
    g.append(el("rect", { x: 6, y: wy.get(w.workerId) - 10, width: 144, height: 20, rx: 4, fill: "#1d3147", stroke: "#4fa3ff" }));
    g.append(el("text", { x: 14, y: wy.get(w.workerId) + 4, style: "fill:#d8dee6" }, w.workerId.length > 20 ? w.workerId.slice(0, 19) + "…" : w.workerId));
    svg.append(g);
  }
  for (const t of types) {
    const g = el("g", { "data-type": t.name });
    g.append(el("rect", { x: 310, y: ty.get(t.name) - 10, width: 144, height: 20, rx: 4, fill: "#2b2140", stroke: "var(--type)" }));
    g.append(el("text", { x: 318, y: ty.get(t.name) + 4, style: "fill:#d8dee6" }, (t.name.length > 16 ? t.name.slice(0, 15) + "…" : t.name) + " (" + t.placements + ")"));
    svg.append(g);
  }
};
const render = (s) => {
  skew = Date.now() - s.now;
  $("host-id").textContent = s.hostId; $("url").textContent = s.url; $("uptime").textContent = ago(s.startedAt);
  $("recovering").hidden = !s.recovering;
  $("total-workers").textContent = s.totals.workers; $("total-types").textContent = s.totals.agentTypes;
  $("total-placements").textContent = s.totals.placements; $("total-subscriptions").textContent = s.totals.subscriptions;
  $("total-pending").textContent = s.totals.pendingRequests; $("total-dead").textContent = s.totals.deadLetters;
  const minute = s.rates.types.reduce((n, t) => n + t.sent + t.published, 0);
  $("rate-total").textContent = minute;
  drawRates(s.rates.perSecond);
  drawMap(s.workers, s.agentTypes);
  rows("workers", s.workers, (w) => [[w.workerId], [ago(w.since)], [w.agentTypes.join(", ")], [w.queueDepth, 1], [w.inFlight, 1], [ago(w.lastHeartbeat), 1]], (w) => w.workerId);
  rows("types", s.agentTypes, (t) => [[t.name], [t.workers.join(", ")], [t.placements, 1]], (t) => t.name);
  rows("messages", s.rates.types.filter((t) => t.sent + t.published + t.failed > 0), (t) => [[t.messageType], [t.sent, 1], [t.published, 1], [t.failed, 1], [Object.entries(t.errors).map(([k, v]) => k + " " + v).join(", ")]], (t) => t.messageType);
  rows("subscriptions", s.subscriptions, (x) => [[x.topic], [x.agentType], [x.owners.join(", ")]], (x) => x.id);
  rows("dead", s.deadLetters, (d) => [[ago(d.at)], [d.recipient], [d.messageType], [d.error], [d.reason]]);
  document.body.dataset.updated = String(s.now);
};
const login = (message) => {
  const form = $("login"); form.style.display = "flex";
  form.querySelector("span").textContent = message;
};
$("login").addEventListener("submit", (e) => {
  e.preventDefault(); token = $("token").value; sessionStorage.setItem("effect-agents-admin-token", token);
  $("login").style.display = "none"; connect();
});
const connect = async () => {
  setConn("connecting", "connecting");
  try {
    const response = await fetch(new URL("events", location.href), { headers: token ? { authorization: "Bearer " + token } : {}, cache: "no-store" });
    if (response.status === 401) { setConn("down", "unauthorized"); login(token ? "The admin endpoint refused this token:" : "The admin endpoint wants its token:"); return; }
    if (!response.ok || !response.body) throw new Error("status " + response.status);
    setConn("live", "live");
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let end;
      while ((end = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, end); buffer = buffer.slice(end + 2);
        const data = event.split("\\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trimStart()).join("\\n");
        if (data) render(JSON.parse(data));
      }
      if (buffer.length > 8 * 1024 * 1024) throw new Error("event too large");
    }
  } catch (e) {
    console.warn("dashboard stream", e);
  }
  setConn("down", "disconnected, retrying");
  setTimeout(connect, 2000);
};
connect();
</script>
</body>
</html>
`
