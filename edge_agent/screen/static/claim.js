// "Take my basket to my phone" on the kiosk: renders the agent's retained claim view (dv/{device}/claim). While a
// link is offered, its QR (an SVG the agent renders, /claim.svg, same origin); once the platform says a shopper took
// the basket, "your basket is on your phone now". No workflow here: the link is the agent's, the claim the shop's.
// Its own live stream, because screen.js's start() belongs to the page's main script (kiosk.js).
"use strict";

(() => {
  const T_CLAIM_VIEW = "com.edgeagent.basket.claim_view.v1";
  const TOKEN = Screen.meta("screen-token");
  let view = null;
  // One number per offer the page has seen: two baskets' links can end in the same second, and the picture must
  // still be fetched anew for the second (the link itself stays out of the page).
  let offer = 0;

  function render() {
    const $ = Screen.$;
    const state = view ? view.state : "none";
    $("claim").hidden = state === "none";
    $("claim-offer").hidden = state !== "offered";
    $("claim-done").hidden = state !== "claimed";
    if (state === "offered") {
      const qr = $("claim-qr");
      const src = "/claim.svg?token=" + encodeURIComponent(TOKEN) + "&v=" + offer;
      if (qr.getAttribute("src") !== src) qr.setAttribute("src", src);
      qr.alt = Screen.msg("claim_qr_alt");
      $("claim-expires").textContent = Screen.msg("claim_expires", { time: Screen.dateTime(view.expires_at) });
    } else if (state === "claimed") {
      $("claim-done").textContent = Screen.msg("claim_done");
    }
  }

  function onView(body) {
    if (body.topic !== "claim") return;
    const before = view ? view.state : "none";
    const beforeExpiry = view ? view.expires_at : null;
    view = body.type === T_CLAIM_VIEW ? body.data : null;
    if (view && view.state === "offered" && (before !== "offered" || beforeExpiry !== view.expires_at)) offer += 1;
    render();
    if (before === "offered" && view && view.state === "claimed") Screen.announce(Screen.msg("claim_done"));
  }

  function start() {
    const stream = new EventSource("/events?token=" + encodeURIComponent(TOKEN));
    stream.addEventListener("view", (e) => onView(JSON.parse(e.data)));
    // screen.js sets <html lang> once a (new) catalogue is loaded: the shopper chose another language.
    new MutationObserver(render).observe(document.documentElement, { attributes: true, attributeFilter: ["lang"] });
    render();
  }

  // After screen.js has the catalogue (it marks the body ready), so the first render is in words.
  if (document.body.dataset.ready === "true") {
    start();
  } else {
    const ready = new MutationObserver(() => {
      if (document.body.dataset.ready !== "true") return;
      ready.disconnect();
      start();
    });
    ready.observe(document.body, { attributes: true, attributeFilter: ["data-ready"] });
  }
})();
