// adwise dashboard: plain JS, no dependencies, talks to this service's /v1 API with the key
// typed into the page (kept in sessionStorage for this tab only).
"use strict";

const state = { key: sessionStorage.getItem("adwise-key") || "", paths: {}, segments: [] };

// Where each view's data comes from; the first candidate the service offers (per its
// /openapi.json) is used, so the page works with whatever capabilities are installed.
const ROUTES = {
  // [method, path, request builder (params -> {query} or {body})]
  rank: [["post", "/v1/delivery/recommend", (p) => ({ body: { users: [p.user_id], k: p.k } })]],
  interests: [["get", "/v1/interests/users/{user_id}", (p) => ({ query: { k: 5 } })]],
  segment: [["get", "/v1/audience/users/{user_id}", () => ({})]],
  segments: [["get", "/v1/audience/segments", () => ({})]],
  generate: [["post", "/v1/creative/generate", (p) => ({ body: p })]],
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else if (k === "style") e.style.cssText = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function showError(msg) {
  const box = $("error");
  if (!msg) { box.hidden = true; box.textContent = ""; return; }
  box.hidden = false; box.textContent = msg;
}

class ApiError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}

function detailText(body) {
  if (!body) return "";
  if (typeof body.detail === "string") return body.detail;
  if (Array.isArray(body.detail)) {
    return body.detail.map((d) => `${(d.loc || []).join(".")}: ${d.msg}`).join("; ");
  }
  return JSON.stringify(body);
}

async function api(method, path, body) {
  const opts = { method: method.toUpperCase(), headers: { Authorization: `Bearer ${state.key}` } };
  if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const r = await fetch(path, opts);
  let data = null;
  try { data = await r.json(); } catch (_) { data = null; }
  if (!r.ok) throw new ApiError(r.status, `${r.status}: ${detailText(data) || r.statusText}`);
  return data;
}

function fmt(v) {
  if (typeof v === "number") {
    if (Number.isInteger(v)) return v.toLocaleString();
    const a = Math.abs(v);
    return a !== 0 && (a < 0.001 || a >= 1e5) ? v.toExponential(3) : v.toPrecision(4);
  }
  if (typeof v === "boolean") return v ? "yes" : "no";
  if (v === null || v === undefined) return "–";
  return String(v);
}

// Render any JSON value readably: objects as key/value tables, lists of objects as tables.
function render(value, depth = 0) {
  if (Array.isArray(value)) {
    if (value.length && value.every((x) => x && typeof x === "object" && !Array.isArray(x))) {
      const cols = [...new Set(value.flatMap((x) => Object.keys(x)))];
      const t = el("table", {}, el("thead", {}, el("tr", {}, ...cols.map((c) => el("th", {}, c)))));
      const tb = el("tbody");
      for (const row of value.slice(0, 100)) {
        tb.append(el("tr", {}, ...cols.map((c) => el("td", {}, cell(row[c], depth)))));
      }
      t.append(tb);
      return t;
    }
    return document.createTextNode(value.slice(0, 50).map(fmt).join(", "));
  }
  if (value && typeof value === "object") {
    const t = el("table");
    for (const [k, v] of Object.entries(value)) {
      t.append(el("tr", {}, el("th", {}, k), el("td", {}, cell(v, depth))));
    }
    return t;
  }
  return document.createTextNode(fmt(value));
}

function cell(v, depth) {
  if (v && typeof v === "object") return depth < 3 ? render(v, depth + 1) : JSON.stringify(v);
  return fmt(v);
}

function bars(entries, title) {
  // entries: [[label, number], ...]; a small horizontal bar list.
  const max = Math.max(1e-12, ...entries.map(([, v]) => Math.abs(v)));
  const t = el("table", { class: "bars" });
  if (title) t.append(el("caption", {}, title));
  for (const [k, v] of entries) {
    const w = Math.round((Math.abs(v) / max) * 160);
    t.append(el("tr", {}, el("th", {}, k),
      el("td", {}, el("span", { class: "bar", style: `width:${w}px` }), fmt(v))));
  }
  return t;
}

// ------------------------------------------------------------------ routes from OpenAPI
async function loadPaths() {
  const r = await fetch("/openapi.json");
  const spec = await r.json();
  state.paths = spec.paths || {};
}

function route(name) {
  for (const entry of ROUTES[name]) {
    const [method, path] = entry;
    if (state.paths[path] && state.paths[path][method]) return entry;
  }
  return null;
}

async function call(name, params) {
  const found = route(name);
  if (!found) return { missing: true };
  const [method, template, build] = found;
  const req = build(params);
  const path = template.replace(/\{(\w+)\}/g, (_, k) => encodeURIComponent(params[k]));
  const qs = req.query ? new URLSearchParams(req.query).toString() : "";
  return api(method, qs ? `${path}?${qs}` : path, req.body);
}

// ------------------------------------------------------------------ overview
async function loadOverview() {
  const [models, report] = await Promise.all([api("get", "/v1/models"), api("get", "/v1/report")]);
  const m = $("models");
  m.replaceChildren(el("h2", {}, "Models"));
  if (!models.models.length) {
    m.append(el("p", { class: "muted" }, "No models yet: train one with `adwise <capability> train` or run `adwise demo`."));
  } else {
    m.append(render(models.models.map((x) => ({
      capability: x.capability, version: x.version, serving: x.current,
      created: x.created, metrics: Object.entries(x.metrics).slice(0, 4)
        .map(([k, v]) => `${k}=${fmt(v)}`).join(", "),
    }))));
  }
  const rep = $("report");
  rep.replaceChildren();
  for (const s of report.sections) {
    const sec = el("section", { "data-capability": s.capability }, el("h2", {}, s.title));
    const body = el("div");
    body.innerHTML = s.html; // built by the service from its own escaped report sections
    sec.append(body);
    rep.append(sec);
  }
  $("overview-hint").hidden = true;
}

// ------------------------------------------------------------------ user lookup
function pick(obj, names) {
  for (const n of names) if (obj && obj[n] !== undefined) return obj[n];
  return undefined;
}

function interestsCard(data) {
  const card = el("div", { class: "card", id: "card-interests" }, el("h3", {}, "Interests"));
  const items = pick(data, ["interests", "top", "categories", "affinities", "scores"]);
  const topics = pick(data, ["topics"]);
  if (Array.isArray(items) && items.length && typeof items[0] === "object") {
    const entries = items.slice(0, 10).map((x) => [
      String(pick(x, ["category", "topic", "name", "label", "interest"]) ?? "?"),
      Number(pick(x, ["score", "affinity", "weight", "value", "share"]) ?? 0)]);
    card.append(bars(entries, "lift over the population"));
    if (Array.isArray(topics) && topics.length) {
      card.append(bars(topics.slice(0, 5).map((t) => [String(t.topic), Number(t.weight)]), "topics"));
    }
  } else if (items && typeof items === "object" && !Array.isArray(items)) {
    const entries = Object.entries(items).filter(([, v]) => typeof v === "number")
      .sort((a, b) => b[1] - a[1]).slice(0, 10);
    card.append(bars(entries));
  } else {
    card.append(render(data));
  }
  return card;
}

function segmentCard(data) {
  const card = el("div", { class: "card", id: "card-segment" }, el("h3", {}, "Segment"));
  const name = pick(data, ["name", "segment_name", "label", "segment", "cluster"]);
  if (name !== undefined && typeof name !== "object") card.append(el("p", {}, el("span", { class: "badge" }, String(name))));
  card.append(render(data));
  return card;
}

function whyText(why) {
  if (!why) return null;
  if (typeof why === "string") return why;
  if (Array.isArray(why)) return render(why);
  if (typeof why === "object") {
    const nums = Object.entries(why).filter(([, v]) => typeof v === "number");
    if (nums.length === Object.keys(why).length) return bars(nums);
    return render(why);
  }
  return String(why);
}

function rankCard(data) {
  const card = el("div", { class: "card", id: "card-ads" }, el("h3", {}, "Recommended ads"));
  let items = pick(data, ["ads", "ranking", "items", "recommendations", "results"]);
  if (Array.isArray(items) && items.length && Array.isArray(items[0].ads)) {
    card.append(el("p", { class: "muted" }, `source: ${items[0].source}` +
      (items[0].known_user === false ? " (unknown user: cold-start fallback)" : "") +
      (data.model_version ? ` · model ${data.model_version}` : "")));
    items = items[0].ads;
  }
  if (!Array.isArray(items)) { card.append(render(data)); return card; }
  const t = el("table", {}, el("thead", {}, el("tr", {},
    el("th", {}, "#"), el("th", {}, "ad"), el("th", {}, "score"), el("th", {}, "why"))));
  const tb = el("tbody");
  items.forEach((x, i) => {
    const ad = pick(x, ["ad_id", "item", "id"]);
    const label = [ad, pick(x, ["headline", "category", "campaign_id"])].filter((v) => v !== undefined).join(" · ");
    const score = pick(x, ["expected_value", "score", "value", "p_ctr", "p_click"]);
    const why = el("div");
    const reason = pick(x, ["reason"]);
    if (reason) why.append(el("div", {}, reason));
    if (x.p_ctr !== undefined) why.append(el("div", { class: "muted" }, `pCTR ${fmt(x.p_ctr)}` + (x.p_cvr !== undefined ? ` · pCVR ${fmt(x.p_cvr)}` : "") + (x.bid != null ? ` · bid ${fmt(x.bid)}` : "")));
    const factors = whyText(pick(x, ["factors", "why", "explanation", "breakdown"]));
    if (factors) why.append(factors);
    tb.append(el("tr", { class: "ad-row" }, el("td", {}, i + 1), el("td", {}, label),
      el("td", {}, fmt(score)), el("td", {}, why)));
  });
  t.append(tb);
  card.append(t);
  return card;
}

async function lookup(ev) {
  ev.preventDefault();
  showError("");
  const userId = $("user-id").value.trim();
  const k = Number($("user-k").value) || 10;
  const out = $("user-result");
  out.replaceChildren(el("p", { class: "muted" }, "looking up…"));
  const jobs = [
    ["interests", call("interests", { user_id: userId }), interestsCard],
    ["segment", call("segment", { user_id: userId }), segmentCard],
    ["ads", call("rank", { user_id: userId, k }), rankCard],
  ];
  const settled = await Promise.allSettled(jobs.map((j) => j[1]));
  out.replaceChildren();
  let shown = 0;
  settled.forEach((res, i) => {
    const [what, , draw] = jobs[i];
    if (res.status === "fulfilled" && res.value && res.value.missing) {
      out.append(el("div", { class: "card muted" }, el("h3", {}, what), "not served by this installation"));
    } else if (res.status === "fulfilled") {
      out.append(draw(res.value)); shown += 1;
    } else {
      out.append(el("div", { class: "card" }, el("h3", {}, what), el("p", { class: "bad" }, res.reason.message)));
    }
  });
  out.dataset.shown = String(shown);
}

// ------------------------------------------------------------------ creatives
async function loadSegments() {
  if (!route("segments")) return;
  try {
    const data = await call("segments", {});
    const list = pick(data, ["segments", "profiles"]) || [];
    const dl = $("segments");
    dl.replaceChildren();
    for (const s of list) {
      const text = typeof s === "string" ? s : pick(s, ["name", "description", "label", "segment"]);
      if (text) dl.append(el("option", { value: String(text) }));
    }
  } catch (_) { /* segments are a convenience only */ }
}

async function generate(ev) {
  ev.preventDefault();
  showError("");
  const body = { product: $("product").value.trim(), audience: $("audience").value.trim(),
                 n: Number($("n").value) || 3, lang: $("lang").value };
  body.backend = $("backend").value;
  const out = $("creative-result");
  const btn = $("generate");
  btn.disabled = true;
  out.replaceChildren(el("p", { class: "muted" }, "generating…"));
  try {
    const data = await call("generate", body);
    if (data && data.missing) { out.replaceChildren(el("p", { class: "muted" }, "creative generation is not served by this installation")); return; }
    const items = pick(data, ["creatives", "variants", "items"]) || [];
    const card = el("div", { class: "card" }, el("h3", {}, `${items.length} variants`));
    for (const c of items) {
      const checks = c.checks && typeof c.checks === "object" ? Object.entries(c.checks)
        .map(([k, v]) => el("span", { class: v === true || v === "ok" || v === "pass" ? "ok" : (v === false ? "bad" : "") }, `${k}: ${fmt(v)}  `)) : [];
      card.append(el("div", { class: "variant" },
        el("div", { class: "headline" }, c.headline ?? ""),
        el("div", {}, c.description ?? ""),
        el("div", { class: "muted" }, `score ${fmt(c.score)} `, ...checks)));
    }
    out.replaceChildren(card);
  } catch (e) {
    out.replaceChildren();
    showError(e.message);
  } finally {
    btn.disabled = false;
  }
}

// ------------------------------------------------------------------ wiring
async function connect(ev) {
  if (ev) ev.preventDefault();
  state.key = $("api-key").value.trim();
  showError("");
  if (!state.key) return;
  try {
    const who = await api("get", "/v1/whoami");
    sessionStorage.setItem("adwise-key", state.key);
    $("who").textContent = `key “${who.name}” (${who.scope})`;
    await loadPaths();
    await Promise.all([loadOverview(), loadSegments()]);
  } catch (e) {
    $("who").textContent = "";
    showError(e instanceof ApiError && e.status === 401 ? "The service refused this API key (missing, wrong or revoked)." : e.message);
  }
}

function switchTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll(".tab")) s.hidden = s.id !== `tab-${name}`;
}

document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", connect);
  $("user-form").addEventListener("submit", (e) => lookup(e).catch((x) => showError(x.message)));
  $("creative-form").addEventListener("submit", generate);
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  if (state.key) { $("api-key").value = state.key; connect(); }
});
