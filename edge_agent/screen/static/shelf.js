// The shelf's price check: renders the shelf's last lookup (price, stock, other sizes, each with its as-of time,
// related items) and sends "report a wrong label" as the shelf's ui command, naming the item and price shown.
// Whether a report is taken is the agent's decision; its confirmation comes back in the lookup's view.
"use strict";

const T_LOOKUP = "com.edgeagent.display.lookup.v1";
const T_LABEL_REPORT = "com.edgeagent.shelf.label_report.v1";
const { $, msg, money, cell, announce } = Screen;

let lookup = null;

function asOf(key, when) {
  return when ? msg(key, { time: Screen.dateTime(when) }) : msg("shelf_no_time");
}

function stockText(stock) {
  return stock === null || stock === undefined ? msg("shelf_stock_unknown") : Screen.number(stock);
}

function nameOf(item) {
  return item.name || msg("shelf_unnamed");
}

function renderSizes(variants) {
  $("sizes").hidden = variants.length === 0;
  const body = $("size-table").querySelector("tbody");
  body.replaceChildren();
  for (const v of variants) {
    const row = body.insertRow();
    cell(row, v.size || "", false);
    cell(row, v.colour || "", false);
    cell(row, stockText(v.stock), true);
    cell(row, v.stock_as_of ? Screen.dateTime(v.stock_as_of) : msg("shelf_no_time"), true);
  }
}

function renderRelated(items) {
  $("related").hidden = items.length === 0;
  const body = $("related-table").querySelector("tbody");
  body.replaceChildren();
  for (const item of items) {
    const row = body.insertRow();
    cell(row, nameOf(item), false);
    cell(row, money(item.price_minor, item.currency), true);
  }
}

function render() {
  const found = Boolean(lookup && lookup.found);
  $("idle").hidden = lookup !== null;
  $("not-found").hidden = lookup === null || found;
  $("lookup").hidden = !found;
  if (!found) return;
  $("item-name").textContent = nameOf(lookup);
  $("item-variant").textContent = [lookup.size && msg("shelf_size", { size: lookup.size }), lookup.colour]
    .filter((part) => part).join(", ");
  $("price").textContent = money(lookup.price_minor, lookup.currency);
  $("price-as-of").textContent = lookup.price_minor === null ? "" : asOf("shelf_price_as_of", lookup.price_as_of);
  $("offline-price").hidden = !(lookup.offline && lookup.price_minor !== null);
  $("stock").textContent = stockText(lookup.stock);
  $("stock-as-of").textContent = asOf("shelf_stock_as_of", lookup.stock_as_of);
  renderSizes(lookup.variants);
  renderRelated(lookup.related_items || []);
  $("reported").hidden = !lookup.label_reported;
}

function onView(body) {
  if (body.topic === "session") Personal.session(body.data); // offers and consent of an identified shopper
  if (body.topic !== "display" || (body.type !== T_LOOKUP && body.type !== null)) return;
  const previous = lookup;
  lookup = body.data;
  Screen.showRefusal("");
  render();
  if (!lookup) return;
  if (previous && previous.gtin14 === lookup.gtin14 && lookup.label_reported && !previous.label_reported) {
    announce(msg("shelf_reported"));
  } else if (!lookup.found) {
    announce(msg("shelf_not_found"));
  } else {
    announce(msg("shelf_announce", { name: nameOf(lookup), price: money(lookup.price_minor, lookup.currency) }));
  }
}

async function reportLabel() {
  if (!lookup || !lookup.found) return;
  const button = $("report-label");
  button.disabled = true;
  await Screen.act(T_LABEL_REPORT, {
    gtin14: lookup.gtin14,
    shown_price_minor: lookup.price_minor,
    currency: lookup.currency,
  });
  button.disabled = false;
}

Screen.start({
  onView,
  bind() {
    $("report-label").addEventListener("click", reportLabel);
  },
  rerender() {
    render();
    Personal.rerender();
  },
});
