"""The platform's back office on the simulated central: what the online shop and the platform's staff do that
is not a device's message (online edits, claims, online orders, credentials, erasure). A mixin of CentralPlatform
(simulators/central/core.py), whose one connection, lock and publisher it uses."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from edge_agent.contract.claim import BasketClaimed
from edge_agent.domain.basket import AddItem, BasketCommand, Refused, RequestCheckout, SetAttribute
from edge_agent.domain.cart import quantities
from edge_agent.domain.ops import CartOp
from edge_agent.identity.claim_token import ClaimRefused
from edge_agent.identity.tokens import Claims, credential_fingerprint, sign_token, signature_of
from edge_agent.store import carts
from edge_agent.store.db import transaction
from edge_agent.store.device import wall_clock_ms
from simulators import attribution, basket_claims, offers
from simulators import cart_authority as authority
from simulators.central import messages
from simulators.central.const import SOURCE, WEB_DEVICE
from simulators.central.stats import CentralStats
from simulators.central.web_channel import WebChannel
from simulators.platform import apply as rules
from simulators.platform import events

if TYPE_CHECKING:
    from simulators.platform.sqlite_store import SqliteStore

log = logging.getLogger("central")


class BackOffice:
    """Needs, from CentralPlatform: its connection, lock, web channel, stats, offer desk, dirty carts and publisher."""

    _conn: Any
    _lock: threading.RLock
    _web: WebChannel | None
    _dirty: set[str]
    stats: CentralStats
    offers: offers.OfferDesk

    if TYPE_CHECKING:

        @property
        def _port(self) -> SqliteStore: ...

        def publish_snapshot(self, cart_id: str) -> None: ...

        def _publish(self, topic: str, payload: bytes, retain: bool = False) -> None: ...

    identity_keys: tuple[bytes, ...] = ()
    """Legacy: the platform's HMAC identity keys (current first): EA1 devices' merge grants verify under them. EA2
    devices' fingerprint grants need none, only credentials issued by :meth:`issue_credential`; without either no
    device may write a shopper's profile cart (its ops are held)."""

    # --- online edits (simulators/central/web_channel.py) --------------------------------------------------
    def online_edit(self, command: BasketCommand) -> str:
        """A shopper edits the cart online: an op from the web channel, applied like any device's op."""
        with self._lock, transaction(self._conn):
            op = self._web_op(command)
        self.publish_snapshot(op.cart_id)
        return op.op_id

    def _web_op(self, command: BasketCommand) -> CartOp:
        """One op of the web channel, applied in the caller's transaction."""
        assert self._web is not None, "start() first"
        return self._web.op(self._conn, command)

    # --- take my basket to my phone (simulators/basket_claims.py) -----------------------------------------
    def claim(self, token: str, profile_cart: str) -> BasketClaimed:
        """What the online shop's backend does when the signed-in shopper, on the page a kiosk's claim link
        opened, taps "take it" (never on the link's load): verify, join the guest basket into ``profile_cart``,
        tell the kiosk. ClaimRefused (counted in ``stats.claims_refused``) when the link is not honoured."""
        now = time.time()
        try:
            with self._lock, transaction(self._conn):
                admitted = basket_claims.admit(self._conn, self.identity_keys, token, profile_cart, now)
                self._join_claimed({admitted.cart})
                units = basket_claims.joined_units(self._conn, admitted.cart)
        except ClaimRefused as refused:
            self.stats.claims_refused[refused.reason] += 1
            log.warning("central: claim refused: %s", refused)
            raise
        self.stats.claims += 1
        self.publish_snapshot(profile_cart)
        claimed = BasketClaimed(
            cart=admitted.cart, claim_id=admitted.claim_id, claimed_at=datetime.fromtimestamp(now, UTC), units=units
        )
        self._publish(*messages.claimed_message(admitted, claimed))
        return claimed

    # --- attribution of later online orders (simulators/attribution.py) ------------------------------------
    def place_online_order(self, profile_cart: str) -> str:
        """The shopper checks out their profile cart online: the platform seals it as an order (the same seal a
        till checkout makes) and credits the in-store sessions that joined it. Returns the order id."""
        now_ms = wall_clock_ms()
        with self._lock, transaction(self._conn):
            op = self._web_op(RequestCheckout(profile_cart, actor="web"))
            decided = rules.Applied(WEB_DEVICE)
            rules.decide_checkout_of(self._port, op, decided)
            seal = carts.seal_of(self._conn, profile_cart)
            assert seal is not None  # decided in this very transaction
            ordered = [e for e in carts.live_entries(self._conn, profile_cart) if e.entry_id in set(seal.entry_ids)]
            if not ordered:
                raise Refused("empty_cart", f"{profile_cart} holds nothing to order")
            credited = attribution.record_order(self._conn, seal.order_id, profile_cart, quantities(ordered), now_ms)
        self.stats.online_orders += 1
        self.stats.orders_sealed += decided.sealed
        self.stats.checkout_already_sealed += decided.already_sealed
        log.info(
            "central: online order %s from %s credits %d in-store session(s)", seal.order_id, profile_cart, credited
        )
        self.publish_snapshot(profile_cart)
        return seal.order_id

    def attribution_report(self) -> attribution.AttributionReport:
        with self._lock:
            return attribution.report(self._conn)

    def _join_claimed(self, cart_ids: set[str]) -> set[str]:
        """In the caller's transaction: the units of claimed guest carts not yet in their profile carts, added
        from the web channel. Returns the profile carts that changed."""
        changed = set()
        for cart_id in basket_claims.claimed_among(self._conn, cart_ids):
            for command in basket_claims.due(self._conn, cart_id):
                changed.add(self._web_op(command).cart_id)
        return changed

    def trust_identity_keys(self, *keys: bytes) -> None:
        """Legacy (EA1): the HMAC keys the platform signs shopper credentials with (the ones it gave the devices);
        merge grants from legacy devices verify under them."""
        self.identity_keys = tuple(keys)

    def issue_credential(self, seed: bytes, claims: Claims) -> str:
        """The platform issues an EA2 credential (app code or card) signed with its Ed25519 private key, and records
        its fingerprint for the profile cart: a fingerprint grant from a device that saw it lets that device write
        the cart. The credential itself is returned to the shopper's app and kept nowhere here."""
        token = sign_token(seed, claims)
        with self._lock, transaction(self._conn):
            self._port.record_issued(claims.cart, credential_fingerprint(signature_of(token)))
        return token

    def held_ops(self, device: str | None = None) -> int:
        """Ops kept but never applied because their device may not write the cart."""
        with self._lock:
            return authority.held_count(self._conn, device)

    def open_profile_cart(self, cart_id: str, tenant: str, store: str) -> None:
        """A shopper's online cart, homed at a store so its snapshots reach that store's devices."""
        with self._lock, transaction(self._conn):
            self._conn.execute("INSERT OR IGNORE INTO cart_versions VALUES (?, 1, ?, ?)", (cart_id, tenant, store))
            authority.open_profile(self._conn, cart_id)

    def erase_shopper(self, cart_id: str, tenant: str, store: str, request_id: str) -> None:
        """Right to be forgotten: drop the cart here, clear its retained snapshot, and ask the store's devices
        to forget their copies. Ops for it that are still in flight are acknowledged and never applied."""
        with self._lock, transaction(self._conn):
            self._port.erase_shopper(cart_id)  # marked: the apply rules drop its in-flight ops from here on
            basket_claims.forget_profile(self._conn, cart_id)
            self.offers.forget(cart_id)
            attribution.forget_profile(self._conn, cart_id)
            self._dirty.discard(cart_id)
        (cleared, empty), request = events.erasure_messages(tenant, store, request_id, cart_id, SOURCE)
        self._publish(cleared, empty, retain=True)
        self._publish(*request)

    def add_online(self, cart_id: str, sku: str, qty: int = 1) -> str:
        return self.online_edit(AddItem(cart_id, sku, qty, actor="web"))

    def pay_tote(self, tote_id: str, order_id: str) -> str:
        """The shopper paid for a tote at the till or by link: the platform records the order on the tote cart."""
        return self.online_edit(SetAttribute(tote_id, "tote.order_id", order_id, actor="platform"))
