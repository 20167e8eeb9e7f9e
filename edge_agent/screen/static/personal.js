// What every shopper-facing page shows for an identified shopper (kiosk, shelf, mirror): the offers the platform
// sent for the session (only with the personalisation scope: the view carries none otherwise), the shopper's
// consent scopes with a switch each, and the catalog's related items for what was scanned. Accept, dismiss, grant
// and withdraw are the ui topic's commands; whether they are taken, and what waits for the platform, comes back in
// the session view. Needs screen.js; a page calls Personal.session(view) and Personal.related(items).
"use strict";

const Personal = (() => {
  const T_OFFER_COMMAND = "com.edgeagent.session.offer_command.v1";
  const T_CONSENT_COMMAND = "com.edgeagent.session.consent_command.v1";
  const SCOPES = ["profile", "cart_sync", "analytics", "personalisation"];
  const { $, msg, money, cell, announce } = Screen;
  let current = null;
  let relatedItems = [];
  const drawn = { offers: null, consent: null }; // what each list shows: rebuilt only when it changes, so a
  // button keeps its place and the keyboard focus while other views (a scan, a price) arrive (WCAG 2.4.3)

  function changed(part, value) {
    const key = JSON.stringify([Screen.locale, value]);
    if (drawn[part] === key) return false;
    drawn[part] = key;
    return true;
  }

  function button(text, label, onClick, primary) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = text;
    b.setAttribute("aria-label", label);
    if (primary) b.className = "primary";
    b.addEventListener("click", onClick);
    return b;
  }

  function note(text, className) {
    const p = document.createElement("p");
    p.className = className;
    p.textContent = text;
    return p;
  }

  async function offerAction(action, offer, clicked) {
    if (!current) return;
    clicked.disabled = true;
    const data = { action, session_id: current.session_id, offer_id: offer.offer_id };
    if (await Screen.act(T_OFFER_COMMAND, data)) {
      announce(msg(action === "accept" ? "announce_offer_accepted" : "announce_offer_dismissed", { title: offer.title }));
    } else {
      clicked.disabled = false;
    }
  }

  async function consentAction(action, scope, clicked) {
    if (!current) return;
    clicked.disabled = true;
    if (await Screen.act(T_CONSENT_COMMAND, { action, session_id: current.session_id, scope })) {
      announce(msg(action === "grant" ? "announce_consent_on" : "announce_consent_off", { scope: msg("scope_" + scope) }));
    } else {
      clicked.disabled = false;
    }
  }

  function renderOffers() {
    const section = $("offers");
    if (!section) return;
    const offers = current ? current.offers || [] : [];
    section.hidden = offers.length === 0;
    if (!changed("offers", [current && current.session_id, offers])) return;
    const list = $("offer-list");
    list.replaceChildren();
    for (const offer of offers) {
      const item = document.createElement("li");
      item.dataset.offer = offer.offer_id;
      const title = document.createElement("strong");
      title.textContent = offer.title;
      item.appendChild(title);
      if (offer.detail) item.appendChild(note(offer.detail, ""));
      item.appendChild(note(msg("offer_until", { time: Screen.dateTime(offer.expires_at) }), "note"));
      if (offer.accepted) {
        item.appendChild(note(msg(offer.pending ? "offer_waiting" : "offer_accepted"), "done"));
      } else {
        const actions = document.createElement("div");
        actions.className = "actions";
        const label = { title: offer.title };
        const take = button(msg("offer_accept"), msg("offer_accept_label", label), (e) => offerAction("accept", offer, e.target), true);
        take.dataset.action = "accept";
        const skip = button(msg("offer_dismiss"), msg("offer_dismiss_label", label), (e) => offerAction("dismiss", offer, e.target), false);
        skip.dataset.action = "dismiss";
        actions.append(take, skip);
        item.appendChild(actions);
      }
      list.appendChild(item);
    }
  }

  function renderConsent() {
    const section = $("consent");
    if (!section) return;
    const identified = Boolean(current && current.identified);
    section.hidden = !identified;
    if (!changed("consent", identified && [current.session_id, current.consent, current.consent_pending])) return;
    const list = $("consent-list");
    list.replaceChildren();
    if (!identified) return;
    const held = new Set(current.consent || []);
    const pending = new Set(current.consent_pending || []);
    for (const scope of SCOPES) {
      const item = document.createElement("li");
      item.dataset.scope = scope;
      const on = held.has(scope);
      const name = msg("scope_" + scope);
      const text = document.createElement("span");
      text.textContent = `${name}: ${msg(on ? "consent_on" : "consent_off")}`;
      item.appendChild(text);
      const action = on ? "withdraw" : "grant";
      const toggle = button(msg(on ? "consent_withdraw" : "consent_grant"),
        msg(on ? "consent_withdraw_label" : "consent_grant_label", { scope: name }),
        (e) => consentAction(action, scope, e.target), false);
      toggle.dataset.action = action;
      item.appendChild(toggle);
      if (pending.has(scope)) item.appendChild(note(msg("consent_pending"), "note"));
      list.appendChild(item);
    }
  }

  function renderRelated() {
    const section = $("related");
    const table = $("related-table");
    if (!section || !table) return;
    section.hidden = relatedItems.length === 0;
    const body = table.querySelector("tbody");
    body.replaceChildren();
    for (const item of relatedItems) {
      const row = body.insertRow();
      cell(row, item.name || msg("unknown_item", { code: item.gtin14 }), false);
      cell(row, money(item.price_minor, item.currency), true);
    }
  }

  return {
    session(view) {
      current = view;
      renderOffers();
      renderConsent();
    },
    related(items) {
      relatedItems = items || [];
      renderRelated();
    },
    rerender() {
      drawn.offers = drawn.consent = null; // another language: every word changes
      renderOffers();
      renderConsent();
      renderRelated();
    },
  };
})();
