"""The platform's side of EA2 merges (simulators/cart_authority.py): a device may write a shopper's profile cart
after a fingerprint grant made from a credential the platform issued for that cart, bound to that device; no
key is needed, and a grant read off the cart's snapshot does nothing for another device."""

from __future__ import annotations

import itertools
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.contract.cart import OpsBatch
from edge_agent.domain.basket import AddItem, BasketCommand, SetAttribute, plan
from edge_agent.domain.cart import quantities
from edge_agent.domain.ops import CartOp
from edge_agent.identity import ed25519
from edge_agent.identity.tokens import (
    MERGE_GRANT_ATTR,
    Claims,
    TokenVerifier,
    credential_fingerprint,
    fingerprint_grant,
    sign_token,
    signature_of,
)
from edge_agent.store.db import connect, migrate, transaction
from edge_agent.store.schema import PLATFORM_MIGRATIONS
from simulators import cart_authority as authority
from simulators.platform import apply as rules
from simulators.platform.sqlite_store import SqliteStore

SEED = b"s" * 32
PROFILE, SKU = "profile-1", "00000000000017"
NOW = 1_800_000_000
EPOCH = "00000000000000aa"
SEQS = itertools.count(1)


@pytest.fixture
def conn(tmp_path: Path) -> Iterator[sqlite3.Connection]:
    db = connect(tmp_path / "central.db")
    migrate(db, PLATFORM_MIGRATIONS)
    authority.create_issued_table(db)
    with transaction(db):
        authority.open_profile(db, PROFILE)
    yield db
    db.close()


def issued(conn: sqlite3.Connection, nonce: str = "nonce0001", cart: str = PROFILE) -> str:
    """What CentralPlatform.issue_credential does: sign, and record the fingerprint for the cart."""
    claims = Claims(kind="app", sub="pseudo-0001", cart=cart, iat=NOW, exp=NOW + 120, nonce=nonce)
    token = sign_token(SEED, claims)
    with transaction(conn):
        authority.record_issued(conn, cart, credential_fingerprint(signature_of(token)))
    return token


def grant_at(device: str, token: str) -> str:
    v = TokenVerifier(public_keys=(ed25519.public_key(SEED),))
    grant = v.merge_grant(device, v.verify(token, NOW, "qr"))
    assert grant is not None
    return grant


def apply(conn: sqlite3.Connection, device: str, *commands: BasketCommand) -> rules.Applied:
    ops: list[CartOp] = [
        plan(c, []).materialise(device=device, epoch=EPOCH, seq=seq, uuid=uuid.uuid4(), hlc=1000 + seq)
        for c, seq in zip(commands, SEQS, strict=False)
    ]
    batch = OpsBatch(device=device, epoch=EPOCH, ops=ops, hlc_max=max(o.hlc for o in ops))
    with transaction(conn):
        return rules.apply_batch(SqliteStore(conn), (), "t1", "s1", device, batch)


def profile_cart(conn: sqlite3.Connection) -> dict[str, int]:
    return quantities(SqliteStore(conn).live_entries(PROFILE))


def test_a_grant_from_an_issued_credential_lets_its_device_write_the_profile_cart_without_any_key(
    conn: sqlite3.Connection,
) -> None:
    grant = grant_at("kiosk-01", issued(conn))
    out = apply(conn, "kiosk-01", SetAttribute(PROFILE, MERGE_GRANT_ATTR, grant, actor="merge"), AddItem(PROFILE, SKU))
    assert (out.grants, dict(out.held)) == (1, {})
    assert profile_cart(conn) == {SKU: 1}


def test_another_device_replaying_a_grant_it_read_is_held(conn: sqlite3.Connection) -> None:
    grant = grant_at("kiosk-01", issued(conn))  # in the profile cart's retained snapshot, every device may read it
    out = apply(conn, "kiosk-02", SetAttribute(PROFILE, MERGE_GRANT_ATTR, grant, actor="merge"), AddItem(PROFILE, SKU))
    assert dict(out.held) == {"bad_merge_grant": 1, "no_merge_grant": 1}
    assert profile_cart(conn) == {}


def test_a_credential_the_platform_did_not_issue_for_this_cart_grants_nothing(conn: sqlite3.Connection) -> None:
    of_other_cart = issued(conn, cart="profile-2")  # a credential of another shopper, presented here
    other_cart = fingerprint_grant(credential_fingerprint(signature_of(of_other_cart)), "kiosk-01", PROFILE)
    never_recorded = grant_at(
        "kiosk-01",
        sign_token(SEED, Claims(kind="app", sub="pseudo-0001", cart=PROFILE, iat=NOW, exp=NOW + 60, nonce="nonce0009")),
    )
    for grant in (other_cart, never_recorded, "fp:" + "0" * 32):
        out = apply(conn, "kiosk-01", SetAttribute(PROFILE, MERGE_GRANT_ATTR, grant, actor="merge"))
        assert dict(out.held) == {"bad_merge_grant": 1}, grant
