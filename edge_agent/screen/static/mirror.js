// The fitting-room mirror: renders the mirror's view model (garments in the room with the sizes and colours in
// stock here, where a size none here is elsewhere and its order's state, the assist requests and their answers)
// and sends the shopper's touches as the mirror's ui commands.
// No workflow here: what a request is and what state it is in comes from the agent's view.
"use strict";

const T_MIRROR_COMMAND = "com.edgeagent.mirror.command.v1";
const T_MIRROR_VIEW = "com.edgeagent.display.mirror.v1";
const { $, msg, announce } = Screen;

let room = null;
let lastStates = null; // request id -> state, to announce each change
let wasIdentified = false;

function words(reason) {
  const text = msg("reason_" + reason);
  return text === "reason_" + reason ? reason : text;
}

function describe(name, size, colour) {
  const parts = [name || msg("mirror_unnamed")];
  if (size) parts.push(msg("mirror_size", { size }));
  if (colour) parts.push(colour);
  return parts.join(", ");
}

// A request's garment, as the room's view names it (the garment itself, or one of its other sizes).
function target(request) {
  if (request.type === "help" || !request.target_gtin) return msg("mirror_help_item");
  for (const g of room ? room.garments : []) {
    if (g.gtin14 === request.target_gtin) return describe(g.name, g.size, g.colour);
    const v = g.in_store.find((x) => x.gtin14 === request.target_gtin);
    if (v) return describe(g.name, v.size, v.colour);
  }
  return describe(request.target_name, null, null);
}

function stateText(request) {
  const item = target(request);
  if (request.state === "unavailable") {
    return request.reason ? msg("mirror_state_unavailable_why", { item, reason: request.reason })
      : msg("mirror_state_unavailable", { item });
  }
  return msg("mirror_state_" + request.state, { item });
}

function oldest(times) {
  const known = times.filter((t) => t);
  return known.length ? known.reduce((a, b) => (new Date(a) < new Date(b) ? a : b)) : null;
}

function stockText(stock) {
  return stock === null || stock === undefined ? msg("mirror_stock_unknown") : Screen.number(stock);
}

// A size none here: where else it is with "order for delivery / pickup at X" (the kiosk's block and words), or the
// state of the verified shopper's order of it; the agent refuses the order without a shopper and says why.
function elsewhere(garment, gtin14) {
  const orders = room ? room.orders || {} : {};
  const line = { availability: (garment.elsewhere || {})[gtin14] || null, order: orders[gtin14] || null };
  return Screen.aisle(line, (fulfilment) => command({ action: "order_line", target_gtin: gtin14, fulfilment }));
}

function header(row, key) {
  const th = document.createElement("th");
  th.scope = "col";
  th.textContent = msg(key);
  row.appendChild(th);
}

function sizesTable(garment) {
  const table = document.createElement("table");
  table.id = "sizes-" + garment.gtin14;
  const caption = document.createElement("caption");
  caption.className = "visually-hidden";
  caption.textContent = msg("mirror_sizes_caption", { name: garment.name || msg("mirror_unnamed") });
  table.appendChild(caption);
  const head = document.createElement("tr");
  for (const key of ["mirror_col_size", "mirror_col_colour", "mirror_col_here", "mirror_col_ask"]) header(head, key);
  table.createTHead().appendChild(head);
  const body = table.createTBody();
  for (const v of garment.in_store) {
    const row = body.insertRow();
    Screen.cell(row, v.size || "", false);
    Screen.cell(row, v.colour || "", false);
    Screen.cell(row, stockText(v.stock), true);
    const ask = Screen.cell(row, "", true);
    if (v.stock === 0) {
      ask.textContent = msg("mirror_none_here");
      const there = elsewhere(garment, v.gtin14);
      if (there) ask.appendChild(there);
      continue;
    }
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = msg("mirror_bring");
    button.setAttribute("aria-label", msg("mirror_bring_label", { item: describe(garment.name, v.size, v.colour) }));
    button.dataset.gtin = v.gtin14;
    button.dataset.kind = v.size === garment.size && v.colour !== garment.colour ? "colour" : "size";
    ask.appendChild(button);
  }
  return table;
}

function garmentItem(garment) {
  const li = document.createElement("li");
  li.className = "garment";
  li.dataset.gtin = garment.gtin14;
  const title = document.createElement("h3");
  title.textContent = garment.name || msg("mirror_unnamed");
  const which = document.createElement("p");
  which.textContent = [garment.size && msg("mirror_size", { size: garment.size }), garment.colour]
    .filter((part) => part).join(", ");
  const here = document.createElement("p");
  here.className = "stock-here";
  here.textContent = msg("mirror_this_one_here", { count: stockText(garment.stock) });
  li.append(title, which, here);
  const there = garment.stock === 0 ? elsewhere(garment, garment.gtin14) : null;
  if (there) li.appendChild(there);
  if (garment.in_store.length) li.appendChild(sizesTable(garment));
  else {
    const none = document.createElement("p");
    none.textContent = msg("mirror_no_other_sizes");
    li.appendChild(none);
  }
  const asOf = oldest([garment.stock_as_of, ...garment.in_store.map((v) => v.stock_as_of)]);
  const note = document.createElement("p");
  note.className = "note as-of";
  note.textContent = asOf ? msg("mirror_stock_as_of", { time: Screen.dateTime(asOf) }) : msg("mirror_stock_no_time");
  li.appendChild(note);
  return li;
}

function requestItem(request, open) {
  const li = document.createElement("li");
  li.id = "request-" + request.request_id;
  li.dataset.state = request.state;
  li.className = request.state;
  const text = document.createElement("span");
  text.textContent = stateText(request);
  li.appendChild(text);
  if (open) {
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = msg("mirror_cancel");
    cancel.setAttribute("aria-label", msg("mirror_cancel_label", { item: target(request) }));
    cancel.dataset.request = request.request_id;
    li.appendChild(cancel);
  }
  return li;
}

function render(announceChanges) {
  const inUse = room !== null && room.state !== "vacant";
  const garments = room ? room.garments : [];
  $("vacant").hidden = inUse;
  $("garments").hidden = garments.length === 0;
  $("garment-list").replaceChildren(...garments.map(garmentItem));
  const open = room ? room.requests : [];
  const answered = room ? room.answered : [];
  $("assists").hidden = open.length + answered.length === 0;
  $("request-list").replaceChildren(...answered.map((r) => requestItem(r, false)), ...open.map((r) => requestItem(r, true)));
  $("save").hidden = garments.length === 0;
  $("saved").hidden = !(room && room.identified);
  $("save-hint").hidden = Boolean(room && room.identified);
  $("room-actions").hidden = !inUse;
  Screen.showRefusal(room && room.refused ? msg("refused", { reason: words(room.refused) }) : "");
  const states = Object.fromEntries([...answered, ...open].map((r) => [r.request_id, r.state]));
  if (announceChanges && lastStates !== null) {
    const changed = [...answered, ...open].filter((r) => lastStates[r.request_id] !== r.state).map(stateText);
    if (room && room.identified && !wasIdentified) changed.push(msg("mirror_saved"));
    if (changed.length) announce(changed.join(" "));
  }
  lastStates = states;
  wasIdentified = Boolean(room && room.identified);
}

function onView(body) {
  if (body.topic === "session") Personal.session(body.data); // offers and consent of an identified shopper
  if (body.topic !== "display" || (body.type !== T_MIRROR_VIEW && body.type !== null)) return;
  const previous = room;
  room = body.data;
  Personal.related(room ? room.related : []);
  render(true);
  if (previous && previous.state !== "vacant" && room && room.state === "vacant") announce(msg("mirror_left"));
}

function command(data) {
  return Screen.act(T_MIRROR_COMMAND, data);
}

Screen.start({
  onView,
  bind() {
    $("garment-list").addEventListener("click", (e) => {
      const button = e.target.closest("button[data-gtin]");
      if (button) command({ action: "request_assist", type: button.dataset.kind, target_gtin: button.dataset.gtin });
    });
    $("request-list").addEventListener("click", (e) => {
      const button = e.target.closest("button[data-request]");
      if (button) command({ action: "cancel_assist", request_id: button.dataset.request });
    });
    $("help").addEventListener("click", () => command({ action: "request_assist", type: "help" }));
    $("leave").addEventListener("click", () => command({ action: "vacate" }));
  },
  rerender() {
    render(false);
    Personal.rerender();
  },
});
