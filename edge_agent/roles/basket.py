"""The shopper's basket and session at this device: what every role has, and all a kiosk is.

A scan the device's role does not take is a line in the session's basket; a credential it does not take
identifies the shopper (merge on confirmation, :mod:`.sessions`). The basket's cart is kept across restarts; the
platform seals it at checkout and the next scan goes to a fresh one. Erasure forgets a shopper's profile carts.
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from edge_agent.coalesce import Coalesced
from edge_agent.const import SCREEN_FEED_INTERVAL_S
from edge_agent.contract.aisle import AisleOrderView
from edge_agent.contract.codec import Rejected
from edge_agent.contract.device import (
    T_BASKET_COMMAND,
    T_SESSION_COMMAND,
    BasketLineCommand,
    BasketLineCommandEvent,
    BasketRefusal,
    BasketView,
    BasketViewEvent,
    CheckoutView,
    ErasureDone,
    ErasureDoneEvent,
    ErasureRequest,
    SessionCommand,
    SessionCommandEvent,
    SessionStateEvent,
)
from edge_agent.contract.device import SessionState as SessionStateModel
from edge_agent.domain.basket import (
    AddItem,
    BasketCommand,
    RemoveItem,
    RequestCheckout,
    SetAttribute,
    SetQuantity,
)
from edge_agent.domain.session import Identity, MergePolicy
from edge_agent.domain.workflows import kiosk
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.identifiers.gtin import gtin_check_digit
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.readers.events import IdentityPresented
from edge_agent.roles.aisle import bad_answers, order_line, order_views
from edge_agent.roles.base import Ports, Route
from edge_agent.roles.basket_view import basket_view
from edge_agent.roles.claim import BasketClaim
from edge_agent.roles.const import (
    SHOPPER_READERS,
    TILL_CODE_ATTR,
    TILL_CODE_PREFIX,
    TILL_CODE_RANDOM_DIGITS,
    WALKAWAY_FROM_ZONES,
    WALKAWAY_IDLE_S,
)
from edge_agent.roles.offers import OfferDesk
from edge_agent.roles.related import related_to
from edge_agent.roles.sessions import SessionDesk
from edge_agent.store.device import Recorded

log = logging.getLogger(__name__)

CURRENT_CART_KEY = "current_cart"
REASON_CODE = re.compile(r"[a-z0-9_]{1,64}")


class ShopperBasket:
    def __init__(self, ports: Ports, screen_key: bytes) -> None:
        self.ports = ports
        cfg = ports.config
        self.sessions = SessionDesk(
            ports.store,
            MergePolicy(cfg.identity.merge_policy if cfg.identity else "sum"),
            ports.verifier,
            cfg.session.idle_timeout_s,
            cfg.session.anonymous_retention_s,
            self._publish_session,
            ports.follow_cart,
            ports.record,
            # The kiosk session's events (domain/workflows/kiosk.py) are a kiosk's: a mirror or shelf that
            # identifies the shopper for consent and offers reports its own workflow, not a kiosk session.
            (lambda events: ports.emit(events, None)) if cfg.device.role == "kiosk" else (lambda _events: None),
            screen_key=screen_key,
        )
        self.on_display = cfg.device.role == "kiosk"
        """A kiosk's display is its basket; the other roles' displays are their own (lookups, totes, the room)."""
        self._shown: BasketView | None = None
        self._refused: BasketRefusal | None = None
        """The latest scan, tap or line change refused: the kiosk says why, in words, until the next one works."""
        self._checkout: CheckoutView | None = None
        """After Checkout: the till code, then thanks once sealed; until the next scan or the session's end."""
        self._bad_answers: set[str] = set()
        """Unreadable endless-aisle answers already counted (cart, key, op id)."""
        self.claim = BasketClaim(ports, self._claimed)
        """Take my basket to my phone: the guest basket's claim link (:mod:`.claim`)."""
        self.offers = OfferDesk(ports, self.sessions, self.end_session)
        """Offers with the personalisation scope, and consent changes on the screen (:mod:`.offers`)."""
        self._last_scanned: str | None = None
        """The latest item scanned in this session: the screen shows the catalog's related items for it."""
        self._waiting_shown = False
        """The last session view said something waits for the platform: a confirmation republishes it."""
        self.screen_feed = Coalesced(self.show_basket, SCREEN_FEED_INTERVAL_S)
        """Saved scans and snapshots refresh the view through this: one build per burst, not one per op. Runs at once
        until the agent attaches its loop."""

    def start(self) -> None:
        """At start (I/O, so not in the constructor): the basket the last run left, or a fresh one."""
        self.sessions.start(self._current_cart())

    @property
    def cart_id(self) -> str:
        """Where a scan goes now: the session's guest basket, or the profile cart once merged."""
        return self.sessions.active_cart

    # --- reader events ------------------------------------------------------------------------------------
    def scanned(self, key: ProductKey) -> BasketCommand:
        """The command for a scan; the agent records a group of them in one transaction (group commit)."""
        self.sessions.touch()
        self._clear_notices()
        self._last_scanned = key.gtin14
        return AddItem(self.cart_id, key.gtin14, serial=key.serial)

    def recorded(self, results: Sequence[Recorded]) -> list[WorkflowEvent]:
        """The ``cart.line_added`` events of saved scans into the session's basket (a refused one is none), for
        the agent to emit; line changes at the screen report themselves (:meth:`line_command`), and a merge's ops
        are not the shopper's adds."""
        s, now = self.sessions.session, self.ports.now()
        carts = {s.guest_cart, self.cart_id}
        return [
            kiosk.line_added(s, r.command.sku, r.command.qty, now)
            for r in results
            if r.op is not None
            and isinstance(r.command, AddItem)
            and r.command.actor is None
            and r.command.cart_id in carts
        ]

    def input_rejected(self, reader: str, reason: str) -> None:
        """A reader refused what the shopper presented (a bad check digit, a payment card): the kiosk says so.
        Only the reason code travels; the input itself (a code, a card's number or UID) never reaches the view."""
        source = SHOPPER_READERS.get(reader)
        if source is not None:
            self._refuse(source, reason)

    def refused(self, reason: str, cart_id: str) -> None:
        """The basket's rules refused a command (a serial already in the basket, a line no longer there)."""
        if cart_id == self.cart_id:
            self._refuse("basket", reason)

    def _clear_notices(self) -> None:
        """A new scan, line change or session: the last refusal and the checkout notice no longer apply."""
        self._refused = None
        self._checkout = None

    def _refuse(self, source: str, reason: str) -> None:
        at = datetime.fromtimestamp(self.ports.now(), UTC)
        if not REASON_CODE.fullmatch(reason):  # a reason is a stable code; anything else is not shown as is
            reason = "unreadable"
        self._refused = BasketRefusal(reason=reason, at=at, source=source)  # type: ignore[arg-type]
        self.show_basket()

    def identity(self, event: IdentityPresented) -> None:
        self.sessions.present(event)

    def identified(self, identity: Identity) -> None:
        """A role verified the shopper itself (the mirror): the session takes them as if they tapped here."""
        self.sessions.identified(identity)

    def app_nearby(self) -> None:
        self.sessions.app_nearby()

    def app_left(self, previous_zone: str) -> None:
        """An opted-in shopper app left the kiosk (BLE). A session in use but idle a while was walked away from:
        it ends now, not at the idle timeout, and a basket left in it is abandoned (:mod:`.const`)."""
        s = self.sessions.session
        if previous_zone not in WALKAWAY_FROM_ZONES or not s.announced:
            return
        if s.idle_for(self.ports.now()) >= WALKAWAY_IDLE_S:
            self.end_session("walkaway")

    # --- the kiosk's screen -------------------------------------------------------------------------------
    def saved(self, cart_ids: set[str]) -> None:
        """Ops were committed (the scan is saved): the screen may say so."""
        if self.cart_id in cart_ids or self.sessions.session.guest_cart in cart_ids:
            self.screen_feed.request()

    def show_basket(self) -> None:
        """The basket with names and prices (retained on the display), republished only when it changed."""
        if not self.on_display:
            return
        s = self.sessions.session
        preview = {ln.sku: ln.result_qty for ln in s.preview.lines} if s.preview is not None else None
        store, now, refused, checkout = self.ports.store, self.ports.now(), self._refused, self._checkout
        view = basket_view(store, self.cart_id, preview, now=now, refused=refused, checkout=checkout)
        related = related_to(store, self._last_scanned, [ln.gtin14 for ln in view.lines])
        view = view.model_copy(update={"related": related}) if related else view
        self.claim.update(s, view.items if checkout is None else 0)  # paying at the till: nothing to take away
        if view != self._shown:
            self._shown = view
            self.ports.show(BasketViewEvent, view)

    def routes(self) -> list[Route]:
        """Session commands on the device's ui topic; a payload no role understands is the session's to refuse."""
        handlers: dict[str, tuple[type, Callable[[str, Any], None]]] = {
            T_SESSION_COMMAND: (SessionCommandEvent, lambda _t, cmd: self.command(cmd)),
            T_BASKET_COMMAND: (BasketLineCommandEvent, lambda _t, cmd: self.line_command(cmd)),
        }
        return [Route(self.ports.topics.ui, handlers), *self.claim.routes(), *self.offers.routes()]

    def subscriptions(self) -> list[str]:
        """Beyond every device's topics: the platform's word that the guest basket was claimed (with [claim])."""
        return [*self.claim.subscriptions(), *self.offers.subscriptions()]

    def line_command(self, cmd: BasketLineCommand) -> None:
        """+, - or remove on a line: durable ops on the session's basket, like scans (the domain refuses a line
        that is not there; the agent hands that back through :meth:`refused`)."""
        if cmd.session_id != self.sessions.session.session_id:
            raise Rejected("stale_session", f"basket command for session {cmd.session_id}")
        if cmd.action == "set_quantity" and cmd.qty is None:
            raise Rejected("schema", "set_quantity names the new qty")
        if cmd.action == "order" and cmd.fulfilment is None:
            raise Rejected("schema", "order names its fulfilment: ship or pickup@<store>")
        self.sessions.touch("line")
        self._clear_notices()
        commands: list[BasketCommand]
        if cmd.action == "remove":
            commands = [RemoveItem(self.cart_id, cmd.gtin14, actor="shopper")]
        elif cmd.action == "order":
            store = self.ports.store
            commands = order_line(store, self.cart_id, cmd.gtin14, cmd.qty or 1, cmd.fulfilment or "", add=False)
        else:
            commands = [SetQuantity(self.cart_id, cmd.gtin14, cmd.qty or 0, actor="shopper")]
        store, cart_id = self.ports.store, self.cart_id
        before = {cmd.gtin14: store.quantities(cart_id).get(cmd.gtin14, 0)}
        self.ports.record(commands)
        after = {cmd.gtin14: store.quantities(cart_id).get(cmd.gtin14, 0)}
        self.ports.emit(kiosk.line_changes(self.sessions.session, before, after, self.ports.now()), None)

    def order_for_shopper(self, gtin14: str, qty: int, fulfilment: str) -> bool:
        """A role orders a line for the session's verified shopper (the mirror, a size the store lacks): the kiosk's
        own order ops, into the session's basket. False without a verified shopper: an order needs someone to
        deliver it to or to collect it, and an anonymous basket on a shared screen is nobody's."""
        if not self._identified():
            return False
        self.sessions.touch("line")
        self.ports.record(order_line(self.ports.store, self.cart_id, gtin14, qty, fulfilment, add=False))
        return True

    def orders(self) -> dict[str, AisleOrderView]:
        return order_views(self.ports.store, self.cart_id)

    def command(self, cmd: SessionCommand) -> None:
        action = self.sessions.command(cmd)
        if action == "checkout":
            self.checkout()
        elif action == "end_session":
            self.end_session("explicit")

    def confirm_merge(self, preview_id: str | None = None) -> None:
        self.sessions.confirm(preview_id)

    def decline_merge(self) -> None:
        self.sessions.decline()

    def end_session(self, reason: str = "explicit") -> None:
        self._clear_notices()
        self._last_scanned = None
        self.sessions.end(reason, self._new_cart())

    def checkout(self) -> None:
        """The shopper asks to pay: durable ops (the till code, then the request); the platform seals the basket
        (a snapshot then says so). The till finds the basket by the code the screen shows."""
        cart_id = self.cart_id
        if self._checkout is not None:  # asked already (a double tap): the same code stays on the screen
            self.show_basket()
            return
        if not self.ports.store.quantities(cart_id):
            self._refuse("basket", "empty_basket")
            return
        code = till_code(secrets.randbelow(10**TILL_CODE_RANDOM_DIGITS))
        self._refused = None
        self._checkout = CheckoutView(state="pay_at_till", till_code=code, pay_in_app=self._identified())
        self.ports.record([SetAttribute(cart_id, TILL_CODE_ATTR, code, actor="shopper"), RequestCheckout(cart_id)])
        lines = self.ports.store.quantities(cart_id)
        self.ports.emit([kiosk.checkout_handoff(self.sessions.session, lines, self.ports.now())], None)
        self.show_basket()

    # --- the platform ---------------------------------------------------------------------------------------
    def cart_changed(self, cart_id: str) -> None:
        """A snapshot arrived. When the platform sealed the current basket, new scans go to a fresh one."""
        seal = self.ports.store.seal_of(cart_id)
        if cart_id == self.cart_id and seal is not None:
            log.info("basket %s became order %s; starting a new basket", cart_id, seal.order_id)
            code = self._checkout.till_code if self._checkout is not None else None
            self._checkout = CheckoutView(state="sealed", till_code=code, pay_in_app=self._identified())
            self._refused = None
            self.sessions.end("checkout", self._new_cart())
            self.ports.follow_cart(self.cart_id)
            return
        for bad in bad_answers(self.ports.store, cart_id):
            if bad.detail not in self._bad_answers:  # counted once, not again with every later snapshot
                self._bad_answers.add(bad.detail)
                self.ports.reject(self.ports.topics.cart_state(cart_id), bad)
        self.sessions.cart_changed(cart_id)
        self.screen_feed.request()

    def erase(self, request: ErasureRequest) -> None:
        """End the shopper's session here, then forget the profile carts, unsent edits included, and say so.
        A cart this device made itself (a guest basket, a tote, a pick cart) is never erased: refused."""
        store = self.ports.store
        held_ids = set(store.cart_ids())
        own = sorted(c for c in request.carts if c in held_ids and not store.is_profile_cart(c))
        if own:
            detail = f"erasure {request.request_id} named {own[:5]}"
            self.ports.reject(self.ports.topics.erasure, Rejected("not_a_profile_cart", detail))
        carts = set(request.carts) - set(own)
        identity = self.sessions.session.identity
        session_ended = identity is not None and identity.profile_cart in carts
        if session_ended:
            self._clear_notices()
            self.sessions.end("erased", self._new_cart())
        held = carts & held_ids
        erased = [store.erase_cart(cart_id) for cart_id in sorted(held)]
        dropped, events = sum(e.ops for e in erased), sum(e.events for e in erased)
        log.info(
            "erasure %s: forgot %d cart(s), dropped %d unsent op(s) and %d event(s)",
            request.request_id, len(held), dropped, events,
        )  # fmt: skip
        done = ErasureDone(
            request_id=request.request_id,
            device=self.ports.device,
            carts=sorted(held),
            ops_dropped=dropped,
            session_ended=session_ended,
        )
        event_id = f"{self.ports.device}:erased:{request.request_id}"
        self.ports.out.publish(self.ports.topics.erased, ErasureDoneEvent, done, event_id=event_id)

    # --- time -----------------------------------------------------------------------------------------------
    def housekeeping(self) -> None:
        """Idle sessions end (only if they hold something: an empty kiosk needs no new session every 15 min)."""
        s = self.sessions.session
        if self.sessions.idle() and (s.identity is not None or self.ports.store.quantities(s.guest_cart)):
            self.end_session("timeout")
        elif self.sessions.idle() and self._checkout is not None and self._checkout.state == "sealed":
            self._checkout = None  # the thanks and the till code leave an untouched kiosk for the next shopper
        self.sessions.purge_due(early=self.ports.store.budget.near(self.ports.store.conn))
        self.sessions.invitation_expired()
        self.offers.tick()
        self.show_basket()  # prices may have grown stale meanwhile (republished only if the view changed)
        self.claim.tick()

    def collect(self) -> int:
        """At the storage budget: every ended basket the platform confirmed is purged now; how many were."""
        return len(self.sessions.purge_due(early=True))

    def publish(self) -> None:
        self._shown = None  # a (re)connected uplink gets the current view again
        self.claim.republish()
        self.sessions.publish()

    # --- internals ----------------------------------------------------------------------------------------
    def _claimed(self, guest_cart: str) -> None:
        """A shopper took the guest basket to their phone: the next scan goes to a fresh basket (see :mod:`.claim`)."""
        s = self.sessions.session
        if guest_cart == s.guest_cart:
            units = sum(self.ports.store.quantities(guest_cart).values())
            self.ports.emit([kiosk.taken_to_phone(s, units, self.ports.now())], None)
            self.end_session("claimed")
            self.ports.follow_cart(self.cart_id)

    def _identified(self) -> bool:
        return self.sessions.session.identity is not None

    def ops_confirmed(self) -> None:
        """The platform applied ops: a consent change or an accepted offer the screen showed as waiting is done."""
        if self._waiting_shown:
            self.sessions.publish()

    def _publish_session(self, state: SessionStateModel) -> None:
        state = self.offers.decorate(state)
        self._waiting_shown = bool(state.consent_pending) or any(o.pending for o in state.offers)
        topic = self.ports.topics.session
        self.ports.out.publish(topic, SessionStateEvent, state, retain=True, subject=state.session_id)
        self.show_basket()

    def _current_cart(self) -> str:
        store = self.ports.store
        stored = store.meta(CURRENT_CART_KEY)
        cart_id = stored or self.ports.config.basket.cart_id or self._fresh_cart_id()
        if store.seal_of(cart_id) is not None:  # sealed while the agent was down
            return self._new_cart()
        if stored is None:
            store.set_meta({CURRENT_CART_KEY: cart_id})
        store.open_cart(cart_id)
        return cart_id

    def _fresh_cart_id(self) -> str:
        return f"{self.ports.device}-{uuid.uuid4().hex[:12]}"

    def _new_cart(self) -> str:
        cart_id = self._fresh_cart_id()
        self.ports.store.set_meta({CURRENT_CART_KEY: cart_id})
        self.ports.store.open_cart(cart_id)
        return cart_id


def till_code(number: int) -> str:
    """The EAN-13 a till scans for a basket: the in-store prefix, the number, the check digit."""
    body = f"{TILL_CODE_PREFIX}{number:0{TILL_CODE_RANDOM_DIGITS}d}"
    return f"{body}{gtin_check_digit(body)}"
