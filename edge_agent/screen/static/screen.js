// What every role's page shares: the page token, the message catalogue, locale formatting, the live stream of
// view models and posting actions to the ui topic's route table. Plain JavaScript, no build step, no dependency.
// A page script calls Screen.start({onView, onLink, bind}); everything it shows comes from the agent's views.
"use strict";

const Screen = (() => {
  const meta = (name) => document.querySelector(`meta[name="${name}"]`).content;
  const TOKEN = meta("screen-token");
  let locale = document.documentElement.lang || "en";
  let messages = {};

  const $ = (id) => document.getElementById(id);

  function msg(key, args = {}) {
    const text = key in messages ? messages[key] : key;
    return text.replace(/\{(\w+)\}/g, (_, name) => (name in args ? String(args[name]) : ""));
  }

  // Prices, numbers and dates by the browser's Intl (ICU's CLDR data): never a hand-made format.
  function money(minor, currency) {
    if (minor === null || minor === undefined || !currency) return msg("price_at_checkout");
    const format = new Intl.NumberFormat(locale, { style: "currency", currency });
    const digits = format.resolvedOptions().maximumFractionDigits;
    return format.format(minor / 10 ** digits);
  }

  function number(value) {
    return new Intl.NumberFormat(locale).format(value);
  }

  function dateTime(value) {
    if (value === null || value === undefined) return "";
    const when = typeof value === "number" ? new Date(value * 1000) : new Date(value);
    return new Intl.DateTimeFormat(locale, { dateStyle: "short", timeStyle: "short" }).format(when);
  }

  function cell(row, text, numeric) {
    const td = document.createElement("td");
    td.textContent = text;
    if (numeric) td.className = "num";
    row.appendChild(td);
    return td;
  }

  function announce(text) {
    const live = $("live");
    if (!live) return;
    live.textContent = "";
    window.setTimeout(() => { live.textContent = text; }, 50); // a change the screen reader notices
  }

  function showRefusal(text) {
    const refused = $("refused");
    if (!refused) return;
    refused.hidden = !text;
    refused.textContent = text || "";
  }

  // One command of the ui topic (type + data), to the same route table MQTT reaches. Resolves true when taken.
  async function act(type, data) {
    try {
      const response = await fetch("/actions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Screen-Token": TOKEN },
        body: JSON.stringify({ type, data }),
      });
      if (response.ok) {
        showRefusal("");
        return true;
      }
      const refusal = await response.json().catch(() => ({ reason: String(response.status) }));
      const words = msg("reason_" + refusal.reason);
      showRefusal(msg("refused", { reason: words === "reason_" + refusal.reason ? refusal.reason : words }));
    } catch (_err) {
      showRefusal(msg("action_failed"));
    }
    return false;
  }

  function applyMessages() {
    for (const el of document.querySelectorAll("[data-msg]")) el.textContent = msg(el.dataset.msg);
    for (const el of document.querySelectorAll("[data-msg-label]")) el.setAttribute("aria-label", msg(el.dataset.msgLabel));
  }

  async function loadMessages(wanted) {
    try {
      const response = await fetch("/messages.json?locale=" + encodeURIComponent(wanted));
      if (!response.ok) return false;
      messages = await response.json();
    } catch (_err) {
      return false;
    }
    locale = wanted;
    document.documentElement.lang = wanted;
    applyMessages();
    return true;
  }

  // When each view reached the screen, on the wall clock (performance.timeOrigin + now(), in ms): "rendered" once
  // the page's onView has updated the DOM, "frame" at the start of the next frame (bench/bench_screen.py reads
  // these). A bounded ring: a screen left on for days keeps only the latest.
  const VIEW_TIMES_KEPT = 1024;
  const viewTimes = [];
  const wallNow = () => performance.timeOrigin + performance.now();

  function timed(e, body, render) {
    const received = wallNow();
    render(body);
    const entry = { seq: Number(e.lastEventId), topic: body.topic, received, rendered: wallNow(), frame: null };
    viewTimes.push(entry);
    if (viewTimes.length > VIEW_TIMES_KEPT) viewTimes.shift();
    window.requestAnimationFrame(() => { entry.frame = wallNow(); });
  }

  function connect(onView, onLink) {
    const stream = new EventSource("/events?token=" + encodeURIComponent(TOKEN));
    stream.addEventListener("view", (e) => timed(e, JSON.parse(e.data), onView));
    // After the link and every current view: from here the page shows what the device shows (tests wait for it).
    stream.addEventListener("synced", () => { document.body.dataset.live = "true"; });
    stream.addEventListener("link", (e) => {
      const online = JSON.parse(e.data).online;
      const banner = $("offline");
      if (banner) banner.hidden = online;
      if (onLink) onLink(online);
    });
  }

  async function start({ onView, onLink, bind, rerender }) {
    await loadMessages(locale);
    if (bind) bind();
    const chooser = $("locale");
    if (chooser) {
      chooser.value = locale;
      chooser.addEventListener("change", async () => {
        if (await loadMessages(chooser.value) && rerender) rerender();
      });
    }
    connect(onView, onLink);
    document.body.dataset.ready = "true";
  }

  // --- endless aisle: where else an item out of stock here is, and an ordered line's state -----------------
  function aisleHow(fulfilment) {
    if (fulfilment === "ship") return msg("aisle_how_ship");
    return msg("aisle_how_pickup", { store: fulfilment.replace(/^pickup@/, "") });
  }

  function aisleReason(code) {
    const words = {
      not_available: msg("aisle_reason_not_available"),
      unknown_store: msg("aisle_reason_unknown_store"),
      same_store: msg("aisle_reason_same_store"),
      unknown_item: msg("aisle_reason_unknown_item"),
      no_line: msg("aisle_reason_no_line"),
    };
    return words[code] || code || "";
  }

  function aisleOrderText(order) {
    const how = aisleHow(order.fulfilment);
    if (order.state === "confirmed") return msg("aisle_confirmed", { how, ref: order.order_ref || "" });
    if (order.state === "refused") return msg("aisle_refused", { how, reason: aisleReason(order.reason) });
    return msg(order.offline ? "aisle_requested_offline" : "aisle_requested", { how });
  }

  // A block under the item's name: the order's state, or (none here) where else it is with "order" buttons.
  // order(fulfilment) sends the role's command; at most two stores are offered, the ones holding the most.
  function aisle(line, order) {
    const box = document.createElement("div");
    box.className = "aisle";
    if (line.order) {
      box.textContent = aisleOrderText(line.order);
      box.dataset.order = line.order.state;
      return box;
    }
    const a = line.availability;
    if (!a) return null;
    const stores = (a.stores || []).filter((s) => s.qty > 0).sort((x, y) => y.qty - x.qty).slice(0, 2);
    const online = a.online ? a.online.qty : 0;
    const parts = stores.map((s) => msg("aisle_store", { store: s.store, qty: number(s.qty) }));
    box.textContent = msg("aisle_elsewhere", { online: number(online), stores: parts.join(", ") || "–" });
    const offer = (text, fulfilment) => {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "line-action aisle-order";
      b.dataset.action = fulfilment;
      b.textContent = text;
      b.addEventListener("click", () => order(fulfilment));
      box.appendChild(b);
    };
    if (online > 0) offer(msg("aisle_ship"), "ship");
    for (const s of stores) offer(msg("aisle_pickup", { store: s.store }), `pickup@${s.store}`);
    return box;
  }

  return {
    $, msg, money, number, dateTime, cell, announce, act, showRefusal, start, meta, wallNow, aisle,
    get locale() { return locale; },
    viewTimes: () => viewTimes.slice(),
  };
})();
