// adwise dashboard: plain JS, no dependencies, talks to this service's /v1 API with the key
// typed into the page (kept in sessionStorage for this tab only).
"use strict";

const state = { key: sessionStorage.getItem("adwise-key") || "", scope: "", paths: {}, segments: [] };

// Where each view's data comes from; the first candidate the service offers (per its
// /openapi.json) is used, so the page works with whatever capabilities are installed.
const ROUTES = {
  // [method, path, request builder (params -> {query} or {body})]
  rank: [["post", "/v1/delivery/recommend", (p) => ({ body: { users: [p.user_id], k: p.k,
    ...(p.placement ? { placement: p.placement } : {}), ...(p.hour !== null ? { hour: p.hour } : {}) } })]],
  ads: [["get", "/v1/delivery/ads", (p) => ({ query: { ids: p.ids.join(",") } })]],
  interests: [["get", "/v1/interests/users/{user_id}", () => ({ query: { k: 50 } })]],
  segment: [["get", "/v1/audience/users/{user_id}", () => ({})]],
  segments: [["get", "/v1/audience/segments", () => ({})]],
  generate: [["post", "/v1/creative/generate", (p) => ({ body: p })]],
  creatives: [["get", "/v1/creative/creatives", (p) => ({ query: p.status ? { status: p.status } : {} })]],
  approve: [["post", "/v1/creative/creatives/{creative_id}/approve", () => ({ body: {} })]],
  reject: [["post", "/v1/creative/creatives/{creative_id}/reject", () => ({ body: {} })]],
};

// Scopes from least to most allowed; a key may call a route whose scope ranks at or below its own.
const SCOPE_RANK = { read: 0, write: 1, admin: 2 };

function allowed(name) {
  const found = route(name);
  if (!found) return false;
  const op = state.paths[found[1]][found[0]] || {};
  const need = op["x-adwise-scope"] || (found[0] === "get" ? "read" : "admin");
  return (SCOPE_RANK[state.scope] ?? -1) >= (SCOPE_RANK[need] ?? 99);
}

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
      created: x.created, metrics: leadMetrics(x.metrics),
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
  if (window.adwiseCharts) await window.adwiseCharts(rep);
}

// The first metrics a reader sees: ranking and probability quality and the base rate, never
// accuracy first (at a 2 % base rate "nobody clicks" scores 0.98).
const LEAD = ["auc", "logloss", "ece", "base_rate", "ndcg@10", "precision_at_3_vs_truth", "silhouette",
  "en_holdout_spearman", "qini", "value_ratio"];

function leadMetrics(metrics) {
  const keys = LEAD.filter((k) => typeof metrics[k] === "number");
  const rest = Object.keys(metrics).filter((k) => !keys.includes(k) && k !== "accuracy" &&
    typeof metrics[k] === "number");
  return [...keys, ...rest].slice(0, 4).map((k) => `${k.replace(/_/g, " ")} ${fmt(metrics[k])}`).join(", ");
}

// ------------------------------------------------------------------ user lookup
function pick(obj, names) {
  for (const n of names) if (obj && obj[n] !== undefined) return obj[n];
  return undefined;
}

// The user's interests as bars from 1 (the average user): above 1 blue, below red; drawn by
// the report's chart runtime (/charts.js) so the page has one charting library.
function liftChart(rows) {
  const title = "Interest lift over the average user";
  const spec = {
    title, description: title,
    width: 300, height: { step: 18 },
    data: { values: rows.map((r) => ({ ...r, side: r.lift >= 1 ? "above average" : "below average" })) },
    mark: { type: "bar" },
    encoding: {
      y: { field: "interest", type: "nominal", sort: "-x", title: null },
      x: { field: "lift", type: "quantitative", title: "lift (1 = average user)", scale: { zero: false },
        axis: { format: ".1f" } },
      x2: { datum: 1 },
      color: { field: "side", type: "nominal", legend: null,
        scale: { domain: ["above average", "below average"], range: ["#1d4ed8", "#b91c1c"] } },
      tooltip: [{ field: "interest" }, { field: "lift", format: ".2f" }, { field: "evidence" }],
    },
  };
  const node = el("div", { class: "vl", "data-title": title });
  node.setAttribute("data-vl", JSON.stringify(spec));
  return el("figure", { class: "chart" }, node);
}

function interestsCard(data) {
  const card = el("div", { class: "card", id: "card-interests" }, el("h3", {}, "Interests"));
  const items = pick(data, ["interests", "top", "categories", "affinities", "scores"]);
  const topics = pick(data, ["topics"]);
  if (Array.isArray(items) && items.length && typeof items[0] === "object") {
    const rows = items.slice(0, 12).map((x) => ({
      interest: String(pick(x, ["category", "topic", "name", "label", "interest"]) ?? "?"),
      lift: Number(pick(x, ["score", "affinity", "weight", "value", "share"]) ?? 0),
      evidence: String(x.evidence ?? "") }));
    if (rows.length > 1) card.append(liftChart(rows));
    card.append(render(rows.map((r) => ({ interest: r.interest, "lift (1 = average user)": r.lift,
      evidence: r.evidence }))));
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

function signed(v) { return (v >= 0 ? "+" : "−") + Math.abs(v).toFixed(2); }

function money(v) { return typeof v === "number" && Number.isFinite(v) ? v.toFixed(2) : "–"; }

function pct(v) { return `${(100 * v).toFixed(v < 0.01 ? 2 : 1)} %`; }

// Why this ad, in words, with the numbers behind each reason.  The click model's breakdown
// (factors) is in log-odds: ad (its own pull, with the base rate), interest (the user's
// interest in the ad's category) and context (placement and hour); the user's interests come
// from the interests model (lift over the average user).
function whyLines(x, info, ctx) {
  const out = [];
  const f = x.factors || {};
  const cat = info && info.category;
  if (typeof f.interest === "number") {
    const list = ctx.interests || [];
    const i = cat ? list.findIndex((t) => t.interest === cat) : -1;
    const term = `interest term ${signed(f.interest)} log-odds`;
    if (!cat) out.push(`interest: ${term}`);
    else if (i === 0) out.push(`matches the user's top interest ${cat}, ${list[0].score.toFixed(1)}x (${term})`);
    else if (i > 0 && list[i].score >= 1) out.push(`the user's no. ${i + 1} interest ${cat}, ${list[i].score.toFixed(1)}x (${term})`);
    else if (i > 0) out.push(`${cat} interests this user less than the average user, ${list[i].score.toFixed(1)}x (${term})`);
    else out.push(`category ${cat} (${term})`);
  }
  if (typeof f.context === "number") {
    const where = [ctx.placement ? `${ctx.placement} slot` : "", ctx.hour !== null ? `at ${ctx.hour}h` : ""]
      .filter(Boolean).join(" ");
    out.push(where ? `${where}: context ${signed(f.context)} log-odds` :
      `average slot and hour (context ${signed(f.context)} log-odds; pick a placement and hour to see theirs)`);
  }
  if (typeof f.ad === "number") out.push(`the ad's own pull ${signed(f.ad)} log-odds`);
  const value = x.pricing === "cpa" ? `pCTR ${pct(x.p_ctr)} × pCVR ${pct(x.p_cvr)} × ${money(x.cpa_bid)} per conversion`
    : `pCTR ${pct(x.p_ctr)} × ${money(x.bid)} per click`;
  out.push(`expected value ${x.expected_value.toFixed(4)} = ${value}`);
  if (x.reason) out.push(`not served now: ${x.reason}`);
  return out;
}

function rankCard(data, ads, ctx) {
  const card = el("div", { class: "card wide", id: "card-ads" }, el("h3", {}, "Recommended ads"));
  const rec = data && Array.isArray(data.recommendations) ? data.recommendations[0] : null;
  if (!rec || !Array.isArray(rec.ads)) { card.append(render(data)); return card; }
  card.append(el("p", { class: "muted" }, `source: ${rec.source}` +
    (rec.known_user === false ? " (unknown user: cold-start fallback)" : "") +
    (data.model_version ? ` · model ${data.model_version}` : "")));
  if (!rec.ads.length) { card.append(el("p", {}, "No ad can be recommended to this user now.")); return card; }
  const info = Object.fromEntries((ads || []).map((a) => [a.ad_id, a]));
  const t = el("table", {}, el("thead", {}, el("tr", {},
    el("th", { scope: "col" }, "#"), el("th", { scope: "col" }, "ad"),
    el("th", { scope: "col" }, "price"), el("th", { scope: "col" }, "why"))));
  const tb = el("tbody");
  rec.ads.forEach((x, i) => {
    const a = info[x.ad_id] || {};
    const adCell = el("td", {}, el("div", { class: "headline" }, a.headline || x.ad_id),
      el("div", { class: "muted" }, [a.category, x.ad_id, x.campaign_id].filter(Boolean).join(" · ")));
    const price = x.pricing === "cpa" ? `${money(x.cpa_bid)} per conversion` : `${money(x.bid)} per click`;
    const why = el("ul", { class: "why" }, ...whyLines(x, a, ctx).map((w) => el("li", {}, w)));
    tb.append(el("tr", { class: "ad-row", "data-category": a.category || "",
      "data-interest": (x.factors || {}).interest ?? "" },
    el("td", {}, i + 1), adCell, el("td", {}, price), el("td", {}, why)));
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
  const hourText = $("user-hour").value.trim();
  const ctx = { placement: $("user-placement").value.trim(), hour: hourText === "" ? null : Number(hourText) };
  const out = $("user-result");
  out.replaceChildren(el("p", { class: "muted" }, "looking up…"));
  const [interests, segment, rank] = await Promise.allSettled([
    call("interests", { user_id: userId }), call("segment", { user_id: userId }),
    call("rank", { user_id: userId, k, ...ctx })]);
  ctx.interests = interests.status === "fulfilled" && interests.value && !interests.value.missing
    ? interests.value.interests || [] : [];
  let ads = [];
  if (rank.status === "fulfilled" && rank.value && !rank.value.missing && route("ads")) {
    const ids = ((rank.value.recommendations || [])[0] || { ads: [] }).ads.map((x) => x.ad_id);
    if (ids.length) {
      try { ads = (await call("ads", { ids })).ads; } catch (_) { ads = []; } // ids only then
    }
  }
  const jobs = [["interests", interests, interestsCard], ["segment", segment, segmentCard],
    ["ads", rank, (d) => rankCard(d, ads, ctx)]];
  out.replaceChildren();
  let shown = 0;
  for (const [what, res, draw] of jobs) {
    if (res.status === "fulfilled" && res.value && res.value.missing) {
      out.append(el("div", { class: "card muted" }, el("h3", {}, what), "not served by this installation"));
    } else if (res.status === "fulfilled") {
      out.append(draw(res.value)); shown += 1;
    } else {
      out.append(el("div", { class: "card" }, el("h3", {}, what), el("p", { class: "bad" }, res.reason.message)));
    }
  }
  if (window.adwiseCharts) await window.adwiseCharts(out);
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
    await loadCreatives();
  } catch (e) {
    out.replaceChildren();
    showError(e.message);
  } finally {
    btn.disabled = false;
  }
}

function checksText(checks) {
  if (!checks || typeof checks !== "object") return "–";
  const entries = Object.entries(checks);
  const failed = entries.filter(([, ok]) => !ok).map(([k]) => k);
  return failed.length ? `${entries.length - failed.length}/${entries.length} checks pass; failed: ${failed.join(", ")}`
    : `all ${entries.length} checks pass`;
}

async function decide(id, verb) {
  showError("");
  try {
    await call(verb, { creative_id: id });
    await loadCreatives();
  } catch (e) { showError(e.message); }
}

async function loadCreatives(ev) {
  if (ev) ev.preventDefault();
  const box = $("creative-list");
  if (!route("creatives")) { box.replaceChildren(el("p", { class: "muted" }, "stored creatives are not served by this installation")); return; }
  const canDecide = allowed("approve");
  $("creatives-scope").textContent = canDecide ? "" :
    `this key (${state.scope}) may look but not approve or reject; use a key with more scope`;
  const data = await call("creatives", { status: $("creative-status").value });
  const rows = (data.creatives || []).slice().reverse(); // newest first
  if (!rows.length) {
    box.replaceChildren(el("p", { class: "muted" }, "No stored creatives with this status: generate some below."));
    box.dataset.count = "0";
    return;
  }
  const t = el("table", { id: "creatives-table" }, el("thead", {}, el("tr", {},
    ...["creative", "status", "score", "source", "checks", ""].map((c) => el("th", { scope: "col" }, c)))));
  const tb = el("tbody");
  for (const c of rows.slice(0, 100)) {
    const actions = el("td");
    if (canDecide) {
      for (const [verb, label] of [["approve", "Approve"], ["reject", "Reject"]]) {
        if (c.status === (verb === "approve" ? "approved" : "rejected")) continue;
        const b = el("button", { type: "button", class: `act ${verb}`, "aria-label": `${label} “${c.headline}”` }, label);
        b.addEventListener("click", () => decide(c.creative_id, verb));
        actions.append(b);
      }
    }
    tb.append(el("tr", { class: "creative-row", "data-id": c.creative_id, "data-status": c.status },
      el("td", {}, el("div", { class: "headline" }, c.headline), el("div", {}, c.description),
        el("div", { class: "muted" }, [c.audience, c.created_at].filter(Boolean).join(" · "))),
      el("td", {}, el("span", { class: `badge ${c.status}` }, c.status)),
      el("td", { class: "num" }, fmt(c.score)), el("td", {}, c.source || "–"),
      el("td", {}, checksText(c.checks)), actions));
  }
  t.append(tb);
  box.replaceChildren(t);
  box.dataset.count = String(rows.length);
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
    state.scope = who.scope;
    await loadPaths();
    await Promise.all([loadOverview(), loadSegments(), loadCreatives()]);
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
  $("creatives-filter").addEventListener("submit", (e) => loadCreatives(e).catch((x) => showError(x.message)));
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => switchTab(b.dataset.tab));
  if (state.key) { $("api-key").value = state.key; connect(); }
});
