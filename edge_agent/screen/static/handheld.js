// The associate handheld's screen: the tote, the pick list and customer pickup, rendered from the agent's retained
// views (ToteView on "display", PickView on "picking") and sending the ui topic's tote and pick commands. Every
// decision is the desk's: the page only shows the view and says what the associate pressed.
"use strict";

const T_TOTE_COMMAND = "com.edgeagent.tote.command.v1";
const T_TOTE_VIEW = "com.edgeagent.display.tote.v1";
const T_PICK_COMMAND = "com.edgeagent.pick.command.v1";
const T_PICK_VIEW = "com.edgeagent.display.pick.v1";
const ASSOCIATE_KEY = "edge-agent.handheld.associate"; // the associate's id stays on this device's browser
const UNAVAILABLE_REASON = "out_of_stock"; // the only reason a line is not on the shelf at collection time
const PANELS = ["tote", "pick", "pickup"];
const OPEN_TOTE = new Set(["draft", "customer_attached", "shared"]);
const PICKUP_STATES = new Set(["ready_for_pickup", "customer_arrived", "verified", "handed_over", "completed", "no_show"]);
const { $, msg, cell, announce } = Screen;

let tote = null; // the latest ToteView
let picks = null; // the latest PickView
let refusedTopic = null; // which view's refusal is on screen
let seenTote = null; // {id, state, lines} of the last rendered tote, to announce what changed
let seenPick = null; // {id, state, picked: {line_id: n}} likewise for the order in hand
let chosenPickup = null; // a waiting order the associate chose to serve while another is in hand
let pickupId = null; // the order the pickup section acts on
let seenPickup = null; // {id, state} of the order at the counter, to announce each step

// --- words -------------------------------------------------------------------------------------------------
function words(prefix, code) {
  const key = prefix + code;
  const text = msg(key);
  return text === key ? code : text;
}

function reasonWords(reason, detail) {
  const text = words("reason_", reason);
  return text === reason && detail ? detail : text;
}

function element(tag, text, className) {
  const el = document.createElement(tag);
  if (text !== undefined) el.textContent = text;
  if (className) el.className = className;
  return el;
}

function button(text, onClick, primary) {
  const b = element("button", text, primary ? "primary" : "");
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

// A product as associates read it: its catalog name with the code beneath (the code alone when the cache lacks it).
function itemCell(row, name, code) {
  const td = cell(row, name || code, false);
  if (name) td.appendChild(element("span", code, "code"));
  else td.className = "code";
  return td;
}

function itemWords(line) {
  return line.name || line.gtin14;
}

function show(id, visible) {
  $(id).hidden = !visible;
}

// --- commands ----------------------------------------------------------------------------------------------
function associate() {
  const who = $("associate").value.trim();
  if (!who) {
    Screen.showRefusal(msg("associate_required"));
    $("associate").focus();
    return null;
  }
  window.localStorage.setItem(ASSOCIATE_KEY, who);
  return who;
}

async function toteAct(action, extra = {}) {
  const who = associate();
  if (!who) return false;
  const data = { action, associate: who, ...extra };
  if (tote && tote.tote_id && !("tote_id" in data)) data.tote_id = tote.tote_id;
  return Screen.act(T_TOTE_COMMAND, data);
}

async function pickAct(action, orderId, extra = {}) {
  const who = associate();
  if (!who) return false;
  return Screen.act(T_PICK_COMMAND, { action, associate: who, order_id: orderId, ...extra });
}

// --- the tote ----------------------------------------------------------------------------------------------
function renderTote() {
  const t = tote || { tote_id: null, state: null, lines: [], parked: [], customer_attached: false };
  const open = t.tote_id !== null;
  const state = t.state || "";
  show("tote-none", !open);
  $("tote-state").textContent = open ? msg("tote_state", { state: words("tote_state_", state) }) : "";
  $("tote-customer").textContent = !open ? "" : msg(t.customer_attached ? "tote_customer_attached" : "tote_customer_hint");
  show("tote-lines", t.lines.length > 0);
  const tbody = $("tote-lines").querySelector("tbody");
  tbody.replaceChildren();
  for (const line of t.lines) {
    const row = document.createElement("tr");
    row.dataset.line = line.line_id;
    const item = itemCell(row, line.name, line.gtin14);
    const orderable = OPEN_TOTE.has(state) && line.fulfilment === "carry_out";
    const aisle = Screen.aisle(orderable || line.order ? line : { ...line, availability: null },
      (fulfilment) => toteAct("order_line", { gtin14: line.gtin14, qty: line.qty, fulfilment }));
    if (aisle) item.appendChild(aisle);
    cell(row, Screen.number(line.qty), true);
    cell(row, words("line_state_", line.state), false);
    const actions = cell(row, "", false);
    if (OPEN_TOTE.has(state)) {
      actions.appendChild(button(msg("line_remove"), () => toteAct("remove_line", { line_id: line.line_id })));
    } else if (state === "collecting" && line.state === "requested") {
      actions.appendChild(button(msg("line_collected"), () => toteAct("line_collected", { line_id: line.line_id }), true));
      actions.appendChild(button(msg("line_unavailable"),
        () => toteAct("line_unavailable", { line_id: line.line_id, reason: UNAVAILABLE_REASON })));
    }
    tbody.appendChild(row);
  }
  show("tote-open", !open); // a parked or finished tote is put away by the desk: the next one may open
  show("tote-park", OPEN_TOTE.has(state));
  show("tote-submit", OPEN_TOTE.has(state) && t.lines.length > 0);
  show("tote-handoff", state === "submitted");
  show("tote-payment-link", state === "submitted");
  show("tote-collect", state === "paid");
  show("tote-ready", state === "collecting");
  show("tote-handed", state === "ready_at_counter");
  show("tote-cancel", OPEN_TOTE.has(state) || state === "submitted");
  const parked = $("parked-list");
  parked.replaceChildren();
  for (const id of t.parked || []) {
    const item = element("li");
    item.dataset.tote = id;
    item.appendChild(element("span", msg("parked_tote", { id }), "code"));
    item.appendChild(button(msg("tote_resume"), () => toteAct("resume", { tote_id: id }), true));
    parked.appendChild(item);
  }
  show("parked", (t.parked || []).length > 0);
  announceTote(t);
}

function announceTote(t) {
  const now = { id: t.tote_id, state: t.state, lines: t.lines.reduce((n, l) => n + l.qty, 0) };
  if (seenTote && now.id && now.id === seenTote.id && now.lines > seenTote.lines) {
    const last = t.lines[t.lines.length - 1];
    announce(msg("announce_tote_added", { code: last ? itemWords(last) : "", count: Screen.number(now.lines) }));
  } else if (seenTote && now.state !== seenTote.state && now.state) {
    announce(msg("tote_state", { state: words("tote_state_", now.state) }));
  } else if (seenTote && seenTote.id && !now.id) {
    announce(msg("announce_tote_put_away"));
  }
  seenTote = now;
}

// --- the pick list -----------------------------------------------------------------------------------------
function summaryText(s) {
  const text = msg("order_summary", { id: s.order_id, lines: Screen.number(s.lines), units: Screen.number(s.units) });
  return s.deadline ? `${text} ${msg("order_due", { time: Screen.dateTime(s.deadline) })}` : text;
}

function renderAvailable(available) {
  const list = $("available-list");
  list.replaceChildren();
  for (const s of available) {
    const item = element("li");
    item.dataset.order = s.order_id;
    item.appendChild(element("span", summaryText(s)));
    item.appendChild(button(msg("pick_claim"), () => pickAct("accept", s.order_id), true));
    list.appendChild(item);
  }
  show("available-none", available.length === 0);
}

function lineActions(order, line, actions) {
  if (order.state !== "picking" || line.state !== "open") return;
  actions.appendChild(button(msg("line_short"), () => pickAct("short", order.order_id,
    { line_id: line.line_id, qty: line.remaining, reason: $("short-reason").value })));
  actions.appendChild(button(msg("line_substitute"), () => {
    const toGtin = $("substitute").value.trim();
    if (!toGtin) {
      Screen.showRefusal(msg("substitute_required"));
      $("substitute").focus();
      return;
    }
    pickAct("propose_substitution", order.order_id, { line_id: line.line_id, to_gtin: toGtin });
  }));
}

function renderReasons(order) {
  const select = $("short-reason");
  const wanted = (order.short_reasons || []).join(",");
  if (select.dataset.reasons === wanted && select.dataset.locale === Screen.locale) return;
  const chosen = select.value;
  select.replaceChildren();
  for (const reason of order.short_reasons || []) {
    const option = element("option", words("short_reason_", reason));
    option.value = reason;
    select.appendChild(option);
  }
  if (chosen) select.value = chosen;
  select.dataset.reasons = wanted;
  select.dataset.locale = Screen.locale;
}

function renderOrder(order) {
  const inHand = order !== null && !PICKUP_STATES.has(order.state);
  show("order", inHand);
  if (!inHand) return;
  $("order-title").textContent = msg("order_title", { id: order.order_id });
  const claim = order.claim === "won" ? "" : ` ${msg("claim_" + order.claim)}`;
  $("order-state").textContent = msg("pick_state", { state: words("pick_state_", order.state) }) + claim;
  $("order-expected").textContent = order.state === "picking" && order.expected.length
    ? msg("order_expected", { items: order.expected.join(", ") }) : "";
  renderReasons(order);
  const tbody = $("pick-lines").querySelector("tbody");
  tbody.replaceChildren();
  for (const line of order.lines) {
    const row = document.createElement("tr");
    row.dataset.line = line.line_id;
    const code = line.substitute_gtin ? `${line.gtin14} → ${line.substitute_gtin}` : line.gtin14;
    itemCell(row, line.name, code);
    cell(row, msg("picked_of", { picked: Screen.number(line.picked), qty: Screen.number(line.qty) }), true);
    const state = line.substitution ? words("substitution_", line.substitution) : words("pick_line_", line.state);
    cell(row, line.short ? `${state} (${words("short_reason_", line.short_reason || "")})` : state, false);
    lineActions(order, line, cell(row, "", false));
    tbody.appendChild(row);
  }
  show("pick-start", order.state === "accepted" && order.claim !== "lost");
  show("pick-complete", order.state === "picking");
  show("stage-form", order.state === "picked");
}

function announcePick(order) {
  if (!order) {
    seenPick = null;
    return;
  }
  const picked = Object.fromEntries(order.lines.map((l) => [l.line_id, l.picked]));
  if (seenPick && seenPick.id === order.order_id) {
    for (const line of order.lines) {
      if (line.picked > (seenPick.picked[line.line_id] || 0)) {
        announce(msg("announce_picked", { code: itemWords(line), picked: line.picked, qty: line.qty }));
      }
    }
    if (seenPick.state !== order.state) announce(msg("pick_state", { state: words("pick_state_", order.state) }));
  }
  seenPick = { id: order.order_id, state: order.state, picked };
}

// --- customer pickup ---------------------------------------------------------------------------------------
// The order at the counter: the one in hand when it is a pickup, else the waiting order the associate chose.
function pickupOrder(current, awaiting) {
  if (current !== null && PICKUP_STATES.has(current.state)) return current;
  return awaiting.find((s) => s.order_id === chosenPickup) || null;
}

function renderPickup(current, awaiting) {
  const order = pickupOrder(current, awaiting);
  pickupId = order ? order.order_id : null;
  show("pickup-order", order !== null);
  show("pickup-none", order === null && awaiting.length === 0);
  if (order) {
    $("pickup-order-title").textContent = msg("order_title", { id: order.order_id });
    $("pickup-state").textContent = msg("pick_state", { state: words("pick_state_", order.state) });
    $("pickup-location").textContent = order.location ? msg("pickup_location", { location: order.location }) : "";
    $("pickup-verified").textContent = order.verified_by ? msg("verified_by_" + order.verified_by) : "";
    show("checkin-form", order.state === "ready_for_pickup");
    show("verify-form", order.state === "customer_arrived");
    show("pickup-hand-over", order.state === "verified");
    if (order.state !== "customer_arrived") $("order-code").value = "";
  }
  if (order && seenPickup && seenPickup.id === order.order_id && seenPickup.state !== order.state) {
    announce(msg("pick_state", { state: words("pick_state_", order.state) }));
  }
  seenPickup = order ? { id: order.order_id, state: order.state } : null;
  const list = $("awaiting-list");
  list.replaceChildren();
  const others = awaiting.filter((s) => s.order_id !== pickupId);
  for (const s of others) {
    const item = element("li");
    item.dataset.order = s.order_id;
    const state = s.state ? ` (${words("pick_state_", s.state)})` : "";
    item.appendChild(element("span", msg("order_title", { id: s.order_id }) + state));
    item.appendChild(button(msg("pickup_serve"), () => {
      chosenPickup = s.order_id;
      renderPicks();
      $("pickup-order-title").focus();
    }, true));
    list.appendChild(item);
  }
  show("awaiting", others.length > 0);
}

function renderPicks() {
  const view = picks || { available: [], awaiting_pickup: [], current: null };
  renderAvailable(view.available);
  renderOrder(view.current);
  renderPickup(view.current, view.awaiting_pickup || []);
  announcePick(view.current);
}

function currentOrderId() {
  return picks && picks.current ? picks.current.order_id : null;
}

// --- the page ----------------------------------------------------------------------------------------------
function renderRefusal(topic, view) {
  if (view && view.refused) {
    refusedTopic = topic;
    Screen.showRefusal(msg("refused", { reason: reasonWords(view.refused, view.detail) }));
  } else if (refusedTopic === topic) {
    refusedTopic = null;
    Screen.showRefusal("");
  }
}

function onView(body) {
  if (body.topic === "display" && (body.type === T_TOTE_VIEW || body.type === null)) {
    tote = body.data;
    renderTote();
    Personal.related(tote ? tote.related : []); // the catalog's suggestions for the line added last
    renderRefusal("display", tote);
  } else if (body.topic === "picking" && (body.type === T_PICK_VIEW || body.type === null)) {
    picks = body.data;
    renderPicks();
    renderRefusal("picking", picks);
  }
}

function choose(panel) {
  for (const name of PANELS) {
    $(name).hidden = name !== panel;
    $("tab-" + name).setAttribute("aria-pressed", String(name === panel));
  }
}

function bind() {
  $("associate").value = window.localStorage.getItem(ASSOCIATE_KEY) || "";
  for (const name of PANELS) $("tab-" + name).addEventListener("click", () => choose(name));
  $("tote-open").addEventListener("click", () => toteAct("open", { tote_id: undefined }));
  $("tote-park").addEventListener("click", () => toteAct("park"));
  $("tote-submit").addEventListener("click", () => toteAct("submit"));
  $("tote-handoff").addEventListener("click", () => toteAct("handoff_to_pos"));
  $("tote-payment-link").addEventListener("click", () => toteAct("payment_link"));
  $("tote-collect").addEventListener("click", () => toteAct("start_collecting"));
  $("tote-ready").addEventListener("click", () => toteAct("ready"));
  $("tote-handed").addEventListener("click", () => toteAct("handed_over"));
  $("tote-cancel").addEventListener("click", () => toteAct("cancel"));
  $("pick-start").addEventListener("click", () => pickAct("start", currentOrderId()));
  $("pick-complete").addEventListener("click", () => pickAct("complete", currentOrderId()));
  $("pick-stage").addEventListener("click", () => {
    const totes = $("stage-totes").value.split(",").map((x) => x.trim()).filter(Boolean);
    pickAct("stage", currentOrderId(), { location: $("stage-location").value.trim(), tote_ids: totes });
  });
  $("pickup-checkin").addEventListener("click", () => pickAct("check_in", pickupId, { mode: $("checkin-mode").value }));
  $("verify-code").addEventListener("click", () => {
    const code = $("order-code").value.trim();
    if (!code) {
      Screen.showRefusal(msg("reason_order_code_required"));
      $("order-code").focus();
      return;
    }
    pickAct("verify", pickupId, { verified_by: "order_code", order_code: code });
  });
  $("verify-id").addEventListener("click", () => pickAct("verify", pickupId, { verified_by: "id_document" }));
  $("pickup-hand-over").addEventListener("click", () => pickAct("hand_over", pickupId));
  renderTote();
  renderPicks();
}

Screen.start({
  onView,
  bind,
  rerender() {
    renderTote();
    Personal.rerender();
    renderPicks();
    renderRefusal("display", tote);
    renderRefusal("picking", picks);
  },
});
