// vigil operator console: alarm queue, order board, elder page, big screen.
// Plain JavaScript, no external assets: served by the engine, usable without internet.
"use strict";

const SEVERITY_RANK = { CRITICAL: 0, MAJOR: 1, MINOR: 2, WARNING: 3 };
const TARGETS_S = [60, 180];  // answer-time targets (TEC: 97.5% within 60 s, 99% within 180 s)
const RESOLUTIONS = ["attended", "false_alarm", "resolved_by_phone", "device_fault", "other"];

// ---- session token: ?token= once, then kept for the session -----------------------------
const params = new URLSearchParams(location.search);
if (params.has("token")) {
  sessionStorage.setItem("vigil.token", params.get("token"));
  params.delete("token");
  const q = params.toString();
  history.replaceState(null, "", location.pathname + (q ? "?" + q : "") + location.hash);
}
const token = () => sessionStorage.getItem("vigil.token") || "";

// ---- helpers ------------------------------------------------------------------------------
const $ = (sel) => document.querySelector(sel);
const el = (tag, attrs = {}, ...children) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
};
const asList = (x, key) => (Array.isArray(x) ? x : (x && (x[key] || x.items)) || []);
const ms = (ts) => (ts ? Date.parse(ts) : 0);
const fmtTime = (ts) => (ts ? new Date(ts).toLocaleTimeString() : "");
const fmtDur = (s) => (s < 90 ? `${Math.round(s)} s` : s < 5400 ? `${Math.round(s / 60)} min` : `${(s / 3600).toFixed(1)} h`);

function toast(text, ok = false) {
  const t = $("#toast");
  t.textContent = text;
  t.className = "toast" + (ok ? " ok" : "");
  t.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (t.hidden = true), 4000);
}

async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token()}` };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(path, {
    method: options.method || "GET",
    headers,
    body: options.body !== undefined ? JSON.stringify(options.body) : undefined,
  });
  const text = await res.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!res.ok) {
    const msg = (data && data.error) || `${res.status} ${res.statusText}`;
    const err = new Error(msg);
    err.status = res.status;
    throw err;
  }
  return data;
}

// ---- state fed by REST snapshots and WebSocket changes ----------------------------------------
const state = {
  alarms: new Map(),   // alarm_id -> AlarmEvent (latest record)
  orders: new Map(),   // order_id -> {order_id, elder_id, category, state, agency_id, updated, timeline[]}
  events: [],          // [t, events/s] samples for the big screen
  selectedOrder: null,
};

function upsertAlarm(a) {
  state.alarms.set(a.alarm_id, a);
  if (currentView() === "queue") renderQueue();
}

function upsertOrderEvent(ev) {
  const o = state.orders.get(ev.order_id) || { order_id: ev.order_id, elder_id: ev.elder_id, timeline: [] };
  o.state = ev.state;
  if (ev.agency_id) o.agency_id = ev.agency_id;
  o.updated = ev.ts;
  o.timeline = o.timeline || [];
  o.timeline.push(ev);
  state.orders.set(ev.order_id, o);
  if (currentView() === "orders") renderOrders();
  if (state.selectedOrder === ev.order_id) renderOrderDetail(o);
}

// ---- alarm queue ----------------------------------------------------------------------------
function alarmOpen(a) { return a.status !== "CLOSED"; }

function queueRows() {
  const f = $("#queue-filter").value;
  return [...state.alarms.values()]
    .filter((a) => (f === "all" ? true : f === "unack" ? a.status === "ACTIVE_UNACK" || a.status === "CLEARED_UNACK" : alarmOpen(a)))
    .sort((x, y) => (SEVERITY_RANK[x.severity] ?? 9) - (SEVERITY_RANK[y.severity] ?? 9) || ms(x.raised_at) - ms(y.raised_at));
}

function countdown(a) {
  if (!(a.status === "ACTIVE_UNACK" || a.status === "CLEARED_UNACK")) return el("span", { class: "muted" }, "answered");
  const age = (Date.now() - ms(a.raised_at)) / 1000;
  const [first, second] = TARGETS_S;
  if (age < first) return el("span", { class: "countdown" + (first - age < 15 ? " soon" : ""), "data-raised": a.raised_at }, `${Math.ceil(first - age)} s to ${first} s target`);
  if (age < second) return el("span", { class: "countdown late", "data-raised": a.raised_at }, `${first} s missed, ${Math.ceil(second - age)} s to ${second} s`);
  return el("span", { class: "countdown late", "data-raised": a.raised_at }, `both missed (${fmtDur(age)})`);
}

async function act(a, action) {
  let body = {};
  if (action === "assign") {
    const who = prompt(`Assign ${a.alarm_id} to:`);
    if (!who) return;
    body = { assignee: who };
  } else if (action === "clear") {
    const r = prompt(`Resolution for ${a.alarm_id} (${RESOLUTIONS.join(", ")}):`, RESOLUTIONS[0]);
    if (!r) return;
    body = { resolution: r };
  } else if (action === "escalate") {
    body = { note: prompt("Escalation note:", "") || "" };
  }
  try {
    await api(`/api/alarms/${encodeURIComponent(a.alarm_id)}/${action}`, { method: "POST", body });
    toast(`${action} sent for ${a.alarm_id}`, true);
  } catch (e) {
    toast(`${action} failed: ${e.message}`);
  }
}

function renderQueue() {
  const rows = queueRows();
  $("#queue-count").textContent = `${rows.length} alarm${rows.length === 1 ? "" : "s"}`;
  const body = $("#queue-table tbody");
  body.replaceChildren(...rows.map((a) => el("tr", { "data-alarm": a.alarm_id },
    el("td", {}, el("span", { class: `sev ${a.severity}` }, a.severity)),
    el("td", {}, el("a", { href: `#elder/${encodeURIComponent(a.elder_id)}` }, a.elder_id)),
    el("td", {}, a.rule_id),
    el("td", { class: "status" }, a.status),
    el("td", {}, fmtTime(a.raised_at)),
    el("td", {}, countdown(a)),
    el("td", {}, String(a.count || 1)),
    el("td", {}, a.message || "", a.assignee ? ` · assigned to ${a.assignee}` : ""),
    el("td", { class: "actions" },
      a.status === "ACTIVE_UNACK" || a.status === "CLEARED_UNACK" ? el("button", { class: "primary", "data-action": "ack", onclick: () => act(a, "ack") }, "Ack") : "",
      alarmOpen(a) ? el("button", { "data-action": "assign", onclick: () => act(a, "assign") }, "Assign") : "",
      alarmOpen(a) && a.status.startsWith("ACTIVE") ? el("button", { "data-action": "clear", onclick: () => act(a, "clear") }, "Clear") : "",
      alarmOpen(a) ? el("button", { "data-action": "escalate", onclick: () => act(a, "escalate") }, "Escalate") : ""))));
}

async function loadAlarms() {
  const data = await api("/api/alarms");
  for (const a of asList(data, "alarms")) state.alarms.set(a.alarm_id, a);
  renderQueue();
}

// ---- orders ---------------------------------------------------------------------------------
function renderOrders() {
  const f = $("#orders-filter").value;
  const rows = [...state.orders.values()].filter((o) => !f || o.state === f).sort((x, y) => ms(y.updated) - ms(x.updated));
  $("#orders-count").textContent = `${rows.length} order${rows.length === 1 ? "" : "s"}`;
  $("#orders-table tbody").replaceChildren(...rows.map((o) => el("tr", {
      "data-order": o.order_id, class: o.order_id === state.selectedOrder ? "selected" : "",
      onclick: () => selectOrder(o.order_id) },
    el("td", {}, o.order_id), el("td", {}, o.elder_id || ""), el("td", {}, o.category || ""),
    el("td", {}, o.state || ""), el("td", {}, o.agency_id || ""), el("td", {}, fmtTime(o.updated)))));
}

function renderOrderDetail(o) {
  const timeline = o.timeline || o.history || [];
  $("#order-detail").replaceChildren(
    el("h3", {}, `Order ${o.order_id}`),
    el("p", { class: "muted" }, `${o.category || ""} for ${o.elder_id || ""}${o.agency_id ? " · " + o.agency_id : ""}`),
    el("ol", { class: "timeline", id: "order-timeline" }, timeline.map((ev) => el("li", { "data-state": ev.state },
      el("div", {}, el("strong", {}, ev.state), ev.agency_id ? ` · ${ev.agency_id}` : "", ev.reason ? ` · ${ev.reason}` : ""),
      el("div", { class: "when" }, ev.ts ? new Date(ev.ts).toLocaleString() : "")))),
    !["COMPLETED", "RATED", "CANCELLED", "FAILED", "ESCALATED"].includes(o.state)
      ? el("button", { onclick: () => cancelOrder(o.order_id) }, "Cancel order") : "");
}

async function selectOrder(id) {
  state.selectedOrder = id;
  renderOrders();
  try {
    const o = await api(`/api/orders/${encodeURIComponent(id)}`);
    const order = o.order || o;
    const merged = { ...(state.orders.get(id) || {}), ...order };
    merged.timeline = asList(o.timeline || order.timeline || order.history, "timeline");
    if (merged.timeline.length) merged.state = merged.timeline[merged.timeline.length - 1].state;
    state.orders.set(id, merged);
    renderOrderDetail(merged);
  } catch (e) {
    $("#order-detail").replaceChildren(el("p", {}, `Cannot load order ${id}: ${e.message}`));
  }
}

async function cancelOrder(id) {
  try {
    await api(`/api/orders/${encodeURIComponent(id)}/cancel`, { method: "POST", body: { note: "cancelled from the console" } });
    toast(`cancel sent for ${id}`, true);
  } catch (e) { toast(`cancel failed: ${e.message}`); }
}

async function loadOrders() {
  const data = await api("/api/orders");
  for (const o of asList(data, "orders")) {
    const prev = state.orders.get(o.order_id) || {};
    state.orders.set(o.order_id, { ...prev, ...o, updated: o.updated || o.updated_at || prev.updated });
  }
  renderOrders();
}

// ---- elder page -----------------------------------------------------------------------------
const VITAL_UNITS = { heart_rate: "bpm", spo2: "%", body_temperature: "°C", respiration_rate: "/min", battery: "%" };
function vitalText(type, v) {
  const n = (x) => Number(x || 0);
  if (type === "blood_pressure") return `${n(v.value)}/${n(v.value2)} mmHg`;
  if (type === "location") return `${n(v.lat).toFixed(5)}, ${n(v.lon).toFixed(5)}`;
  return `${Math.round(n(v.value) * 10) / 10} ${VITAL_UNITS[type] || ""}`.trim();
}
function vitalsTable(vitals) {
  const order = ["heart_rate", "spo2", "blood_pressure", "body_temperature", "respiration_rate", "battery", "location"];
  const rows = order.filter((t) => vitals[t]).map((t) => el("tr", { "data-vital": t },
    el("td", {}, t.replaceAll("_", " ")), el("td", { class: "value" }, vitalText(t, vitals[t])),
    el("td", { class: "muted" }, vitals[t].device_id || ""), el("td", {}, fmtTime(vitals[t].ts))));
  if (!rows.length) return el("p", { class: "muted", id: "elder-vitals" }, "no readings since the console started");
  return el("table", { id: "elder-vitals" }, el("thead", {}, el("tr", {}, el("th", {}, "vital"), el("th", {}, "value"),
    el("th", {}, "device"), el("th", {}, "at"))), el("tbody", {}, ...rows));
}
async function showElder(id) {
  $("#elder-id").value = id;
  const box = $("#elder-detail");
  box.replaceChildren(el("p", { class: "muted" }, "loading…"));
  try {
    const d = await api(`/api/elders/${encodeURIComponent(id)}`);
    const p = d.profile || d.elder || {};
    const alarms = asList(d.active_alarms || d.alarms, "alarms");
    const orders = asList(d.orders, "orders");
    const vitals = d.latest_vitals || d.vitals || {};
    box.replaceChildren(
      el("h2", {}, `${p.name || id} (${id})`),
      el("p", { class: "muted" }, [p.region, p.timezone, p.home_lat && `home ${p.home_lat}, ${p.home_lon}`].filter(Boolean).join(" · ")),
      el("h3", {}, "Devices"), el("p", {}, asList(d.devices, "devices").map((x) => `${x.device_id} (${x.type})`).join(", ") || "none registered"),
      el("h3", {}, "Latest vitals"), vitalsTable(vitals),
      el("h3", {}, "Active alarms"), el("ul", {}, alarms.map((a) => el("li", {}, el("span", { class: `sev ${a.severity}` }, a.severity), ` ${a.rule_id} · ${a.status} · ${fmtTime(a.raised_at)}`))),
      el("h3", {}, "Orders"), el("ul", {}, orders.map((o) => el("li", {}, el("a", { href: "#orders", onclick: () => setTimeout(() => selectOrder(o.order_id), 0) }, o.order_id), ` · ${o.category || ""} · ${o.state || ""}`))));
  } catch (e) {
    box.replaceChildren(el("p", {}, `Cannot load elder ${id}: ${e.message}`));
  }
}

// ---- big screen -------------------------------------------------------------------------------
function bars(svg, entries, colors) {
  const max = Math.max(1, ...entries.map(([, v]) => v));
  const w = 400 / Math.max(entries.length, 1);
  svg.replaceChildren(...entries.flatMap(([k, v], i) => {
    const h = (v / max) * 130;
    const ns = "http://www.w3.org/2000/svg";
    const r = document.createElementNS(ns, "rect");
    Object.entries({ x: i * w + 8, y: 150 - h, width: w - 16, height: h, fill: colors[k] || "#3e9cf5", rx: 3 }).forEach(([a, b]) => r.setAttribute(a, b));
    const t1 = document.createElementNS(ns, "text");
    Object.entries({ x: i * w + w / 2, y: 168, "text-anchor": "middle" }).forEach(([a, b]) => t1.setAttribute(a, b));
    t1.textContent = k;
    const t2 = document.createElementNS(ns, "text");
    Object.entries({ x: i * w + w / 2, y: 145 - h, "text-anchor": "middle" }).forEach(([a, b]) => t2.setAttribute(a, b));
    t2.textContent = v;
    return [r, t1, t2];
  }));
}

function sparkline(svg, samples) {
  const ns = "http://www.w3.org/2000/svg";
  const max = Math.max(1, ...samples.map(([, v]) => v));
  const pts = samples.map(([, v], i) => `${(i / Math.max(samples.length - 1, 1)) * 390 + 5},${160 - (v / max) * 140}`).join(" ");
  const line = document.createElementNS(ns, "polyline");
  Object.entries({ points: pts, fill: "none", stroke: "#30a46c", "stroke-width": 3 }).forEach(([a, b]) => line.setAttribute(a, b));
  const label = document.createElementNS(ns, "text");
  Object.entries({ x: 8, y: 16 }).forEach(([a, b]) => label.setAttribute(a, b));
  label.textContent = samples.length ? `${Math.round(samples[samples.length - 1][1])} events/s` : "";
  svg.replaceChildren(line, label);
}

const pct = (x) => (x == null || isNaN(x) ? "–" : `${(100 * x).toFixed(1)}%`);

async function refreshScreen() {
  let s = null;
  try { s = await api("/api/stats"); } catch { s = null; }
  const alarms = [...state.alarms.values()];
  const orders = [...state.orders.values()];
  const today = new Date(); today.setHours(0, 0, 0, 0);
  const active = {};
  for (const a of alarms) if (a.status && a.status.startsWith("ACTIVE")) active[a.severity] = (active[a.severity] || 0) + 1;
  const byState = {};
  for (const o of orders) if (o.state) byState[o.state] = (byState[o.state] || 0) + 1;
  $("#s-alarms").textContent = s?.alarms_today ?? alarms.filter((a) => ms(a.raised_at) >= today.getTime()).length;
  $("#s-orders").textContent = s?.orders_today ?? orders.length;
  $("#s-ans60").textContent = pct(s?.answer_share_60s);
  $("#s-ans180").textContent = pct(s?.answer_share_180s);
  $("#s-accept").textContent = pct(s?.acceptance_rate);
  $("#s-ontime").textContent = pct(s?.on_time_rate);
  bars($("#c-severity"), ["CRITICAL", "MAJOR", "MINOR", "WARNING"].map((k) => [k, (s?.active_alarms_by_severity || active)[k] || 0]),
       { CRITICAL: "#e5484d", MAJOR: "#f76b15", MINOR: "#f5d90a", WARNING: "#3e9cf5" });
  bars($("#c-orders"), Object.entries(s?.orders_by_state || byState).filter(([, v]) => v > 0).slice(0, 8), {});
  if (s && typeof s.events_in === "number") {
    const now = Date.now();
    const last = refreshScreen.last;
    if (last) state.events.push([now, ((s.events_in - last.total) * 1000) / Math.max(1, now - last.t)]);
    refreshScreen.last = { t: now, total: s.events_in };
    state.events = state.events.slice(-60);
    sparkline($("#c-events"), state.events);
  }
}

// ---- live updates ---------------------------------------------------------------------------
function connect(delay = 500) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${proto}://${location.host}/ws?token=${encodeURIComponent(token())}`);
  const conn = $("#conn");
  ws.onopen = () => { conn.textContent = "live"; conn.className = "conn live"; delay = 500; };
  ws.onmessage = (m) => {
    let msg;
    try { msg = JSON.parse(m.data); } catch { return; }
    const v = msg.value || {};
    if (msg.topic === "alarms") upsertAlarm(v);
    else if (msg.topic === "tracking") upsertOrderEvent(v);
    else if (msg.topic === "dispatch") {
      const o = state.orders.get(v.order_id) || { order_id: v.order_id, timeline: [] };
      Object.assign(o, { elder_id: v.elder_id, category: v.category });
      state.orders.set(v.order_id, o);
    }
  };
  ws.onclose = () => {
    conn.textContent = "reconnecting…"; conn.className = "conn";
    setTimeout(() => connect(Math.min(delay * 2, 10000)), delay);
  };
}

// ---- navigation -------------------------------------------------------------------------------
function currentView() { return (location.hash.slice(1).split("/")[0]) || "queue"; }

function show() {
  const view = currentView();
  for (const s of document.querySelectorAll(".view")) s.hidden = s.id !== `view-${view}`;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.view === view);
  if (view === "queue") renderQueue();
  if (view === "orders") renderOrders();
  if (view === "elder") { const id = decodeURIComponent(location.hash.split("/")[1] || ""); if (id) showElder(id); }
  if (view === "screen") refreshScreen();
}

window.addEventListener("hashchange", show);
$("#queue-filter").addEventListener("change", renderQueue);
$("#orders-filter").addEventListener("change", renderOrders);
$("#elder-form").addEventListener("submit", (e) => { e.preventDefault(); location.hash = `#elder/${encodeURIComponent($("#elder-id").value)}`; });
// Live countdowns: only the countdown cells change each second, so buttons stay put under the
// operator's pointer.
function tickCountdowns() {
  for (const tr of document.querySelectorAll("#queue-table tbody tr")) {
    const a = state.alarms.get(tr.dataset.alarm);
    if (a && tr.cells[5]) tr.cells[5].replaceChildren(countdown(a));
  }
}
setInterval(() => { if (currentView() === "queue") tickCountdowns(); }, 1000);
setInterval(() => { if (currentView() === "screen") refreshScreen(); }, 2000);

(async function start() {
  if (!token()) toast("No token: open the console with ?token=<your token>");
  show();
  connect();
  try { await Promise.all([loadAlarms(), loadOrders()]); } catch (e) { toast(`Cannot load: ${e.message}`); }
  show();
})();
