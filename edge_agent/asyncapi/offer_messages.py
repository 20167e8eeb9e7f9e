"""Offers with consent and consent changes at the device: the contract's messages with valid examples."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from edge_agent.contract.offers import (
    ConsentCommand,
    ConsentCommandEvent,
    Offer,
    OfferCommand,
    OfferCommandEvent,
    SessionOffers,
    SessionOffersEvent,
)

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
_SESSION = "3f9a8b7c6d5e4f30"


def offer_messages() -> dict[str, tuple[str, type[BaseModel], BaseModel, str]]:
    return {
        "sessionOffers": (
            "Offers for a consented session",
            SessionOffersEvent,
            SessionOffersEvent(
                source="urn:acme:platform:offers",
                id=f"offers:{_SESSION}:1",
                time=_T0,
                data=SessionOffers(
                    session_id=_SESSION,
                    offers=[
                        Offer(
                            offer_id="socks_2for1",
                            title="Socks: two for one",
                            detail="Applied at checkout",
                            gtin14="04006381333931",
                            expires_at=datetime(2026, 11, 23, 11, 0, 0, tzinfo=UTC),
                        )
                    ],
                ),
            ),
            "Retained per session on `dv/{device}/offers/{sessionId}`, from the platform, only for a session whose "
            "identified shopper granted `personalisation` (the device learns of none otherwise, and drops offers for "
            "any other session or a shopper without the scope: counted as `stale_session`, `no_consent`, "
            "`topic_mismatch`). The platform learns of the session from the profile cart's `offers.session` attribute "
            "(written only with the scope, cleared when the session ends) and clears this topic then. A full state: "
            "the device shows at most `[offers] max_per_session` distinct offers per session, never an expired or "
            "dismissed one. The device never prices an offer: accepted, it is the cart attribute `offer.<offer_id>` = "
            "`accepted`, which the platform applies at checkout.",
        ),
        "offerCommand": (
            "Accept or dismiss an offer",
            OfferCommandEvent,
            OfferCommandEvent(
                source="urn:acme:kiosk-ui",
                id="ui-offer-1",
                time=_T0,
                data=OfferCommand(action="accept", session_id=_SESSION, offer_id="socks_2for1"),
            ),
            "From the device's screen: an offer it shows, accepted (a durable op on the session's cart, shown "
            "`pending` until the platform confirms it) or dismissed (gone for the session). Refused: `stale_session`, "
            "`not_shown`, `already_accepted`. Workflow events `offer.accepted` / `offer.dismissed`.",
        ),
        "consentCommand": (
            "Grant or withdraw a consent scope",
            ConsentCommandEvent,
            ConsentCommandEvent(
                source="urn:acme:kiosk-ui",
                id="ui-consent-1",
                time=_T0,
                data=ConsentCommand(action="withdraw", session_id=_SESSION, scope="personalisation"),
            ),
            "From the device's screen, by the identified shopper: the session enforces the change at once and records "
            "it as the profile cart's attribute `consent.<scope>` = `granted` | `withdrawn` (after the merge grant), "
            "listed in the session state's `consent_pending` until the platform confirms it. Withdrawing `profile` "
            "forgets the profile cart's local copy (unsent edits too, as erasure does) and ends the session; "
            "`cart_sync` keeps the basket out of the profile cart; `analytics` removes the pseudonym from events; "
            "`personalisation` drops the offers. Refused: `stale_session`, `not_identified`, `consent_unchanged`.",
        ),
    }
