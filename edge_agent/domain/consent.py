"""The shopper's consent scopes, as the device enforces them (retail note §4). Pure: names and rules, no I/O.

- ``profile``: the device keeps the shopper's profile cart after the session; withdrawn, it forgets it as erasure does.
- ``cart_sync``: the session's basket may join the profile cart (a merge preview, then a confirmed merge); without
  it the basket stays a separate guest cart and no line of it reaches the profile cart.
- ``analytics``: a workflow event may link the session to the shopper (``profile`` on the event); without it every
  event leaves with no pseudonym, only the session's opaque ids.
- ``personalisation``: the platform may publish offers for the session; without it the device shows none and tells
  the platform nothing about the session for that purpose.

A change made at the device is a cart attribute ``consent.<scope>`` on the profile cart: a durable op the platform
confirms like any other (nothing is lost offline), preceded by the merge grant that lets this device write it.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from typing import Final

PROFILE: Final = "profile"
CART_SYNC: Final = "cart_sync"
ANALYTICS: Final = "analytics"
PERSONALISATION: Final = "personalisation"
SCOPES: Final = frozenset({PROFILE, CART_SYNC, ANALYTICS, PERSONALISATION})

GRANTED: Final = "granted"
WITHDRAWN: Final = "withdrawn"
CONSENT_ATTR_PREFIX: Final = "consent."
OFFERS_SESSION_ATTR: Final = "offers.session"
"""On the profile cart, only with ``personalisation``: the session (on the op's device) the platform may send offers
to; cleared (None) when the session ends or the scope is withdrawn, and the platform then clears its offers."""
OFFER_ATTR_PREFIX: Final = "offer."
ACCEPTED: Final = "accepted"


def consent_attr(scope: str) -> str:
    return f"{CONSENT_ATTR_PREFIX}{scope}"


def offer_attr(offer_id: str) -> str:
    """The cart attribute an accepted offer is: the platform applies it at checkout (the edge prices nothing)."""
    return f"{OFFER_ATTR_PREFIX}{offer_id}"


def linked_profile(pseudonym: str | None, consent: AbstractSet[str]) -> str | None:
    """The pseudonym an event may carry: only with ``analytics`` (which links a session to a profile)."""
    return pseudonym if pseudonym is not None and ANALYTICS in consent else None
