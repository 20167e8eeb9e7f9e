"""The platform's side of EA2 merges (simulators/cart_authority.py): a device may write a shopper's profile cart
after a fingerprint grant made from a credential the platform issued for that cart, bound to that device; no
key is needed, and a grant read off the cart's snapshot does nothing for another device."""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
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
from simulators.platform.pg_store import PgStore, create_schema
from simulators.platform.port import PlatformStore
from simulators.platform.sqlite_store import SqliteStore

SEED = b"s" * 32
PROFILE, SKU = "profile-1", "00000000000017"
NOW = 1_800_000_000
EPOCH = "00000000000000aa"
SEQS = itertools.count(1)


class Platform:
    """One storage adapter (the simulator's SQLite, the workers' PostgreSQL) and its transaction."""

    def __init__(self, port: PlatformStore, tx: Callable[[], contextlib.AbstractContextManager[Any]]) -> None:
        self.port, self.tx = port, tx

    def issue(self, nonce: str = "nonce0001", cart: str = PROFILE) -> str:
        """What CentralPlatform.issue_credential does: sign, and record the fingerprint for the cart."""
        token = sign_token(SEED, Claims(kind="app", sub="pseudo-0001", cart=cart, iat=NOW, exp=NOW + 120, nonce=nonce))
        with self.tx():
            self.port.record_issued(cart, credential_fingerprint(signature_of(token)))
        return token

    def apply(self, device: str, *commands: BasketCommand) -> rules.Applied:
        ops: list[CartOp] = [
            plan(c, []).materialise(device=device, epoch=EPOCH, seq=seq, uuid=uuid.uuid4(), hlc=1000 + seq)
            for c, seq in zip(commands, SEQS, strict=False)
        ]
        batch = OpsBatch(device=device, epoch=EPOCH, ops=ops, hlc_max=max(o.hlc for o in ops))
        with self.tx():
            return rules.apply_batch(self.port, (), "t1", "s1", device, batch)

    def profile_cart(self) -> dict[str, int]:
        with self.tx():
            return quantities(self.port.live_entries(PROFILE))


@pytest.fixture(params=["sqlite", "postgres"])
def platform(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Platform]:
    if request.param == "sqlite":
        conn = connect(tmp_path / "central.db")
        migrate(conn, PLATFORM_MIGRATIONS)
        with transaction(conn):
            authority.open_profile(conn, PROFILE)
        yield Platform(SqliteStore(conn), lambda: transaction(conn))
        conn.close()
    else:
        pg = psycopg.connect(request.getfixturevalue("pg_dsn"), autocommit=True)
        create_schema(pg)
        pg_store = PgStore(pg)
        with pg.transaction():
            pg_store.open_profile(PROFILE, "t1", "s1")
        yield Platform(pg_store, pg.transaction)
        pg.close()


def grant_op(grant: str) -> SetAttribute:
    return SetAttribute(PROFILE, MERGE_GRANT_ATTR, grant, actor="merge")


def grant_at(device: str, token: str) -> str:
    v = TokenVerifier(public_keys=(ed25519.public_key(SEED),))
    grant = v.merge_grant(device, v.verify(token, NOW, "qr"))
    assert grant is not None
    return grant


def test_a_grant_from_an_issued_credential_lets_its_device_write_the_profile_cart_without_any_key(
    platform: Platform,
) -> None:
    grant = grant_at("kiosk-01", platform.issue())
    out = platform.apply("kiosk-01", grant_op(grant), AddItem(PROFILE, SKU))
    assert (out.grants, dict(out.held)) == (1, {})
    assert platform.profile_cart() == {SKU: 1}


def test_another_device_replaying_a_grant_it_read_is_held(platform: Platform) -> None:
    grant = grant_at("kiosk-01", platform.issue())  # in the profile cart's retained snapshot, every device may read it
    out = platform.apply("kiosk-02", grant_op(grant), AddItem(PROFILE, SKU))
    assert dict(out.held) == {"bad_merge_grant": 1, "no_merge_grant": 1}
    assert platform.profile_cart() == {}


def test_a_credential_the_platform_did_not_issue_for_this_cart_grants_nothing(platform: Platform) -> None:
    of_other_cart = platform.issue(cart="profile-2")  # a credential of another shopper, presented here
    other_cart = fingerprint_grant(credential_fingerprint(signature_of(of_other_cart)), "kiosk-01", PROFILE)
    never_recorded = grant_at(
        "kiosk-01",
        sign_token(SEED, Claims(kind="app", sub="pseudo-0001", cart=PROFILE, iat=NOW, exp=NOW + 60, nonce="nonce0009")),
    )
    for grant in (other_cart, never_recorded, "fp:" + "0" * 32):
        out = platform.apply("kiosk-01", grant_op(grant))
        assert dict(out.held) == {"bad_merge_grant": 1}, grant


def test_an_erased_shoppers_credentials_grant_nothing_any_more(platform: Platform) -> None:
    grant = grant_at("kiosk-01", platform.issue())
    with platform.tx():
        platform.port.forget_issued(PROFILE)  # right to be forgotten: the fingerprints go with the cart
    out = platform.apply("kiosk-01", grant_op(grant), AddItem(PROFILE, SKU))
    assert dict(out.held) == {"bad_merge_grant": 1, "no_merge_grant": 1}
    assert platform.profile_cart() == {}


def test_a_platform_database_that_made_its_fingerprint_table_before_the_migration_keeps_what_it_issued(
    tmp_path: Path,
) -> None:
    conn = connect(tmp_path / "central.db")
    before = [(name, step) for name, step in PLATFORM_MIGRATIONS if name < "0008"]
    migrate(conn, before)
    with transaction(conn):  # as the simulator did at every start before migration 0008
        conn.execute(
            "CREATE TABLE IF NOT EXISTS issued_credentials (cart_id TEXT NOT NULL, fingerprint TEXT NOT NULL, "
            "PRIMARY KEY (cart_id, fingerprint)) WITHOUT ROWID"
        )
        authority.record_issued(conn, PROFILE, "fp-issued-last-week")
    assert migrate(conn, PLATFORM_MIGRATIONS)[0] == "0008_issued_credentials"
    assert authority.issued_fingerprints(conn, PROFILE) == ["fp-issued-last-week"]
    conn.close()
