// The kiosk's basket screen: renders the agent's view models (session state, basket view) from its live stream
// and posts the shopper's decisions as the ui topic's commands (screen.js carries what every page shares).
"use strict";

const ATTRACT_AFTER_MS = 1000 * Number(Screen.meta("screen-attract-after-s"));
const T_SESSION_COMMAND = "com.edgeagent.session.command.v1";
const T_BASKET_VIEW = "com.edgeagent.basket.view.v1";
const { $, msg, money, cell, announce } = Screen;

let session = null;
let basket = null;
let lastQty = null; // gtin14 -> qty, to announce each scan
let lastActivity = Date.now();

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

function renderBasket(announceScans = true) {
  const lines = basket ? basket.lines : [];
  $("empty").hidden = lines.length > 0;
  $("lines").hidden = lines.length === 0;
  renderLines($("lines").querySelector("tbody"), lines, true);
  $("total").textContent = basket && lines.length ? money(basket.total_minor, basket.currency) : "";
  $("as-of").textContent = basket && basket.priced_as_of
    ? msg("prices_as_of", { time: Screen.dateTime(basket.priced_as_of) }) : "";
  const qty = Object.fromEntries(lines.map((l) => [l.gtin14, l.qty]));
  if (lastQty !== null && announceScans) {
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
  Screen.showRefusal(session && session.refused ? msg("refused", { reason: session.refused }) : "");
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

async function sessionAction(action) {
  if (!session) return;
  for (const id of ["confirm", "decline"]) $(id).disabled = true;
  const data = { action, session_id: session.session_id, preview_id: session.preview_id };
  if (!(await Screen.act(T_SESSION_COMMAND, data))) {
    for (const id of ["confirm", "decline"]) $(id).disabled = false;
  }
}

Screen.start({
  onView,
  bind() {
    $("confirm").addEventListener("click", () => sessionAction("confirm_merge"));
    $("decline").addEventListener("click", () => sessionAction("decline_merge"));
    window.setInterval(renderAttract, 1000);
  },
  rerender() {
    renderBasket(false);
    renderSession(null);
  },
});
