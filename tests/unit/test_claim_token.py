"""The claim link's token ("take my basket to my phone"): the platform honours exactly the links a device signed
for its own guest cart, within their lifetime, and refuses everything else with a stable reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.identity import const
from edge_agent.identity.claim_token import (
    ClaimRefused,
    claim_key,
    claim_link,
    issue_claim,
    token_of_link,
    verify_claim,
)
from edge_agent.identity.tokens import merge_proof

KEY = bytes(range(32))
OLD_KEY = bytes(range(32, 64))
NOW = 1_790_000_000.0
devices = st.from_regex(r"^[a-z0-9][a-z0-9_-]{0,20}$", fullmatch=True)
carts = st.from_regex(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,40}$", fullmatch=True)


def refusal(token: str, now: float = NOW, keys: tuple[bytes, ...] = (KEY,)) -> str:
    with pytest.raises(ClaimRefused) as refused:
        verify_claim(keys, token, now)
    return refused.value.reason


@given(device=devices, cart=carts, age=st.integers(0, const.CLAIM_TTL_S))
def test_a_link_verifies_for_its_device_and_cart_until_it_expires(device: str, cart: str, age: int) -> None:
    claims = verify_claim((KEY,), issue_claim(KEY, device, cart, NOW), NOW + age)
    assert (claims.dev, claims.cart, claims.exp) == (device, cart, int(NOW) + const.CLAIM_TTL_S)


def test_an_expired_link_is_refused() -> None:
    assert refusal(issue_claim(KEY, "kiosk-01", "kiosk-01-abc", NOW), NOW + const.CLAIM_TTL_S + 1) == "expired"


def test_a_link_from_the_future_or_signed_to_live_too_long_is_refused() -> None:
    assert refusal(issue_claim(KEY, "kiosk-01", "c1", NOW + 3600)) == "not_yet_valid"
    assert refusal(issue_claim(KEY, "kiosk-01", "c1", NOW, ttl_s=const.CLAIM_MAX_TTL_S + 1)) == "ttl_too_long"


@given(position=st.integers(0, 400), flip=st.integers(1, 255))
def test_any_changed_character_is_refused(position: int, flip: int) -> None:
    token = issue_claim(KEY, "kiosk-01", "kiosk-01-3f9a8b7c6d5e", NOW)
    i = position % len(token)
    tampered = token[:i] + chr((ord(token[i]) + flip) % 128 or 65) + token[i + 1 :]
    if tampered == token:
        return
    assert refusal(tampered) in {"bad_signature", "malformed"}


def test_the_signature_has_one_spelling() -> None:
    """base64 decoding ignores the last character's spare bits; a token that differs there is not the token."""
    token = issue_claim(KEY, "kiosk-01", "kiosk-01-3f9a8b7c6d5e", NOW)
    for other in "ABCDEFGHIJKLMNOPQRSTUVWXYZ":
        if other != token[-1]:
            assert refusal(token[:-1] + other) in {"bad_signature", "malformed"}


def test_claims_for_another_device_or_cart_do_not_verify_under_the_original_signature() -> None:
    token = issue_claim(KEY, "kiosk-01", "kiosk-01-abc", NOW)
    forged = issue_claim(KEY, "kiosk-02", "kiosk-01-abc", NOW)
    head, body, _ = forged.split(".")
    assert refusal(f"{head}.{body}.{token.split('.')[2]}") == "bad_signature"


def test_a_link_signed_with_another_key_is_refused_and_the_previous_key_is_accepted_during_rotation() -> None:
    token = issue_claim(OLD_KEY, "kiosk-01", "kiosk-01-abc", NOW)
    assert refusal(token) == "bad_signature"
    assert verify_claim((KEY, OLD_KEY), token, NOW).cart == "kiosk-01-abc"


def test_the_claim_key_is_per_device_and_is_not_the_merge_grant() -> None:
    assert claim_key(KEY, "kiosk-01") != claim_key(KEY, "kiosk-02")
    assert claim_key(KEY, "kiosk-01").hex()[:32] != merge_proof(KEY, "kiosk-01", "kiosk-01")


@pytest.mark.parametrize("junk", ["", "EAC1", "EAC1.x.y", "EA1.e30.AAAA", "EAC1.e30.AAAA", "EAC1." + "A" * 600 + ".x"])
def test_junk_is_malformed(junk: str) -> None:
    assert refusal(junk) == "malformed"


def test_the_link_carries_the_token_and_no_shopper() -> None:
    token = issue_claim(KEY, "kiosk-01", "kiosk-01-abc", NOW)
    link = claim_link("https://shop.example/", token)
    assert link == f"https://shop.example/claim/{token}"
    assert token_of_link(link) == token
    assert token_of_link("https://shop.example/ea1/x.y") is None
    assert len(link) < 200, "a small QR"
