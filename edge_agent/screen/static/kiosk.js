// The kiosk's basket screen: renders the agent's view models (session state, basket view) from its live stream
// and posts the shopper's decisions as the ui topic's commands (screen.js carries what every page shares).
// No workflow here: quantities, refusals, checkout and its till code all come from the views.
"use strict";

const ATTRACT_AFTER_MS = 1000 * Number(Screen.meta("screen-attract-after-s"));
const T_SESSION_COMMAND = "com.edgeagent.session.command.v1";
const T_BASKET_COMMAND = "com.edgeagent.basket.command.v1";
const T_BASKET_VIEW = "com.edgeagent.basket.view.v1";
const HIGHLIGHT_MS = 1000; // a changed line stands out this long: long enough to find, short enough for the next scan
const TONE_OK_HZ = 880; // a short high tone: saved
const TONE_REFUSED_HZ = 220; // a low one: refused (a different pitch, so it is not only the screen that tells)
const TONE_S = 0.12; // a blip, not a tune: a store is full of them
const TONE_GAIN = 0.1; // quiet: the shopper is close to the speaker
const { $, msg, money, cell, announce } = Screen;

let session = null;
let basket = null;
let online = true;
let lastQty = null; // gtin14 -> qty, to give feedback for each change
let lastRefusalAt = null; // the basket refusal already told
let flashUntil = {}; // gtin14 -> time its highlight ends
let sessionRefusal = "";
let basketRefusal = "";
let lastActivity = Date.now();
let audio = null;
const removing = new Set(); // lines the shopper asked to remove, to announce when the view drops them

function tone(hz) {
  // WebAudio, no audio file; a browser that refuses sound (no gesture yet, no device) stays quiet.
  try {
    audio = audio || new AudioContext();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = hz;
    gain.gain.value = TONE_GAIN;
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + TONE_S);
  } catch (_err) {
    audio = null;
  }
}

function nameOf(line) {
  return line.name || msg("unknown_item", { code: line.gtin14 });
}

function lineButton(text, label, onClick, disabled) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "line-action";
  button.textContent = text;
  button.setAttribute("aria-label", label);
  button.disabled = disabled;
  button.addEventListener("click", onClick);
  return button;
}

function lineActions(row, line) {
  const td = document.createElement("td");
  td.className = "line-actions";
  const name = nameOf(line);
  const fewer = lineButton("−", msg("fewer", { name }), () => lineCommand("set_quantity", line, line.qty - 1), line.qty <= 1);
  fewer.dataset.action = "fewer";
  const more = lineButton("+", msg("more", { name }), () => lineCommand("set_quantity", line, line.qty + 1), false);
  more.dataset.action = "more";
  const remove = lineButton(msg("remove"), msg("remove_item", { name }), () => lineCommand("remove", line), false);
  remove.dataset.action = "remove";
  td.append(fewer, more, remove);
  row.appendChild(td);
}

function focusedLineButton(tbody) {
  const active = document.activeElement;
  if (!active || !tbody.contains(active) || !active.dataset.action) return null;
  return { gtin: active.closest("tr").dataset.gtin, action: active.dataset.action };
}

function refocus(tbody, focused) {
  // Rows are rebuilt on every view: a keyboard or switch user stays on the button they pressed (WCAG 2.4.3).
  if (!focused) return;
  const row = tbody.querySelector(`tr[data-gtin="${focused.gtin}"]`);
  const buttons = row ? Array.from(row.querySelectorAll("button:not([disabled])")) : [];
  const same = buttons.find((b) => b.dataset.action === focused.action);
  const target = same || buttons[0] || (row ? null : $("checkout"));
  if (target && !target.disabled) target.focus();
  else $("basket-title").focus();
}

function renderLines(tbody, lines, withPrice) {
  const focused = withPrice ? focusedLineButton(tbody) : null;
  tbody.replaceChildren();
  const now = Date.now();
  for (const line of lines) {
    const row = document.createElement("tr");
    row.dataset.gtin = line.gtin14;
    const name = cell(row, nameOf(line), false);
    cell(row, String(line.qty), true);
    if (withPrice) {
      const aisle = Screen.aisle(line, (fulfilment) => lineCommand("order", line, undefined, fulfilment));
      if (aisle) name.appendChild(aisle);
      cell(row, money(line.line_total_minor, line.currency), true);
      lineActions(row, line);
      if ((flashUntil[line.gtin14] || 0) > now) row.classList.add("changed");
    }
    tbody.appendChild(row);
  }
  refocus(tbody, focused);
}

function feedback(lines) {
  // Every committed change of a line: highlighted, a tone, announced.
  const qty = Object.fromEntries(lines.map((l) => [l.gtin14, l.qty]));
  if (lastQty !== null) {
    for (const line of lines) {
      const before = lastQty[line.gtin14] || 0;
      if (line.qty === before) continue;
      flashUntil[line.gtin14] = Date.now() + HIGHLIGHT_MS;
      window.setTimeout(unflash, HIGHLIGHT_MS);
      document.body.dataset.lastChanged = line.gtin14;
      if (line.qty > before) {
        tone(TONE_OK_HZ);
        announce(msg("announce_added", { name: nameOf(line), count: basket.items }));
      } else {
        announce(msg("announce_quantity", { name: nameOf(line), qty: line.qty, count: basket.items }));
      }
    }
    for (const gtin of Object.keys(lastQty)) {
      // Only the shopper's own Remove is announced: a basket emptied by checkout or a session's end says so itself.
      if (!(gtin in qty) && removing.delete(gtin)) announce(msg("announce_removed", { count: basket.items }));
    }
  }
  lastQty = qty;
}

function unflash() {
  const now = Date.now();
  for (const row of $("lines").querySelectorAll("tr.changed")) {
    if ((flashUntil[row.dataset.gtin] || 0) <= now) row.classList.remove("changed");
  }
}

const REASON_KEY = "reason_"; // + a reason code: that refusal in plain words (every reason has one)

function refusalWords(code) {
  const key = REASON_KEY + code;
  const words = msg(key);
  return words === key ? msg("reason_unknown") : words;
}

function showRefusals() {
  Screen.showRefusal(sessionRefusal || basketRefusal);
}

function renderRefusal(announceIt) {
  const refused = basket ? basket.refused : null;
  basketRefusal = refused ? refusalWords(refused.reason) : "";
  if (refused && refused.at !== lastRefusalAt && announceIt) tone(TONE_REFUSED_HZ);
  lastRefusalAt = refused ? refused.at : null;
  showRefusals();
}

function renderBasket(announceScans = true) {
  const lines = basket ? basket.lines : [];
  $("empty").hidden = lines.length > 0;
  $("lines").hidden = lines.length === 0;
  if (announceScans) feedback(lines);
  renderLines($("lines").querySelector("tbody"), lines, true);
  $("total").textContent = basket && lines.length ? money(basket.total_minor, basket.currency) : "";
  $("total").parentElement.hidden = lines.length === 0;
  $("as-of").textContent = basket && basket.priced_as_of
    ? msg("prices_as_of", { time: Screen.dateTime(basket.priced_as_of) }) : "";
  renderPriceNote();
  renderRefusal(announceScans);
  renderPaying();
  $("checkout").disabled = lines.length === 0;
  renderMerge();
}

function renderPriceNote() {
  const lines = basket ? basket.lines : [];
  $("price-note").hidden = !(lines.length > 0 && (!online || (basket && basket.prices_stale)));
}

// EAN-13 as bars (the till code is one): start, six left digits in L/G by the first digit, centre, six right
// digits in R, end. Only drawing; the code and its check digit come from the view.
const EAN_L = ["0001101", "0011001", "0010011", "0111101", "0100011", "0110001", "0101111", "0111011", "0110111", "0001011"];
const EAN_PARITY = ["LLLLLL", "LLGLGG", "LLGGLG", "LLGGGL", "LGLLGG", "LGGLLG", "LGGGLL", "LGLGLG", "LGLGGL", "LGGLGL"];
const EAN_QUIET = 11; // modules of white each side: what scanners need to find the code's edges
const EAN_HEIGHT = 60; // modules tall: a barcode a till's scanner reads at a glance

function eanModules(code) {
  const invert = (bits) => bits.replace(/./g, (b) => (b === "0" ? "1" : "0"));
  const digits = code.split("").map(Number);
  let bits = "101";
  digits.slice(1, 7).forEach((d, i) => {
    const l = EAN_L[d];
    bits += EAN_PARITY[digits[0]][i] === "L" ? l : invert(l).split("").reverse().join("");
  });
  bits += "01010";
  for (const d of digits.slice(7)) bits += invert(EAN_L[d]);
  return bits + "101";
}

function drawBarcode(svg, code) {
  const NS = "http://www.w3.org/2000/svg";
  svg.replaceChildren();
  const bits = eanModules(code);
  const width = bits.length + 2 * EAN_QUIET;
  svg.setAttribute("viewBox", `0 0 ${width} ${EAN_HEIGHT}`);
  const background = document.createElementNS(NS, "rect");
  for (const [k, v] of [["width", width], ["height", EAN_HEIGHT], ["class", "paper"]]) background.setAttribute(k, v);
  svg.appendChild(background);
  for (let i = 0; i < bits.length; i++) {
    if (bits[i] !== "1") continue;
    let run = 1;
    while (bits[i + run] === "1") run++;
    const bar = document.createElementNS(NS, "rect");
    for (const [k, v] of [["x", EAN_QUIET + i], ["width", run], ["height", EAN_HEIGHT], ["class", "bar"]]) bar.setAttribute(k, v);
    svg.appendChild(bar);
    i += run - 1;
  }
}

function renderPaying() {
  const checkout = basket ? basket.checkout : null;
  const appearing = Boolean(checkout) && $("paying").hidden;
  $("paying").hidden = !checkout;
  if (appearing) $("paying-title").focus(); // the Checkout button is gone: the code is what comes next
  $("basket").classList.toggle("checked-out", Boolean(checkout)); // asked once: the code is on the screen
  if (!checkout) return;
  const sealed = checkout.state === "sealed";
  $("paying-title").textContent = msg(sealed ? "thank_you" : "pay_at_till_title");
  $("paying-explain").textContent = checkout.till_code
    ? msg(sealed ? "thank_you_till" : "pay_at_till_explain") : msg("thank_you_done");
  const code = checkout.till_code;
  $("till-barcode").toggleAttribute("hidden", !code); // an SVG element has no hidden property
  $("till-digits").textContent = code ? code.replace(/^(\d)(\d{6})(\d{6})$/, "$1 $2 $3") : "";
  if (code) drawBarcode($("till-barcode"), code);
  $("pay-in-app").hidden = !checkout.pay_in_app;
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
  sessionRefusal = session && session.refused ? refusalWords(session.refused) : "";
  showRefusals();
  if (previous && previous.state === "merge_preview" && session) {
    if (session.state === "merged") announce(msg("announce_merged"));
    else if (session.state === "merge_declined" || session.state === "kept_separate") announce(msg("announce_declined"));
  }
  if (previous && session && previous.session_id !== session.session_id) $("end-confirm").hidden = true;
  for (const id of ["confirm", "decline", "end-yes"]) $(id).disabled = false;
  const identified = Boolean(session && session.identified);
  const inviting = !identified && Boolean(session && session.app_nearby);
  $("identify").hidden = identified || inviting; // the invitation says the same, louder
  $("invite").hidden = !inviting;
  renderMerge();
}

function renderAttract() {
  const empty = !basket || basket.lines.length === 0;
  const previewing = session && session.state === "merge_preview";
  const paying = basket && basket.checkout && basket.checkout.state === "pay_at_till";
  const busy = previewing || paying || !$("end-confirm").hidden; // thanks give way to the attract screen
  const attract = empty && !busy && Date.now() - lastActivity > ATTRACT_AFTER_MS;
  $("attract").hidden = !attract;
  $("basket").hidden = attract;
  $("paying").hidden = attract || !(basket && basket.checkout);
}

function onView(body) {
  lastActivity = Date.now();
  if (body.topic === "session") {
    const previous = session;
    session = body.data;
    renderSession(previous);
    Personal.session(session);
  } else if (body.topic === "display" && (body.type === T_BASKET_VIEW || body.type === null)) {
    basket = body.data;
    renderBasket();
    Personal.related(basket ? basket.related : []);
  }
  renderAttract();
}

function onLink(up) {
  online = up;
  renderPriceNote();
}

async function sessionAction(action, buttons) {
  if (!session) return false;
  for (const id of buttons) $(id).disabled = true;
  const data = { action, session_id: session.session_id, preview_id: session.preview_id };
  const taken = await Screen.act(T_SESSION_COMMAND, data);
  if (!taken) for (const id of buttons) $(id).disabled = false;
  return taken;
}

async function lineCommand(action, line, qty, fulfilment) {
  if (!session) return;
  const data = { action, session_id: session.session_id, gtin14: line.gtin14 };
  if (action === "set_quantity") data.qty = qty;
  if (action === "order") data.fulfilment = fulfilment;
  if (action === "remove") removing.add(line.gtin14);
  if (!(await Screen.act(T_BASKET_COMMAND, data))) removing.delete(line.gtin14);
}

function askEnd(open) {
  $("end-confirm").hidden = !open;
  (open ? $("end-no") : $("end")).focus();
}

Screen.start({
  onView,
  onLink,
  bind() {
    $("confirm").addEventListener("click", () => sessionAction("confirm_merge", ["confirm", "decline"]));
    $("decline").addEventListener("click", () => sessionAction("decline_merge", ["confirm", "decline"]));
    $("checkout").addEventListener("click", () => sessionAction("checkout", ["checkout"]));
    $("end").addEventListener("click", () => askEnd(true));
    $("end-no").addEventListener("click", () => askEnd(false));
    $("end-yes").addEventListener("click", async () => {
      if (await sessionAction("end_session", ["end-yes"])) {
        $("end-confirm").hidden = true;
        $("basket-title").focus();
        announce(msg("announce_ended"));
      }
    });
    window.setInterval(renderAttract, 1000);
  },
  rerender() {
    renderBasket(false);
    renderSession(null);
    Personal.rerender();
  },
});
