// The status page served at `/`: everything inline (CSS, JavaScript, SVG charts), so it works on
// machines without Internet access. It polls the JSON endpoints every 3 s.
#include <string>

#include "observe/http_server.h"

namespace ha {

const std::string& StatusPageHtml() {
  static const std::string html = R"HTML(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>health-analytics status</title>
<style>
  :root { --bg:#f5f6f8; --card:#fff; --ink:#1d2330; --mute:#667085; --line:#e4e7ec;
          --ok:#12b76a; --warn:#f79009; --bad:#f04438; --bar:#2e90fa; --bar2:#7a5af8; --dl:#ee46bc; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;
         background:var(--bg); color:var(--ink); }
  header { display:flex; align-items:center; gap:14px; padding:14px 24px; background:var(--ink); color:#fff; }
  header h1 { font-size:18px; margin:0; font-weight:600; }
  header .ver { color:#98a2b3; font-size:12px; }
  header .spacer { flex:1; }
  header .upd { color:#98a2b3; font-size:12px; }
  .pill { display:inline-block; padding:2px 10px; border-radius:999px; font-weight:600; font-size:12px;
          text-transform:uppercase; letter-spacing:.04em; background:#475467; color:#fff; }
  .pill.healthy, .pill.ready { background:var(--ok); }
  .pill.degraded { background:var(--warn); }
  .pill.unhealthy, .pill.notready { background:var(--bad); }
  main { padding:18px 24px 32px; max-width:1280px; margin:0 auto; }
  .reason { margin:0 0 14px; color:var(--mute); min-height:1.4em; }
  .reason.warn { color:#b54708; } .reason.bad { color:#b42318; }
  .banner { display:none; margin:0 0 14px; padding:10px 14px; border-radius:8px; background:#fef3f2;
            color:#b42318; border:1px solid #fecdca; }
  .cards { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px; margin-bottom:16px; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
  .card .k { color:var(--mute); font-size:12px; text-transform:uppercase; letter-spacing:.04em; }
  .card .v { font-size:22px; font-weight:650; margin-top:2px; font-variant-numeric:tabular-nums; }
  .card .s { color:var(--mute); font-size:12px; margin-top:2px; }
  .charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(480px,1fr)); gap:12px; }
  .panel { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:12px 14px; }
  .panel h2 { font-size:14px; margin:0 0 6px; font-weight:600; }
  .panel .sub { color:var(--mute); font-size:12px; margin-bottom:4px; }
  svg.chart { width:100%; height:190px; display:block; }
  svg.chart text { font-size:10px; fill:var(--mute); }
  svg.chart .grid { stroke:var(--line); stroke-width:1; }
  svg.chart text.cut { fill:var(--ink); font-weight:600; }
  table { width:100%; border-collapse:collapse; font-size:12px; table-layout:fixed; }
  td { overflow-wrap:anywhere; }
  #dl-recent td:last-child { font-family:ui-monospace,monospace; font-size:11px; }
  th, td { text-align:left; padding:4px 6px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { color:var(--mute); font-weight:600; }
  td.num { text-align:right; font-variant-numeric:tabular-nums; }
  code { font-size:12px; }
  details { margin-top:12px; }
  .empty { color:var(--mute); font-style:italic; padding:8px 0; }
</style>
</head>
<body>
<header>
  <h1>health-analytics</h1><span class="ver" id="version"></span>
  <span class="pill" id="status">…</span><span class="pill" id="ready">…</span>
  <span class="spacer"></span><span class="upd" id="updated">connecting…</span>
</header>
<main>
  <div class="banner" id="banner"></div>
  <p class="reason" id="reason"></p>
  <div class="cards">
    <div class="card"><div class="k">Checkpoint lag</div><div class="v" id="lag">–</div><div class="s" id="watermark">watermark –</div></div>
    <div class="card"><div class="k">Last batch</div><div class="v" id="lastbatch">–</div><div class="s" id="lastbatch-s">–</div></div>
    <div class="card"><div class="k">Batches</div><div class="v" id="batches">–</div><div class="s" id="batches-s">–</div></div>
    <div class="card"><div class="k">Documents read</div><div class="v" id="docs">–</div><div class="s" id="users">–</div></div>
    <div class="card"><div class="k">Analytics written</div><div class="v" id="written">–</div><div class="s" id="written-s">–</div></div>
    <div class="card"><div class="k">Dead letters</div><div class="v" id="dead">–</div><div class="s">since start</div></div>
    <div class="card"><div class="k">Polling interval</div><div class="v" id="interval">–</div><div class="s" id="uptime">–</div></div>
  </div>
  <div class="charts">
    <div class="panel"><h2>Batch duration</h2><div class="sub" id="dur-sub">milliseconds per batch; red: failed</div>
      <svg class="chart" id="chart-duration" viewBox="0 0 600 190"></svg></div>
    <div class="panel"><h2>Documents per batch</h2><div class="sub" id="docs-sub">changed documents read</div>
      <svg class="chart" id="chart-docs" viewBox="0 0 600 190"></svg></div>
    <div class="panel"><h2>Dead letters per batch</h2><div class="sub" id="dl-sub">invalid fields sent to DLQ_DIRECTORY</div>
      <svg class="chart" id="chart-dead" viewBox="0 0 600 190"></svg></div>
    <div class="panel"><h2>Dead letters</h2><div class="sub">by reason since start, and the latest entries</div>
      <table id="dl-reasons"></table>
      <table id="dl-recent" style="margin-top:8px"></table></div>
  </div>
  <details><summary>Last batch and configuration</summary>
    <table id="lastbatch-table"></table><table id="config" style="margin-top:8px"></table></details>
</main>
<script>
"use strict";
const $ = (id) => document.getElementById(id);
const NS = "http://www.w3.org/2000/svg";
function fmtNum(n) { return n == null ? "–" : Number(n).toLocaleString("en-US"); }
function fmtSecs(s) {
  if (s == null) return "–";
  const a = Math.abs(s);
  if (a < 1) return (s * 1000).toFixed(0) + " ms";
  if (a < 90) return s.toFixed(a < 10 ? 1 : 0) + " s";
  if (a < 5400) return (s / 60).toFixed(1) + " min";
  if (a < 172800) return (s / 3600).toFixed(1) + " h";
  return (s / 86400).toFixed(1) + " d";
}
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}
function el(tag, attrs, text) {
  const e = document.createElementNS(NS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (text != null) e.textContent = text;
  return e;
}
// Bars of `value(b)` for each batch, newest on the right; failed batches in red over a pale
// band, so an outage shows in every chart. One outlier (the first batch's catch-up, say) does not
// flatten the rest: the axis stops at the second-largest value and taller bars are cut, labelled.
function barChart(svg, batches, value, color, unit) {
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const W = Math.max(300, Math.round(svg.clientWidth || 600)), H = 190, L = 46, R = 8, T = 14, B = 24;
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  const values = batches.map(value).sort((a, b) => b - a);
  let top = values.length ? values[0] : 0;
  if (values.length > 1 && values[1] > 0 && values[0] > 4 * values[1]) top = values[1] * 1.2;
  const max = niceMax(top);
  for (const f of [0, 0.5, 1]) {
    const y = T + (H - T - B) * (1 - f);
    svg.appendChild(el("line", {x1: L, x2: W - R, y1: y, y2: y, class: "grid"}));
    svg.appendChild(el("text", {x: L - 4, y: y + 3, "text-anchor": "end"}, fmtNum(+(max * f).toPrecision(3))));
  }
  if (!batches.length) {
    svg.appendChild(el("text", {x: W / 2, y: H / 2, "text-anchor": "middle"}, "no batch yet"));
    return;
  }
  const n = Math.max(batches.length, 20), slot = (W - L - R) / n, bw = Math.max(1, slot * 0.75);
  batches.forEach((b, i) => {
    const v = value(b), failed = b.status === "failed", cut = v > max;
    const h = (H - T - B) * Math.min(1, v / max);
    const x = L + (n - batches.length + i) * slot + (slot - bw) / 2;
    if (failed)
      svg.appendChild(el("rect", {x: (x - (slot - bw) / 2).toFixed(1), y: T, width: slot.toFixed(1),
                                  height: H - T - B, fill: "#fee4e2", class: "failband"}));
    const r = el("rect", {x: x.toFixed(1), y: (H - B - h).toFixed(1), width: bw.toFixed(1),
                          height: Math.max(h, v > 0 || failed ? 2 : 0).toFixed(1),
                          fill: failed ? "#f04438" : color, class: "bar" + (failed ? " failed" : ""),
                          "data-batch-id": b.batch_id, "data-value": v});
    r.appendChild(el("title", {}, "batch " + b.batch_id + ": " + fmtNum(v) + " " + unit +
                     (failed ? " (failed)" : "")));
    svg.appendChild(r);
    if (cut) {
      svg.appendChild(el("text", {x: (x + bw / 2).toFixed(1), y: T - 3, "text-anchor": "middle",
                                  class: "cut"}, "\u2191" + fmtNum(v)));
    }
  });
  const first = batches[0], last = batches[batches.length - 1];
  svg.appendChild(el("text", {x: L + (n - batches.length) * slot, y: H - 8}, "#" + first.batch_id));
  svg.appendChild(el("text", {x: W - R, y: H - 8, "text-anchor": "end"}, "#" + last.batch_id));
}
function rows(table, header, data) {
  table.innerHTML = "";
  const tr = document.createElement("tr");
  for (const h of header) { const th = document.createElement("th"); th.textContent = h; tr.appendChild(th); }
  table.appendChild(tr);
  for (const row of data) {
    const r = document.createElement("tr");
    for (const c of row) {
      const td = document.createElement("td");
      td.textContent = c == null ? "" : String(c);
      if (typeof c === "number") td.className = "num";
      r.appendChild(td);
    }
    table.appendChild(r);
  }
}
async function getJson(path) {
  const r = await fetch(path, {cache: "no-store"});
  return r.json();  // 503 answers carry JSON too
}
async function refresh() {
  let d, b, q;
  try {
    [d, b, q] = await Promise.all([getJson("health/detailed"), getJson("api/batches"), getJson("health/dlq")]);
  } catch (e) {
    $("banner").style.display = "block";
    $("banner").textContent = "The engine does not answer (" + e + "); retrying every 3 s.";
    return;
  }
  $("banner").style.display = "none";
  $("version").textContent = "v" + d.version;
  $("status").textContent = d.status; $("status").className = "pill " + d.status;
  $("ready").textContent = d.ready ? "ready" : "not ready";
  $("ready").className = "pill " + (d.ready ? "ready" : "notready");
  const why = [d.reason, d.ready_reason].filter((x) => x).join("; ");
  $("reason").textContent = why || "All batches are completing.";
  $("reason").className = "reason" + (d.status === "unhealthy" ? " bad" : d.status === "degraded" ? " warn" : "");
  $("updated").textContent = "updated " + new Date().toLocaleTimeString();
  $("lag").textContent = fmtSecs(d.checkpoint.lag_seconds);
  $("watermark").textContent = "watermark " + (d.checkpoint.watermark || "none yet");
  const lb = d.last_batch;
  $("lastbatch").textContent = lb ? "#" + lb.batch_id : "–";
  $("lastbatch-s").textContent = lb ? lb.status + ", " + fmtNum(lb.processing_time_ms) + " ms, " +
      fmtNum(lb.records_processed) + " docs" : "no batch yet";
  $("batches").textContent = fmtNum(d.engine.batches_completed);
  $("batches-s").textContent = fmtNum(d.engine.batches_failed) + " failed" +
      (d.engine.consecutive_failures ? ", " + d.engine.consecutive_failures + " in a row" : "");
  $("docs").textContent = fmtNum(d.totals.documents_read);
  $("users").textContent = fmtNum(d.totals.users_recomputed) + " users recomputed";
  $("written").textContent = fmtNum(d.totals.analytics_inserted + d.totals.analytics_updated + d.totals.analytics_deleted);
  $("written-s").textContent = fmtNum(d.totals.analytics_inserted) + " ins, " + fmtNum(d.totals.analytics_updated) +
      " upd, " + fmtNum(d.totals.analytics_deleted) + " del, " + fmtNum(d.totals.analytics_unchanged) + " unchanged";
  $("dead").textContent = fmtNum(d.totals.dead_letters);
  $("interval").textContent = fmtSecs(d.engine.polling_interval_seconds);
  $("uptime").textContent = "up " + fmtSecs(d.uptime_seconds);
  const bs = b.batches;
  barChart($("chart-duration"), bs, (x) => x.duration_ms, "#2e90fa", "ms");
  barChart($("chart-docs"), bs, (x) => x.records, "#7a5af8", "documents");
  barChart($("chart-dead"), bs, (x) => x.dead_letters, "#ee46bc", "dead letters");
  const avg = bs.length ? bs.reduce((s, x) => s + x.duration_ms, 0) / bs.length : 0;
  $("dur-sub").textContent = "milliseconds per batch, last " + bs.length + " batches (mean " + avg.toFixed(0) + " ms); red: failed";
  rows($("dl-reasons"), ["reason", "count"], Object.entries(q.by_reason));
  rows($("dl-recent"), ["recorded (UTC)", "field", "reason", "value", "document"],
       q.recent.slice(0, 6).map((e) => [String(e.recorded_at).slice(11, 19), e.field, e.reason,
                                        JSON.stringify(e.value), e.doc_id]));
  rows($("lastbatch-table"), ["batch field", "value"],
       lb ? Object.entries(lb).map(([k, v]) => [k, typeof v === "object" && v !== null ? JSON.stringify(v) : v]) : []);
  rows($("config"), ["setting", "value"], Object.entries(d.config));
  document.body.dataset.loaded = "1";
  document.body.dataset.batches = String(bs.length);
}
refresh();
setInterval(refresh, 3000);
</script>
</body>
</html>
)HTML";
  return html;
}

}  // namespace ha
