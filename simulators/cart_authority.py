"""Who may write a cart: the platform's duty, since the broker's ACL only says who published (docs/asyncapi.yaml).

The broker fence guarantees that ops on ``dv/{device}/ops`` come from the holder of ``{device}``'s certificate.
What that device may write is decided here, in the same transaction that applies the batch:

- A device is homed at the store it first published from; a batch under another store is refused.
- A new cart belongs to the device that first writes it (guest baskets, totes).
- A pick cart (``pick-{order_id}``) may be written by any device of its store: handhelds claim orders on it and
  the platform arbitrates (simulators/pick_platform.py).
- A shopper's profile cart (opened by the platform) is written by a device only after that device's confirmed
  merge: a ``merge.grant`` attribute on that profile cart, bound to the device and the cart
  (edge_agent/identity/tokens.py). A fingerprint grant (``fp:...``, from an EA2 credential) is accepted only if it
  is made from the fingerprint of a credential the platform issued for that very cart (:func:`record_issued`); a
  legacy HMAC proof only if it verifies under the platform's identity key.
- An op the device may not write is **held**, never applied and never lost: the watermark covers it (the
  platform has it durably), and a grant that arrives later (reordering) releases the device's held ops for that
  cart in seq order.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from edge_agent.domain.ops import CartOp, OpKind
from edge_agent.identity.tokens import (
    FINGERPRINT_GRANT_PREFIX,
    MERGE_GRANT_ATTR,
    check_fingerprint_grant,
    check_merge_proof,
)
from edge_agent.roles.picking import CART_PREFIX as PICK_CART_PREFIX
from simulators.platform.port import Held, PlatformStore

PROFILE_OWNER: Final = "profile"
"""The owner recorded for a shopper's profile cart: no device id can be this (reserved for the platform's CN)."""


class WrongStore(ValueError):
    def __init__(self, device: str, home: tuple[str, str], tenant: str, store: str) -> None:
        super().__init__(f"{device} is homed at {home[0]}/{home[1]}, published under {tenant}/{store}")


def home_device(port: PlatformStore, device: str, tenant: str, store: str) -> None:
    """Bind a device to the store it first publishes from; WrongStore if it publishes under another one."""
    home = port.bind_home(device, tenant, store)
    if home != (tenant, store):
        raise WrongStore(device, home, tenant, store)


def bind_home(conn: sqlite3.Connection, device: str, tenant: str, store: str) -> tuple[str, str]:
    conn.execute("INSERT OR IGNORE INTO device_homes VALUES (?, ?, ?)", (device, tenant, store))
    row = conn.execute("SELECT tenant, store FROM device_homes WHERE device = ?", (device,)).fetchone()
    return (str(row[0]), str(row[1]))


def open_profile(conn: sqlite3.Connection, cart_id: str) -> None:
    conn.execute("INSERT OR IGNORE INTO cart_owners VALUES (?, ?)", (cart_id, PROFILE_OWNER))


def owner_of(conn: sqlite3.Connection, cart_id: str) -> str | None:
    """The device that owns a cart, ``PROFILE_OWNER`` for a shopper's, None for a cart nobody wrote yet."""
    row = conn.execute("SELECT owner FROM cart_owners WHERE cart_id = ?", (cart_id,)).fetchone()
    return None if row is None else str(row[0])


def home_of(conn: sqlite3.Connection, device: str) -> tuple[str, str] | None:
    """(tenant, store) the device was homed at, or None for a device that never published."""
    row = conn.execute("SELECT tenant, store FROM device_homes WHERE device = ?", (device,)).fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


def adopt(conn: sqlite3.Connection, cart_id: str, device: str) -> None:
    """A cart nobody owns yet becomes the device's (its first op, or a signed claim link naming it)."""
    conn.execute("INSERT INTO cart_owners VALUES (?, ?)", (cart_id, device))


def refusal(
    port: PlatformStore, keys: tuple[bytes, ...], device: str, tenant: str, store: str, op: CartOp
) -> str | None:
    """Why ``device`` may not write ``op``'s cart, or None. A cart nobody owns yet becomes the device's; a verified
    merge grant on a profile cart is allowed and recorded (call :func:`release` for ops it unblocks).
    Storage-agnostic: the same rule for the SQLite simulator and the PostgreSQL workers (simulators/platform)."""
    owner = port.owner_of(op.cart_id)
    if owner is None:
        port.adopt(op.cart_id, device)
        return None
    if owner == device:
        return None
    if owner == PROFILE_OWNER:
        if is_grant(op):
            if not grant_valid(port, keys, device, op.cart_id, op.value or ""):
                return "bad_merge_grant"
            port.record_grant(device, op.cart_id)
            return None
        return None if port.has_grant(device, op.cart_id) else "no_merge_grant"
    if op.cart_id.startswith(PICK_CART_PREFIX) and port.home_of(owner) == (tenant, store):
        return None
    return "not_cart_owner"


def grant_valid(port: PlatformStore, keys: tuple[bytes, ...], device: str, cart_id: str, grant: str) -> bool:
    """A fingerprint grant needs a credential issued for this cart; an HMAC proof (legacy devices), the key."""
    if grant.startswith(FINGERPRINT_GRANT_PREFIX):
        return check_fingerprint_grant(port.issued_fingerprints(cart_id), device, cart_id, grant)
    return check_merge_proof(keys, device, cart_id, grant)


def record_issued(conn: sqlite3.Connection, cart_id: str, fingerprint: str) -> None:
    conn.execute("INSERT OR IGNORE INTO issued_credentials VALUES (?, ?)", (cart_id, fingerprint))


def issued_fingerprints(conn: sqlite3.Connection, cart_id: str) -> list[str]:
    rows = conn.execute("SELECT fingerprint FROM issued_credentials WHERE cart_id = ?", (cart_id,)).fetchall()
    return [str(row[0]) for row in rows]


def forget_issued(conn: sqlite3.Connection, cart_id: str) -> None:
    conn.execute("DELETE FROM issued_credentials WHERE cart_id = ?", (cart_id,))


def is_grant(op: CartOp) -> bool:
    return op.kind is OpKind.ATTR_SET and op.key == MERGE_GRANT_ATTR


def record_grant(conn: sqlite3.Connection, device: str, cart_id: str) -> None:
    conn.execute("INSERT OR IGNORE INTO cart_grants VALUES (?, ?)", (device, cart_id))


def has_grant(conn: sqlite3.Connection, device: str, cart_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM cart_grants WHERE device = ? AND cart_id = ?", (device, cart_id)).fetchone()
        is not None
    )


def release(conn: sqlite3.Connection, device: str, cart_id: str) -> list[CartOp]:
    """After a grant: the device's held ops for that cart (removed from the hold), in seq order."""
    rows = conn.execute(
        "DELETE FROM held_ops WHERE device = ? AND cart_id = ? RETURNING epoch, seq, body", (device, cart_id)
    ).fetchall()
    return [CartOp.model_validate_json(body) for _, _, body in sorted(rows)]


def hold(conn: sqlite3.Connection, tenant: str, store: str, held: Held) -> None:
    op = held.op
    conn.execute(
        "INSERT OR IGNORE INTO held_ops VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (op.device, op.epoch, op.seq, op.cart_id, held.reason, op.model_dump_json(exclude_none=True), tenant, store),
    )


def held_count(conn: sqlite3.Connection, device: str | None = None) -> int:
    if device is None:
        return int(conn.execute("SELECT count(*) FROM held_ops").fetchone()[0])
    return int(conn.execute("SELECT count(*) FROM held_ops WHERE device = ?", (device,)).fetchone()[0])
