"""EA2 credentials: the platform signs with an Ed25519 private key, the device verifies with public keys only, and
the merge grant it writes is a device-bound fingerprint, never the credential and never made with a secret."""

from __future__ import annotations

import hashlib

import ndef
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.session import Identity
from edge_agent.identity import ed25519, keys
from edge_agent.identity.tokens import (
    Claims,
    IdentityRejected,
    TokenVerifier,
    check_fingerprint_grant,
    credential_fingerprint,
    find_credential,
    issue_token,
    sign_token,
    signature_of,
)
from edge_agent.readers.nfc.content import CredentialTag, classify

SEED, OLD_SEED, THIEF_SEED = b"s" * 32, b"p" * 32, b"t" * 32
PUBLIC, OLD_PUBLIC = ed25519.public_key(SEED), ed25519.public_key(OLD_SEED)
HMAC_KEY = b"k" * 32
NOW = 1_800_000_000


def claims(
    kind: str = "app", nonce: str = "nonce0001", iat: int = NOW, ttl: int = 120, cart: str = "profile-1"
) -> Claims:
    return Claims.model_validate(
        {
            "kind": kind,
            "sub": "pseudo-0001",
            "cart": cart,
            "consent": ["profile"],
            "iat": iat,
            "exp": iat + ttl,
            "nonce": nonce,
        }
    )


def verifier(*public: bytes) -> TokenVerifier:
    return TokenVerifier(public_keys=public or (PUBLIC,))


def rejection(token: str, now: float = NOW, v: TokenVerifier | None = None) -> str:
    with pytest.raises(IdentityRejected) as caught:
        (v or verifier()).verify(token, now, "qr")
    return caught.value.reason


def test_a_signed_app_code_identifies_the_shopper_and_carries_its_fingerprint() -> None:
    token = sign_token(SEED, claims())
    identity = verifier().verify(token, NOW + 5, "qr")
    assert token.startswith("EA2.")
    assert identity == Identity(
        "pseudo-0001", "profile-1", frozenset({"profile"}), "qr", hashlib.sha256(signature_of(token)).hexdigest()
    )


def test_changed_claims_do_not_verify() -> None:
    token = sign_token(SEED, claims())
    other_body = sign_token(SEED, claims(cart="profile-2")).split(".")[1]
    head, _, signature = token.split(".")
    assert rejection(f"{head}.{other_body}.{signature}") == "bad_signature"


def test_a_token_signed_with_another_private_key_is_refused() -> None:
    assert rejection(sign_token(THIEF_SEED, claims())) == "bad_signature"


def test_during_a_rotation_the_previous_public_key_still_verifies_and_after_it_does_not() -> None:
    old = sign_token(OLD_SEED, claims(nonce="nonce-old1"))
    rotating = verifier(PUBLIC, OLD_PUBLIC)
    assert rotating.verify(old, NOW, "qr").pseudonym == "pseudo-0001"
    assert rotating.verify(sign_token(SEED, claims(nonce="nonce-new1")), NOW, "qr").pseudonym == "pseudo-0001"
    assert rejection(sign_token(OLD_SEED, claims(nonce="nonce-old2")), v=verifier(PUBLIC)) == "bad_signature"


@pytest.mark.parametrize(
    ("token_claims", "now", "reason"),
    [
        (claims(), NOW + 121, "expired_code"),
        (claims(ttl=3600), NOW, "ttl_too_long"),
        (claims(iat=NOW + 3600), NOW, "not_yet_valid"),
    ],
)
def test_ea2_keeps_every_time_check_of_ea1(token_claims: Claims, now: int, reason: str) -> None:
    assert rejection(sign_token(SEED, token_claims), now) == reason


def test_a_replayed_ea2_app_code_is_refused() -> None:
    v = verifier()
    token = sign_token(SEED, claims())
    v.verify(token, NOW, "qr")
    assert rejection(token, NOW + 1, v) == "replayed"


def test_a_device_with_public_keys_refuses_ea1_even_when_its_hmac_verifies() -> None:
    legacy = issue_token(HMAC_KEY, claims())
    assert rejection(legacy, v=TokenVerifier((HMAC_KEY,), public_keys=(PUBLIC,))) == "legacy_credential"


def test_a_legacy_device_cannot_check_an_ea2_signature() -> None:
    assert rejection(sign_token(SEED, claims()), v=TokenVerifier((HMAC_KEY,))) == "bad_signature"


@given(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
def test_an_ea2_signature_has_one_spelling(last: str) -> None:
    token = sign_token(SEED, claims())
    changed = token[:-1] + last
    if changed != token:
        assert rejection(changed) in ("malformed", "bad_signature")


def test_cards_and_qr_carry_ea2_in_the_same_uri_form_as_ea1() -> None:
    token = sign_token(SEED, claims(kind="card"))
    uri = "https://loyalty.example.com/ea2/" + token.removeprefix("EA2.")
    assert find_credential(uri) == token
    assert classify([ndef.UriRecord(uri)]) == CredentialTag(token)
    assert find_credential("https://loyalty.example.com/ea1/abc.def") == "EA1.abc.def"


def test_the_merge_grant_is_a_device_bound_fingerprint_never_the_credential() -> None:
    token = sign_token(SEED, claims())
    v = verifier()
    identity = v.verify(token, NOW, "qr")
    grant = v.merge_grant("kiosk-01", identity)
    assert grant is not None and grant.startswith("fp:")
    body, signature = token.split(".")[1:]
    assert grant != token and body not in grant and signature not in grant and token not in grant
    assert rejection(grant) == "malformed"  # it cannot be presented at a kiosk
    fingerprint = credential_fingerprint(signature_of(token))
    assert check_fingerprint_grant([fingerprint], "kiosk-01", "profile-1", grant)
    assert not check_fingerprint_grant([fingerprint], "kiosk-02", "profile-1", grant)  # another device read it
    assert not check_fingerprint_grant([fingerprint], "kiosk-01", "profile-2", grant)
    other = credential_fingerprint(signature_of(sign_token(SEED, claims(nonce="nonce0002"))))
    assert not check_fingerprint_grant([other], "kiosk-01", "profile-1", grant)  # not issued for this credential


def test_a_public_key_file_is_hex_or_base64_and_nothing_else() -> None:
    import base64

    assert keys.public_key(PUBLIC.hex() + "\n") == PUBLIC
    assert keys.public_key(base64.b64encode(PUBLIC).decode()) == PUBLIC
    assert keys.public_key(base64.urlsafe_b64encode(PUBLIC).decode().rstrip("=")) == PUBLIC
    for bad in ("", PUBLIC.hex()[:-2], "not a key at all!", base64.b64encode(SEED + SEED).decode()):
        with pytest.raises(ValueError):
            keys.public_key(bad)


def test_a_legacy_device_never_loads_libsodium() -> None:
    """PyNaCl is imported only where public keys are used: an EA1 fleet's agent pays nothing for it."""
    import subprocess
    import sys

    script = (
        "import sys, edge_agent.wiring, edge_agent.roles.sessions\n"
        "from edge_agent.identity.tokens import Claims, TokenVerifier, issue_token\n"
        "c = Claims(kind='card', sub='pseudo-0001', cart='profile-1', iat=0, nonce='nonce0001')\n"
        "TokenVerifier((b'k' * 32,)).verify(issue_token(b'k' * 32, c), 10, 'nfc')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nacl'))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"
