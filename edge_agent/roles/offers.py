"""Offers for the session, only with the shopper's ``personalisation`` consent, and consent changes on the screen.

The platform publishes the offers it chose on the session's retained topic (contract/offers.py); this desk drops
them for any session but the current one and for a shopper without the scope (counted, with the reason), shows at
most the configured number per session (the frequency cap), and carries out the shopper's accept or dismiss. An
accepted offer is a cart attribute on the session's cart, a durable op the platform applies at checkout; the edge
never prices it. Impressions, accepts and dismissals are workflow events (``offer.*``), like consent changes.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from edge_agent.contract.codec import Rejected, Route
from edge_agent.contract.device import SessionState as SessionStateModel
from edge_agent.contract.offers import (
    T_CONSENT_COMMAND,
    T_OFFER_COMMAND,
    T_OFFERS,
    ConsentCommand,
    ConsentCommandEvent,
    OfferCommand,
    OfferCommandEvent,
    OfferView,
    SessionOffers,
    SessionOffersEvent,
)
from edge_agent.domain.basket import SetAttribute
from edge_agent.domain.consent import ACCEPTED, PERSONALISATION, PROFILE, offer_attr
from edge_agent.domain.workflows import kiosk
from edge_agent.domain.workflows.common import Refused, WorkflowEvent
from edge_agent.domain.workflows.personalisation import OfferBook, OfferItem, consent_event, offer_event
from edge_agent.roles.base import Ports
from edge_agent.roles.sessions import SessionDesk

log = logging.getLogger(__name__)


class OfferDesk:
    def __init__(self, ports: Ports, sessions: SessionDesk, end_session: Callable[[str], None]) -> None:
        self.ports = ports
        self.sessions = sessions
        self.end_session = end_session
        """Ends the session (the basket's: a fresh guest cart follows); after ``profile`` is withdrawn."""
        self.cap = ports.config.offers.max_per_session
        self.book = OfferBook("", self.cap)
        self.dropped: Counter[str] = Counter()
        """Offers the frequency cap or their expiry kept off the screen (not bad input: the platform may send more)."""

    # --- routes -----------------------------------------------------------------------------------------------
    def subscriptions(self) -> list[str]:
        return [self.ports.topics.offers_filter]

    def routes(self) -> list[Route]:
        ui: dict[str, tuple[type, Callable[[str, Any], None]]] = {
            T_OFFER_COMMAND: (OfferCommandEvent, lambda _t, cmd: self.command(cmd)),
            T_CONSENT_COMMAND: (ConsentCommandEvent, lambda _t, cmd: self.consent(cmd)),
        }
        offers: dict[str, tuple[type, Callable[[str, Any], None]]] = {T_OFFERS: (SessionOffersEvent, self.received)}
        return [
            Route(self.ports.topics.ui, ui),
            Route(self.ports.topics.offers_filter, offers, on_cleared=self.cleared),
        ]

    # --- the platform -----------------------------------------------------------------------------------------
    def received(self, topic: str, message: SessionOffers) -> None:
        """The platform's offers for a session: refused (and counted by the router) unless they are for the
        current session, on its own topic, whose identified shopper holds ``personalisation``."""
        if topic != self.ports.topics.offers(message.session_id):
            raise Rejected("topic_mismatch", f"offers for {message.session_id} published on {topic[:200]}")
        session = self.sessions.session
        if message.session_id != session.session_id:
            raise Rejected("stale_session", f"offers for session {message.session_id}, not the current one")
        if session.identity is None or PERSONALISATION not in session.identity.consent:
            raise Rejected("no_consent", "offers for a session without the personalisation scope are not shown")
        book = self._book()
        items = [OfferItem(o.offer_id, o.title, o.detail, o.gtin14, o.expires_at.timestamp()) for o in message.offers]
        outcome = book.receive(items, self.ports.now())
        self.dropped["frequency_cap"] += outcome.capped
        self.dropped["expired"] += outcome.expired
        if outcome.capped:
            log.info("offers: %d over the frequency cap of %d not shown", outcome.capped, self.cap)
        now = self.ports.now()
        self._emit([offer_event("offer.viewed", o, session.session_id, now) for o in outcome.shown])
        self.sessions.publish()

    def cleared(self, topic: str) -> None:
        """The platform cleared a session's offers (it ended, or the scope went): accepted ones stay on the cart."""
        if topic == self.ports.topics.offers(self.book.session_id):
            self.book.receive([], self.ports.now())
            self.sessions.publish()

    # --- the shopper ----------------------------------------------------------------------------------------
    def command(self, cmd: OfferCommand) -> None:
        session = self.sessions.session
        if cmd.session_id != session.session_id:
            raise Rejected("stale_session", f"offer command for session {cmd.session_id}")
        book = self._book()
        result = book.accept(cmd.offer_id) if cmd.action == "accept" else book.dismiss(cmd.offer_id)
        if isinstance(result, Refused):
            raise Rejected(result.reason, result.detail)
        self.sessions.touch()
        now = self.ports.now()
        if cmd.action == "accept":
            cart_id = self.sessions.active_cart
            self.ports.record(
                self.sessions.with_grant([SetAttribute(cart_id, offer_attr(cmd.offer_id), ACCEPTED, actor="shopper")])
            )
        name = "offer.accepted" if cmd.action == "accept" else "offer.dismissed"
        self._emit([offer_event(name, result, session.session_id, now)])
        self.sessions.publish()

    def consent(self, cmd: ConsentCommand) -> None:
        """Grant or withdraw a scope for the session on the screen; withdrawing ``profile`` ends the session."""
        session = self.sessions.session
        if cmd.session_id != session.session_id:
            raise Rejected("stale_session", f"consent command for session {cmd.session_id}")
        grant = cmd.action == "grant"
        if not self.sessions.change_consent(cmd.scope, grant):
            return
        self._emit([consent_event(cmd.scope, grant, session.session_id, self.ports.now())])
        if cmd.scope == PERSONALISATION and not grant:
            self.book.clear()
            self.sessions.publish()
        if cmd.scope == PROFILE and not grant:
            self.end_session(kiosk.CONSENT_WITHDRAWN)

    # --- the view -------------------------------------------------------------------------------------------
    def decorate(self, state: SessionStateModel) -> SessionStateModel:
        """The session's view with its offers (only with the scope) and what waits for the platform."""
        session = self.sessions.session
        identity = session.identity
        if identity is None or PERSONALISATION not in identity.consent or state.session_id != self.book.session_id:
            return state
        self.book.expire(self.ports.now())
        waiting = self.ports.store.unconfirmed_attrs(self.sessions.active_cart)
        views = [
            OfferView(
                offer_id=o.offer_id,
                title=o.title,
                detail=o.detail,
                gtin14=o.gtin14,
                expires_at=datetime.fromtimestamp(o.expires_at, UTC),
                accepted=o.offer_id in self.book.accepted,
                pending=offer_attr(o.offer_id) in waiting,
            )
            for o in self.book.current.values()
        ]
        return state.model_copy(update={"offers": views})

    def tick(self) -> None:
        """Expired offers leave the screen (the heartbeat calls this)."""
        if self.book.session_id == self.sessions.session.session_id and self.book.expire(self.ports.now()):
            self.sessions.publish()

    # --- internals ----------------------------------------------------------------------------------------
    def _book(self) -> OfferBook:
        """The current session's book; a new session starts with none shown (the cap counts per session)."""
        session_id = self.sessions.session.session_id
        if self.book.session_id != session_id:
            self.book = OfferBook(session_id, self.cap)
        return self.book

    def _emit(self, events: list[WorkflowEvent]) -> None:
        if events:
            self.ports.emit(events, None)
