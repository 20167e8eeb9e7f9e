"""The offers and consent commands a device takes (issue 13) are accepted or rejected with a counted reason, never a
traceback, and a rejected one leaves the store exactly as it was: mutations of each, on the real basket, session and
SQLite store, through the real route table."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.contract.offers import T_CONSENT_COMMAND, T_OFFER_COMMAND, T_OFFERS
from edge_agent.identity.tokens import Claims, issue_token
from edge_agent.readers.events import IdentityPresented
from edge_agent.sync.inbound import InboundRouter
from tests.support.fuzz import fuzz
from tests.unit.test_basket_claim_view import KEY, T0, Kiosk
from tests.unit.test_inbound_bounds import HUGE_DIGITS, digest, envelope, hostile_values, paths, replaced

OFFER = {"offer_id": "socks_2for1", "title": "Socks: two for one", "gtin14": "04006381333931"}


@contextmanager
def identified_kiosk() -> Iterator[tuple[Kiosk, InboundRouter]]:
    """A kiosk whose shopper granted every scope, showing one offer, with the real route table."""
    with tempfile.TemporaryDirectory() as tmp:
        kiosk = Kiosk(Path(tmp))
        scopes = ("profile", "cart_sync", "analytics", "personalisation")
        claims = Claims(
            kind="card", sub="shopper-7-pseudo", cart="profile-7", consent=scopes, iat=int(T0), nonce="card0001"
        )  # type: ignore[arg-type]
        kiosk.basket.identity(IdentityPresented(issue_token(KEY, claims), "nfc", "nfc", T0))
        router = InboundRouter(kiosk.store, kiosk.topics, lambda _wm: None)
        router.add(kiosk.basket.routes())
        try:
            yield kiosk, router
        finally:
            kiosk.store.close()


def templates(kiosk: Kiosk) -> list[tuple[str, dict[str, Any]]]:
    session = kiosk.basket.sessions.session.session_id
    expires = (datetime.fromtimestamp(T0, UTC) + timedelta(minutes=30)).isoformat()
    offers = {"session_id": session, "offers": [{**OFFER, "offer_id": "hat_tenoff", "expires_at": expires}]}
    accept = {"action": "accept", "session_id": session, "offer_id": OFFER["offer_id"]}
    withdraw = {"action": "withdraw", "session_id": session, "scope": "analytics"}
    return [
        (kiosk.topics.offers(session), envelope(T_OFFERS, offers)),
        (kiosk.topics.ui, envelope(T_OFFER_COMMAND, accept)),
        (kiosk.topics.ui, envelope(T_CONSENT_COMMAND, withdraw)),
    ]


@fuzz(200)
@given(data=st.data())
def test_any_mutation_of_an_offer_or_consent_message_is_taken_or_a_counted_reject_that_changes_nothing(
    data: st.DataObject,
) -> None:
    with identified_kiosk() as (kiosk, router):
        session = kiosk.basket.sessions.session.session_id
        expires = (datetime.fromtimestamp(T0, UTC) + timedelta(minutes=30)).isoformat()
        shown = {"session_id": session, "offers": [{**OFFER, "expires_at": expires}]}
        router.handle(kiosk.topics.offers(session), json.dumps(envelope(T_OFFERS, shown)).encode())
        assert not router.rejected, "the offer the commands name is on the screen"
        topic, message = data.draw(st.sampled_from(templates(kiosk)))
        path = data.draw(st.sampled_from(list(paths(message))))
        mutated = replaced(message, path, data.draw(hostile_values))
        text = json.dumps(mutated).replace(f'"{HUGE_DIGITS}"', "9" * 5000)
        before = digest(kiosk.store.conn)
        router.handle(topic, text.encode())
        if router.rejected:
            assert sum(router.rejected.values()) == 1, "one message, one counted reason"
            assert digest(kiosk.store.conn) == before, f"a rejected message changed the store: {dict(router.rejected)}"
