// Vigil's page: the live grid, the alert panel and the history.
// Plain JavaScript, no build step. Every string that comes from the server is inserted as
// text (textContent, attributes), never as markup: camera names and event details are
// user-controlled.
"use strict";

const CAMERAS_EVERY_MS = 2000;
const HEALTH_EVERY_MS = 5000;
const STALL_AFTER_S = 8;          // no new frame for this long: the tile says so
const VIEWER_GRACE_S = 5;         // time the streamer gets to count a new viewer
const RETRY_MIN_MS = 500;         // MJPEG retry backoff: full jitter, capped
const RETRY_MAX_MS = 8000;
const PAGE_SIZE = 50;
const CLIP_POLL_MS = 3000;        // an open detail without its clip yet asks again this often
const FORGET_AFTER_S = 60;        // a camera the streamer no longer lists (it restarted) keeps its tile this long

const SEVERITY_ORDER = {critical: 0, warning: 1, info: 2};
const KIND_NAMES = {fall: "Fall", drowsy: "Drowsy", looking_away: "Looking away", distress: "Distress"};
const STATES = {  // capture state -> what the tile shows
  streaming: "streaming", connecting: "reconnecting", reconnecting: "reconnecting",
  ended: "stopped", stopped: "stopped", failed: "stopped",
};

const $ = (id) => document.getElementById(id);

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  for (const child of children) node.append(child);  // strings become text nodes
  return node;
}

// ---------------------------------------------------------------- HTTP

async function getJSON(path) {
  const response = await fetch(path, {headers: {Accept: "application/json"}, credentials: "same-origin"});
  if (response.status === 401) { location.assign("/login?next=" + encodeURIComponent(location.pathname)); }
  const body = await response.json().catch(() => null);
  return {ok: response.ok, status: response.status, body};
}

async function post(path) {
  // Every state-changing request says it comes from the page (the streamer refuses others).
  const response = await fetch(path, {method: "POST", credentials: "same-origin",
                                      headers: {"X-Vigil-Request": "1", Accept: "application/json"}});
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(body && body.error ? String(body.error) : `HTTP ${response.status}`);
  return body;
}

// Only our own paths go into src attributes: never "javascript:" or another site.
function localUrl(value) {
  return typeof value === "string" && value.startsWith("/") && !value.startsWith("//") ? value : null;
}

// ---------------------------------------------------------------- time and words

function ago(epochSeconds, now = Date.now() / 1000) {
  const s = Math.max(0, now - epochSeconds);
  if (s < 10) return "just now";
  if (s < 60) return `${Math.floor(s)} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  const days = Math.floor(s / 86400);
  return days === 1 ? "yesterday" : `${days} days ago`;
}

function clock(epochSeconds) {
  const date = new Date(epochSeconds * 1000);
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  const time = date.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit", second: "2-digit"});
  return sameDay ? time : `${date.toLocaleDateString([], {weekday: "short", day: "numeric", month: "short"})} ${time}`;
}

function duration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const m = Math.floor(seconds / 60), s = Math.round(seconds % 60);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

function kindName(kind) { return KIND_NAMES[kind] || words(String(kind || "event")); }
function words(key) {  // "down_for_s" -> "Down for" (the unit shows in the value); "down_seq" -> "Down frame"
  const text = String(key).replace(/_s$/, "").replace(/(^|_)seq$/, "$1frame").replace(/_/g, " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

// A detail value as a short human phrase: never JSON.
function humanValue(key, value) {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "number") {
    if (/(_s|seconds|duration)$/.test(key)) return duration(value);
    if (/(^|_)(time|at|start|end)$/.test(key) && value > 1e9) return clock(value);
    if (/(score|confidence|perclos|probability|ratio)$/.test(key) && value <= 1) return `${Math.round(value * 100)} %`;
    if (/(yaw|pitch|roll|angle|lean)/.test(key)) return `${Math.round(value)}°`;
    return Number.isInteger(value) ? String(value) : value.toFixed(2);
  }
  if (Array.isArray(value)) return value.map((item) => humanValue(key, item)).join(", ");
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${words(k).toLowerCase()} ${humanValue(k, v)}`).join(", ");
  }
  return String(value);
}

// ---------------------------------------------------------------- health

const health = {status: "ok", reasons: []};

async function pollHealth() {
  try {
    const {body} = await getJSON("/healthz");  // 503 still carries the reasons
    if (body) {
      health.status = body.status || "ok";
      const failed = Object.entries(body.checks || {}).filter(([, v]) => v === false).map(([k]) => `${k} not connected`);
      health.reasons = Array.isArray(body.reasons) && body.reasons.length ? body.reasons.map(String) : failed;
    }
  } catch (error) {
    health.status = "unreachable";
    health.reasons = [];
  }
  renderHealth();
}

function renderHealth() {
  const banner = $("health");
  if (!streamer.reachable) {
    banner.textContent = "The streamer is not answering: reconnecting…";
  } else if (health.status !== "ok" && health.status !== "unreachable") {
    banner.textContent = "Detection is degraded: " + (health.reasons.join("; ") || health.status);
  } else {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
}

// ---------------------------------------------------------------- live grid

const streamer = {reachable: true};
const tiles = new Map();  // camera name -> tile

class Tile {
  constructor(name) {
    this.name = name;
    this.attempt = 0;
    this.retryTimer = null;
    this.lastSeq = null;
    this.seqChangedAt = Date.now();
    this.streamBroken = false;
    this.root = el("figure", {class: "tile", "data-state": "reconnecting"});
    this.root.dataset.camera = name;
    this.img = el("img", {class: "live-view", alt: `Live view of ${name}`});
    this.stateBadge = el("span", {class: "state"});
    this.latency = el("span", {class: "latency"});
    this.warning = el("p", {class: "tile-warning", role: "status"});
    this.warning.hidden = true;
    const title = el("span", {class: "camera-name", text: name});
    this.root.append(
      el("div", {class: "frame"}, this.img),
      el("figcaption", {}, title, this.stateBadge, this.latency),
      this.warning,
    );
    this.img.addEventListener("error", () => this.broken());
    this.img.addEventListener("load", () => { this.attempt = 0; this.streamBroken = false; });
    this.connect();
  }

  url() {
    // A fresh query each time: no cache or half-closed connection can hand back the old stream.
    return `/cameras/${encodeURIComponent(this.name)}/mjpeg?attempt=${Date.now()}`;
  }

  connect() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.connectedAt = Date.now();
    this.img.src = this.url();
  }

  lostByServer(camera) {
    // The streamer counts no viewer of this camera although we hold its stream: the connection
    // died without an error event (Chromium keeps showing the last frame). Give it time to count us.
    return camera.viewers === 0 && Date.now() - this.connectedAt > VIEWER_GRACE_S * 1000;
  }

  broken() {
    // The stream ended (streamer restarted, viewer dropped): retry with jittered backoff.
    this.streamBroken = true;
    if (this.retryTimer !== null) return;
    const cap = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** this.attempt);
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), RETRY_MIN_MS / 2 + Math.random() * cap);
    this.render();
  }

  checkImage() {
    // A stream cut off without an error event leaves a broken image (naturalWidth 0): dead too.
    if (this.retryTimer === null && this.img.complete && this.img.naturalWidth === 0
        && Date.now() - this.connectedAt > 2000) this.broken();
  }

  update(camera) {
    this.camera = camera;
    if (camera.latest_seq !== this.lastSeq) {
      // A new camera session restarts numbering: any change counts as progress.
      this.lastSeq = camera.latest_seq;
      this.seqChangedAt = Date.now();
    }
    this.render();
  }

  stalledFor() { return (Date.now() - this.seqChangedAt) / 1000; }

  render() {
    const camera = this.camera || {capture: {}};
    const capture = camera.capture || {};
    let state = STATES[capture.state] || "reconnecting";
    const warnings = [];
    if (!streamer.reachable || this.streamBroken || this.unlistedSince) state = "reconnecting";
    const missing = camera.latest_missing || [];
    const errors = camera.latest_errors || [];
    if (missing.length) {
      warnings.push(`No results from ${missing.join(", ")}: no worker is serving, or the workers are overloaded.`);
    }
    if (errors.length) warnings.push(`Detection failed for ${errors.join(", ")}.`);
    if (state === "streaming" && camera.latest_seq !== null && this.stalledFor() > STALL_AFTER_S) {
      warnings.push(`No new frame for ${Math.round(this.stalledFor())} s.`);
    }
    if (capture.state === "failed" && capture.error) warnings.push(`Camera failed: ${capture.error}`);
    if (this.unlistedSince && streamer.reachable) warnings.push("The streamer has no frame from this camera yet.");
    this.root.dataset.state = state;
    this.stateBadge.textContent = state;
    const latency = camera.latest_latency;
    this.latency.textContent = state === "streaming" && Number.isFinite(latency) ? `${Math.round(latency * 1000)} ms` : "";
    this.latency.title = "Capture to display latency of the latest frame";
    this.warning.textContent = warnings.join(" ");
    this.warning.hidden = warnings.length === 0;
    this.root.classList.toggle("has-warning", warnings.length > 0);
  }

  remove() {
    clearTimeout(this.retryTimer);
    this.img.removeAttribute("src");  // closes the MJPEG connection
    this.root.remove();
  }
}

async function pollCameras() {
  let cameras, body;
  try {
    const answer = await getJSON("/cameras");
    body = answer.body;
    if (!answer.ok || !body || !Array.isArray(body.cameras)) throw new Error("bad /cameras answer");
    cameras = body.cameras;
  } catch (error) {
    if (streamer.reachable) {
      streamer.reachable = false;
      for (const tile of tiles.values()) tile.render();
      renderHealth();
    }
    return;
  }
  // Back after an outage, or a new streamer process: every live view must be asked for again.
  const cameBack = !streamer.reachable || (streamer.started !== undefined && body.started !== streamer.started);
  streamer.reachable = true;
  streamer.started = body.started;
  if (cameBack) pollHealth();
  const seen = new Set();
  for (const camera of cameras) {
    const name = String(camera.name);
    seen.add(name);
    let tile = tiles.get(name);
    if (!tile) {
      tile = new Tile(name);
      tiles.set(name, tile);
      insertSorted($("grid"), tile.root, name);
      addCameraOption(name);
    } else if (cameBack || tile.streamBroken || tile.lostByServer(camera)) {
      tile.connect();  // the streamer is back, or lost our stream: ask for the live view again now
    }
    tile.update(camera);
  }
  for (const [name, tile] of tiles) {
    if (seen.has(name)) { tile.unlistedSince = null; continue; }
    // Not listed: a restarted streamer has not seen this camera yet, or it is gone for good.
    tile.unlistedSince = tile.unlistedSince || Date.now();
    if (Date.now() - tile.unlistedSince > FORGET_AFTER_S * 1000) { tile.remove(); tiles.delete(name); }
    else tile.render();
  }
  $("no-cameras").hidden = tiles.size > 0;
}

function insertSorted(parent, node, name) {
  const after = [...parent.children].find((child) => child.dataset.camera > name);
  parent.insertBefore(node, after || null);
}

function addCameraOption(name) {
  const select = $("filters").elements.camera;
  if ([...select.options].some((option) => option.value === name)) return;
  const after = [...select.options].find((option) => option.value && option.value > name);
  select.insertBefore(el("option", {value: name, text: name}), after || null);
}

// ---------------------------------------------------------------- incidents

const incidents = new Map();   // id -> latest incident
let historyIds = [];           // ids in the history list, newest first
let historyNext = null;

function isOpen(incident) { return incident.type !== "end" && !incident.end; }

function upsert(event) {
  if (!event || typeof event.id !== "string") return null;
  const known = incidents.get(event.id) || {};
  const merged = {...known, ...event};
  if (event.acknowledged === undefined && known.acknowledged !== undefined) merged.acknowledged = known.acknowledged;
  incidents.set(event.id, merged);
  if (typeof merged.camera === "string") addCameraOption(merged.camera);
  return merged;
}

function severityBadge(severity) {
  return el("span", {class: `severity severity-${SEVERITY_ORDER[severity] !== undefined ? severity : "info"}`,
                     text: String(severity || "info")});
}

function card(incident) {
  const item = el("li", {class: "card", tabindex: "0", role: "button"});
  item.dataset.id = incident.id;
  item.dataset.severity = String(incident.severity || "info");
  const snapshot = localUrl(incident.snapshot);
  const thumb = snapshot ? el("img", {class: "thumb", src: snapshot, alt: `Snapshot: ${kindName(incident.kind)}`, loading: "lazy"})
                         : el("div", {class: "thumb none", text: "no picture"});
  const ago_ = el("time", {class: "ago", "data-time": String(incident.start || incident.time),
                           text: ago(incident.start || incident.time)});
  ago_.title = clock(incident.start || incident.time);
  const body = el("div", {class: "card-body"},
    el("div", {class: "card-title"}, severityBadge(incident.severity), el("strong", {text: kindName(incident.kind)})),
    el("div", {class: "card-meta"}, el("span", {class: "camera", text: String(incident.camera)}), " · ", ago_),
  );
  if (incident.acknowledged) {
    const by = incident.acknowledged.by ? ` by ${incident.acknowledged.by}` : "";
    body.append(el("div", {class: "acked", text: `Acknowledged${by}`}));
  }
  item.append(thumb, body);
  item.addEventListener("click", () => openDetail(incident.id));
  item.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); openDetail(incident.id); } });
  return item;
}

function historyRow(incident) {
  const item = el("li", {class: "history-row", tabindex: "0", role: "button"});
  item.dataset.id = incident.id;
  const start = incident.start || incident.time;
  const span = incident.end ? `, lasted ${duration(incident.end - start)}` : isOpen(incident) ? ", still open" : "";
  item.append(
    el("time", {class: "when", text: clock(start)}),
    severityBadge(incident.severity),
    el("span", {class: "kind", text: kindName(incident.kind)}),
    el("span", {class: "camera", text: String(incident.camera)}),
    el("span", {class: "span", text: span.slice(2)}),
  );
  if (incident.acknowledged) item.append(el("span", {class: "acked", text: "✓", title: "Acknowledged", "aria-label": "acknowledged"}));
  item.addEventListener("click", () => openDetail(incident.id));
  return item;
}

function renderOpen() {
  const open = [...incidents.values()].filter(isOpen).sort((a, b) =>
    (SEVERITY_ORDER[a.severity] ?? 3) - (SEVERITY_ORDER[b.severity] ?? 3) || (b.start || 0) - (a.start || 0));
  $("open").replaceChildren(...open.map(card));
  $("no-open").hidden = open.length > 0;
  $("open-count").textContent = open.length ? String(open.length) : "";
  document.title = open.length ? `(${open.length}) Vigil` : "Vigil";
}

function renderHistory() {
  const rows = historyIds.map((id) => incidents.get(id)).filter(Boolean).map(historyRow);
  $("history").replaceChildren(...rows);
  $("no-history").hidden = rows.length > 0;
  $("more").hidden = !historyNext;
}

function filterQuery() {
  const form = $("filters").elements;
  const query = new URLSearchParams({limit: String(PAGE_SIZE)});
  if (form.camera.value) query.set("camera", form.camera.value);
  if (form.kind.value) query.set("kind", form.kind.value);
  if (form.period.value) query.set("since", String(Math.floor(Date.now() / 1000 - Number(form.period.value))));
  return query;
}

function matchesFilters(incident) {
  const form = $("filters").elements;
  if (form.camera.value && incident.camera !== form.camera.value) return false;
  if (form.kind.value && incident.kind !== form.kind.value) return false;
  return true;
}

function eventsError(message) {
  $("events-error").textContent = message || "";
  $("events-error").hidden = !message;
}

async function loadOpen() {
  try {
    const {ok, status, body} = await getJSON("/events?open=1&limit=100");
    if (!ok || !body) throw new Error(`HTTP ${status}`);
    for (const incident of body.events || []) upsert(incident);
    eventsError("");
  } catch (error) {
    eventsError(`Incidents could not be loaded (${error.message}); retrying.`);
    setTimeout(loadOpen, 5000);
  }
  renderOpen();
}

async function loadHistory(more = false) {
  const query = filterQuery();
  if (more && historyNext !== null) query.set("before", String(historyNext));
  try {
    const {ok, status, body} = await getJSON(`/events?${query}`);
    if (!ok || !body) throw new Error(`HTTP ${status}`);
    const ids = (body.events || []).map(upsert).filter(Boolean).map((incident) => incident.id);
    historyIds = more ? [...historyIds, ...ids.filter((id) => !historyIds.includes(id))] : ids;
    historyNext = body.next ?? null;
  } catch (error) {
    eventsError(`History could not be loaded (${error.message}).`);
  }
  renderHistory();
  renderOpen();
}

function onLiveEvent(event) {
  const incident = upsert(event);
  if (!incident) return;
  if (!historyIds.includes(incident.id) && matchesFilters(incident)) historyIds.unshift(incident.id);
  renderOpen();
  renderHistory();
  if (detail.id === incident.id) openDetail(incident.id, false);
}

function listen(attempt = 0) {
  const source = new EventSource("/events");  // resumes from Last-Event-ID by itself
  let lost = attempt > 0;
  source.addEventListener("event", (message) => {
    try { onLiveEvent(JSON.parse(message.data)); } catch (error) { console.warn("bad event", error); }
  });
  source.addEventListener("open", () => {
    attempt = 0;
    $("live-status").textContent = "Live";
    $("live-status").dataset.state = "live";
    if (lost) { lost = false; loadOpen(); loadHistory(); }  // catch up on what the outage hid
  });
  source.addEventListener("error", () => {
    lost = true;
    $("live-status").textContent = "Live updates reconnecting…";
    $("live-status").dataset.state = "reconnecting";
    if (source.readyState === EventSource.CLOSED) {
      // The browser gave up (an error status while the streamer restarts): start a new one.
      const cap = Math.min(RETRY_MAX_MS, RETRY_MIN_MS * 2 ** attempt);
      setTimeout(() => listen(attempt + 1), RETRY_MIN_MS / 2 + Math.random() * cap);
    }
  });
}

// ---------------------------------------------------------------- detail dialog

const detail = {id: null, timer: null};

async function openDetail(id, show = true) {
  detail.id = id;
  const dialog = $("detail");
  let incident = incidents.get(id) || {id};
  try {
    const {ok, body} = await getJSON(`/events/${encodeURIComponent(id)}`);
    if (ok && body) incident = upsert(body) && {...incidents.get(id), updates: body.updates};
  } catch (error) { /* show what we have */ }
  fillDetail(incident);
  if (show && !dialog.open) dialog.showModal();
  // The clip is written a few seconds after the incident starts: look again until it is there.
  clearTimeout(detail.timer);
  if (!localUrl(incident.clip)) {
    detail.timer = setTimeout(() => { if (detail.id === id && $("detail").open) openDetail(id, false); }, CLIP_POLL_MS);
  }
}

function fillDetail(incident) {
  const start = incident.start || incident.time;
  $("detail-title").replaceChildren(severityBadge(incident.severity), " ",
                                    `${kindName(incident.kind)} on ${incident.camera}`);
  $("detail-when").textContent = `${clock(start)} (${ago(start)})` +
    (incident.end ? `, lasted ${duration(incident.end - start)}` : isOpen(incident) ? ", still going on" : "");

  const clip = localUrl(incident.clip), snapshot = localUrl(incident.snapshot);
  const video = $("detail-clip"), image = $("detail-snapshot");
  if (clip && video.getAttribute("src") !== clip) { video.src = clip; if (snapshot) video.poster = snapshot; }
  video.hidden = !clip;
  if (!clip) { video.removeAttribute("src"); video.load(); }
  image.hidden = Boolean(clip) || !snapshot;
  if (!clip && snapshot) image.src = snapshot;
  $("detail-noclip").hidden = Boolean(clip);

  const facts = [["Camera", String(incident.camera)], ["Severity", String(incident.severity || "info")],
                 ["Confidence", humanValue("score", incident.score)]];
  for (const [key, value] of Object.entries(incident.details || {})) {
    if (key === "confidence" || key === "score") continue;  // the incident's score says it once
    facts.push([words(key), humanValue(key, value)]);
  }
  $("detail-facts").replaceChildren(...facts.flatMap(([name, value]) => [el("dt", {text: name}), el("dd", {text: value})]));

  const updates = Array.isArray(incident.updates) ? incident.updates : [];
  $("detail-updates").replaceChildren(...updates.map((update) => el("li", {text: describeUpdate(update)})));

  const acked = incident.acknowledged;
  $("detail-ack-state").textContent = acked
    ? `Acknowledged${acked.by ? ` by ${acked.by}` : ""} ${acked.at ? ago(acked.at) : ""}`.trim() : "Not acknowledged yet.";
  $("detail-ack").hidden = Boolean(acked);
  $("detail-ack").disabled = false;
}

function describeUpdate(update) {
  const when = clock(update.time);
  const what = {new: "Started", update: "Changed", end: "Ended"}[update.type] || words(String(update.type));
  const parts = [`${when}: ${what}`];
  if (update.severity) parts.push(`severity ${update.severity}`);
  if (Number.isFinite(update.score)) parts.push(`confidence ${Math.round(update.score * 100)} %`);
  const details = Object.entries(update.details || {}).filter(([k]) => k !== "confidence" && k !== "score")
    .map(([k, v]) => `${words(k).toLowerCase()} ${humanValue(k, v)}`);
  return parts.join(", ") + (details.length ? ` (${details.join(", ")})` : "");
}

async function acknowledge() {
  const button = $("detail-ack");
  button.disabled = true;
  try {
    const incident = upsert(await post(`/events/${encodeURIComponent(detail.id)}/ack`));
    if (incident) fillDetail({...incident, updates: incidents.get(detail.id).updates});
    renderOpen();
    renderHistory();
  } catch (error) {
    $("detail-ack-state").textContent = `Could not acknowledge: ${error.message}`;
    button.disabled = false;
  }
}

// ---------------------------------------------------------------- start

function tick() {
  for (const node of document.querySelectorAll("time.ago")) node.textContent = ago(Number(node.dataset.time));
  for (const tile of tiles.values()) { tile.checkImage(); tile.render(); }
}

function every(ms, fn) {
  const run = async () => { try { await fn(); } finally { setTimeout(run, ms); } };
  run();
}

document.addEventListener("DOMContentLoaded", () => {
  $("filters").addEventListener("change", () => { historyNext = null; loadHistory(); });
  $("more").addEventListener("click", () => loadHistory(true));
  $("detail-ack").addEventListener("click", acknowledge);
  $("detail").addEventListener("close", () => {
    detail.id = null;
    clearTimeout(detail.timer);
    $("detail-clip").pause();
  });
  every(CAMERAS_EVERY_MS, pollCameras);
  every(HEALTH_EVERY_MS, pollHealth);
  setInterval(tick, 1000);
  loadOpen();
  loadHistory();
  listen();
});
