"""The platform's side of "take my basket to my phone": honour a kiosk's signed claim link once, join the guest
basket into the signed-in shopper's profile cart, and keep joining the lines the kiosk scanned before the claim
that reach the platform afterwards (ops in flight, or a kiosk that was offline when the shopper opened the link).

What the platform checks, in the transaction that joins (a refusal is a :class:`ClaimRefused` with its reason,
counted by the simulator):

- the token (edge_agent/identity/claim_token.py): shape (``malformed``), signature under the named device's claim
  key derived from the identity key (``bad_signature``), lifetime (``ttl_too_long``, ``not_yet_valid``, ``expired``);
- ownership, per cart_authority: the guest cart belongs to the device that signed the link (``not_cart_owner``);
  a cart the platform has not seen yet (the kiosk was offline) becomes that device's, the signed link being the
  proof that the device made it; the device must be homed at a store (``unknown_device``); the target is a
  shopper's profile cart (``not_a_profile_cart``);
- once: a guest basket is claimed at most once, by whichever link (``already_claimed``), and not after it became
  an order at the till (``already_checked_out``).

The join itself is the platform writing the profile cart from the web channel (the claim is the proof the shopper
may): each line's units are added. Lines scanned after the claim (by HLC wall time) are not the claimer's: they stay
in the guest cart, and the kiosk, told of the claim, has started a fresh basket anyway.

Never on the link's load: the shop's page shows the basket and the shopper taps "take it" (retail note §2, "never
merge on a QR or link load"); :meth:`simulators.central.CentralPlatform.claim` is that tap's backend.
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass

from edge_agent.domain.basket import AddItem
from edge_agent.domain.cart import quantities
from edge_agent.domain.hlc import wall_ms_of
from edge_agent.identity.claim_token import ClaimRefused, verify_claim
from edge_agent.store import carts
from simulators import cart_authority as authority


@dataclass(frozen=True, slots=True)
class Admitted:
    cart: str
    device: str
    claim_id: str
    tenant: str
    store: str


def admit(conn: sqlite3.Connection, keys: tuple[bytes, ...], token: str, profile_cart: str, now: float) -> Admitted:
    """In the claim's transaction: every check of the module's docstring, then the claim recorded."""
    claims = verify_claim(keys, token, now)
    home = authority.home_of(conn, claims.dev)
    if home is None:
        raise ClaimRefused("unknown_device", f"{claims.dev} never published to the platform")
    owner = authority.owner_of(conn, claims.cart)
    if owner is None:  # not synced yet: the signed link proves the device made it
        authority.adopt(conn, claims.cart, claims.dev)
    elif owner != claims.dev:
        raise ClaimRefused("not_cart_owner", f"{claims.cart} is not {claims.dev}'s cart")
    held = conn.execute("SELECT 1 FROM cart_versions WHERE cart_id = ?", (profile_cart,)).fetchone()
    if authority.owner_of(conn, profile_cart) != authority.PROFILE_OWNER or held is None:  # None: erased
        raise ClaimRefused("not_a_profile_cart", "the target is not a shopper's profile cart the platform holds")
    if conn.execute("SELECT 1 FROM basket_claims WHERE cart_id = ?", (claims.cart,)).fetchone():
        raise ClaimRefused("already_claimed", f"{claims.cart} was claimed before")
    if carts.seal_of(conn, claims.cart) is not None:
        raise ClaimRefused("already_checked_out", f"{claims.cart} became an order at the till")
    claim_id = uuid.uuid4().hex
    conn.execute(
        "INSERT INTO basket_claims VALUES (?, ?, ?, ?, ?)",
        (claims.cart, claim_id, claims.dev, profile_cart, int(now * 1000)),
    )
    return Admitted(claims.cart, claims.dev, claim_id, home[0], home[1])


def claimed_among(conn: sqlite3.Connection, cart_ids: set[str]) -> list[str]:
    """Which of these carts were claimed (their new ops may have lines to join): one query per batch."""
    if not cart_ids:
        return []
    marks = ",".join("?" * len(cart_ids))
    rows = conn.execute(f"SELECT cart_id FROM basket_claims WHERE cart_id IN ({marks})", sorted(cart_ids))
    return sorted(str(row[0]) for row in rows)


def forget_profile(conn: sqlite3.Connection, profile_cart: str) -> None:
    """Erasure: the claims into a forgotten profile cart go (they name it); the guest carts stay the kiosk's."""
    claimed = "SELECT cart_id FROM basket_claims WHERE profile_cart = ?"
    conn.execute(f"DELETE FROM basket_claim_lines WHERE cart_id IN ({claimed})", (profile_cart,))
    conn.execute("DELETE FROM basket_claims WHERE profile_cart = ?", (profile_cart,))


def due(conn: sqlite3.Connection, cart_id: str) -> list[AddItem]:
    """The units of a claimed guest cart not yet joined into the profile: every line scanned before the claim,
    less what was joined already (recorded as joined here, in the caller's transaction)."""
    profile_cart, claimed_ms = conn.execute(
        "SELECT profile_cart, claimed_ms FROM basket_claims WHERE cart_id = ?", (cart_id,)
    ).fetchone()
    before = [e for e in carts.live_entries(conn, cart_id) if wall_ms_of(e.hlc) <= claimed_ms]
    joined = dict(conn.execute("SELECT sku, qty FROM basket_claim_lines WHERE cart_id = ?", (cart_id,)).fetchall())
    commands = []
    for sku, qty in sorted(quantities(before).items()):
        more = qty - joined.get(sku, 0)
        if more > 0:
            commands.append(AddItem(profile_cart, sku, more, actor="web"))
            conn.execute(
                "INSERT INTO basket_claim_lines VALUES (?, ?, ?) "
                "ON CONFLICT (cart_id, sku) DO UPDATE SET qty = excluded.qty",
                (cart_id, sku, qty),
            )
    return commands


def joined_units(conn: sqlite3.Connection, cart_id: str) -> int:
    row = conn.execute("SELECT coalesce(sum(qty), 0) FROM basket_claim_lines WHERE cart_id = ?", (cart_id,)).fetchone()
    return int(row[0])
