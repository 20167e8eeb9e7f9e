// The kiosk's basket screen: renders the agent's view models (session state, basket view) from its live stream
// and posts the shopper's decisions as the ui topic's commands. Plain JavaScript, no build step, no dependency.
"use strict";

const TOKEN = document.querySelector('meta[name="screen-token"]').content;
const ATTRACT_AFTER_MS = 1000 * Number(document.querySelector('meta[name="screen-attract-after-s"]').content);
const LOCALE = document.documentElement.lang || "en";
const T_SESSION_COMMAND = "com.edgeagent.session.command.v1";
const T_BASKET_VIEW = "com.edgeagent.basket.view.v1";

let messages = {};
let session = null;
let basket = null;
let lastQty = null; // gtin14 -> qty, to announce each scan
let lastActivity = Date.now();

const $ = (id) => document.getElementById(id);

function msg(key, args = {}) {
  const text = messages[key] || key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in args ? String(args[name]) : ""));
}

function money(minor, currency) {
  if (minor === null || minor === undefined || !currency) return msg("price_at_checkout");
  const format = new Intl.NumberFormat(LOCALE, { style: "currency", currency });
  const digits = format.resolvedOptions().maximumFractionDigits;
  return format.format(minor / 10 ** digits);
}

function cell(row, text, numeric) {
  const td = document.createElement("td");
  td.textContent = text;
  if (numeric) td.className = "num";
  row.appendChild(td);
}

function nameOf(line) {
  return line.name || msg("unknown_item", { code: line.gtin14 });
}

function renderLines(tbody, lines, withPrice) {
  tbody.replaceChildren();
  for (const line of lines) {
    const row = document.createElement("tr");
    row.dataset.gtin = line.gtin14;
    cell(row, nameOf(line), false);
    cell(row, String(line.qty), true);
    if (withPrice) cell(row, money(line.line_total_minor, line.currency), true);
    tbody.appendChild(row);
  }
}

function announce(text) {
  const live = $("live");
  live.textContent = "";
  window.setTimeout(() => { live.textContent = text; }, 50); // a change the screen reader notices
}

function renderBasket() {
  const lines = basket ? basket.lines : [];
  $("empty").hidden = lines.length > 0;
  $("lines").hidden = lines.length === 0;
  renderLines($("lines").querySelector("tbody"), lines, true);
  $("total").textContent = basket && lines.length ? money(basket.total_minor, basket.currency) : "";
  $("as-of").textContent = basket && basket.priced_as_of
    ? msg("prices_as_of", { time: new Date(basket.priced_as_of).toLocaleString(LOCALE) }) : "";
  const qty = Object.fromEntries(lines.map((l) => [l.gtin14, l.qty]));
  if (lastQty !== null) {
    for (const line of lines) {
      if (line.qty > (lastQty[line.gtin14] || 0)) {
        announce(msg("announce_added", { name: nameOf(line), count: basket.items }));
      }
    }
  }
  lastQty = qty;
  renderMerge();
}

function renderMerge() {
  const previewing = session && session.state === "merge_preview";
  $("merge").hidden = !previewing;
  if (!previewing) return;
  const lines = basket && basket.preview ? basket.preview
    : session.lines.map((l) => ({ gtin14: l.sku, name: "", qty: l.result_qty }));
  renderLines($("merge-lines").querySelector("tbody"), lines, false);
  $("merge-total").textContent = basket && basket.preview
    ? money(basket.preview_total_minor, basket.currency) : "";
}

function renderSession(previous) {
  const refused = $("refused");
  refused.hidden = !session || !session.refused;
  refused.textContent = session && session.refused ? msg("refused", { reason: session.refused }) : "";
  if (previous && previous.state === "merge_preview" && session) {
    if (session.state === "merged") announce(msg("announce_merged"));
    else if (session.state === "merge_declined" || session.state === "kept_separate") announce(msg("announce_declined"));
  }
  for (const id of ["confirm", "decline"]) $(id).disabled = false;
  renderMerge();
}

function renderAttract() {
  const empty = !basket || basket.lines.length === 0;
  const previewing = session && session.state === "merge_preview";
  const attract = empty && !previewing && Date.now() - lastActivity > ATTRACT_AFTER_MS;
  $("attract").hidden = !attract;
  $("basket").hidden = attract;
}

function onView(body) {
  lastActivity = Date.now();
  if (body.topic === "session") {
    const previous = session;
    session = body.data;
    renderSession(previous);
  } else if (body.topic === "display" && (body.type === T_BASKET_VIEW || body.type === null)) {
    basket = body.data;
    renderBasket();
  }
  renderAttract();
}

async function act(action) {
  if (!session) return;
  for (const id of ["confirm", "decline"]) $(id).disabled = true;
  const data = { action, session_id: session.session_id, preview_id: session.preview_id };
  try {
    const response = await fetch("/actions", {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Screen-Token": TOKEN },
      body: JSON.stringify({ type: T_SESSION_COMMAND, data }),
    });
    if (!response.ok) {
      const refusal = await response.json().catch(() => ({ reason: String(response.status) }));
      $("refused").hidden = false;
      $("refused").textContent = msg("refused", { reason: refusal.reason });
      for (const id of ["confirm", "decline"]) $(id).disabled = false;
    }
  } catch (_err) {
    $("refused").hidden = false;
    $("refused").textContent = msg("action_failed");
    for (const id of ["confirm", "decline"]) $(id).disabled = false;
  }
}

function applyMessages() {
  for (const el of document.querySelectorAll("[data-msg]")) el.textContent = msg(el.dataset.msg);
}

function connect() {
  const stream = new EventSource("/events?token=" + encodeURIComponent(TOKEN));
  stream.addEventListener("view", (e) => onView(JSON.parse(e.data)));
  stream.addEventListener("link", (e) => { $("offline").hidden = JSON.parse(e.data).online; });
}

async function start() {
  try {
    messages = await (await fetch("/messages.json")).json();
  } catch (_err) {
    messages = {};
  }
  applyMessages();
  $("confirm").addEventListener("click", () => act("confirm_merge"));
  $("decline").addEventListener("click", () => act("decline_merge"));
  window.setInterval(renderAttract, 1000);
  connect();
  document.body.dataset.ready = "true";
}

start();
