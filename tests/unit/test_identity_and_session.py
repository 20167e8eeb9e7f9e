"""Identity credentials, NDEF content, and the session rules: nothing merges without the shopper's confirmation."""

from __future__ import annotations

import ndef
import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.domain.basket import AddItem, ClearCart, Refused, SetAttribute, SetQuantity
from edge_agent.domain.cart import Entry
from edge_agent.domain.session import Identity, MergePolicy, Session, SessionState, merge_commands, preview_merge
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.identity.tokens import Claims, IdentityRejected, TokenVerifier, issue_token
from edge_agent.readers.nfc.content import CredentialTag, ProductTag, RejectedTag, classify, decode_message
from edge_agent.readers.nfc.reader import apdu_allowed
from tests.support.fuzz import fuzz

KEY, OTHER_KEY = b"k" * 32, b"o" * 32
NOW = 1_800_000_000
A, B, C = "09506000134352", "04006381333931", "08710398502131"


def app_code(nonce: str = "nonce0001", iat: int = NOW, ttl: int = 120, key: bytes = KEY) -> str:
    claims = Claims(
        kind="app", sub="pseudo-0001", cart="profile-1", consent=("profile",), iat=iat, exp=iat + ttl, nonce=nonce
    )
    return issue_token(key, claims)


def test_a_valid_app_code_identifies_the_shopper_with_their_consent() -> None:
    identity = TokenVerifier((KEY,)).verify(app_code(), NOW + 5, "qr")
    assert identity == Identity("pseudo-0001", "profile-1", frozenset({"profile"}), "qr")


@pytest.mark.parametrize(
    ("token", "now", "reason"),
    [
        (app_code(), NOW + 121, "expired_code"),
        (app_code(key=OTHER_KEY), NOW, "bad_signature"),
        (app_code(ttl=3600), NOW, "ttl_too_long"),
        (app_code(iat=NOW + 3600), NOW, "not_yet_valid"),
        ("EA1.garbage", NOW, "malformed"),
        (app_code()[:-3] + "AAA", NOW, "bad_signature"),
    ],
)
def test_bad_credentials_are_refused_with_a_reason(token: str, now: int, reason: str) -> None:
    with pytest.raises(IdentityRejected) as caught:
        TokenVerifier((KEY,)).verify(token, now, "qr")
    assert caught.value.reason == reason


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@given(st.sampled_from(ALPHABET))
def test_a_credential_has_one_spelling_a_changed_last_character_never_verifies(last: str) -> None:
    """base64 ignores a last character's spare bits: a strict decoder refuses every other spelling."""
    token = app_code()
    changed = token[:-1] + last
    if changed == token:
        return
    with pytest.raises(IdentityRejected) as caught:
        TokenVerifier((KEY,)).verify(changed, NOW, "qr")
    assert caught.value.reason in ("malformed", "bad_signature")


def test_a_replayed_app_code_is_refused_and_the_previous_key_still_verifies() -> None:
    verifier = TokenVerifier((OTHER_KEY, KEY))  # rotated: the new key first, the old one still accepted
    verifier.verify(app_code(), NOW, "qr")
    with pytest.raises(IdentityRejected) as caught:
        verifier.verify(app_code(), NOW + 1, "qr")
    assert caught.value.reason == "replayed"


def test_ndef_content_decides_product_credential_or_refusal() -> None:
    assert classify([ndef.UriRecord(f"https://id.gs1.org/01/{A}")]) == ProductTag(ProductKey(A))
    assert classify([ndef.UriRecord("https://loyalty.example.com/ea1/abc.def")]) == CredentialTag("EA1.abc.def")
    assert classify([ndef.TextRecord("EA1.abc.def")]) == CredentialTag("EA1.abc.def")
    assert isinstance(classify([ndef.UriRecord("https://example.com/menu")]), RejectedTag)
    assert classify([]) == RejectedTag("no_usable_record", "no URI, Text or Smart Poster record (empty message)")


def test_truncated_ndef_is_refused_as_malformed() -> None:
    octets = b"".join(ndef.message_encoder([ndef.UriRecord(f"https://id.gs1.org/01/{A}")]))
    content = decode_message(octets[:-5])
    assert isinstance(content, RejectedTag) and content.reason == "malformed_ndef"


@fuzz(300)
@given(octets=st.binary(max_size=300))
def test_fuzz_any_ndef_bytes_become_content_or_a_reasoned_refusal(octets: bytes) -> None:
    content = decode_message(octets)
    assert isinstance(content, ProductTag | CredentialTag | RejectedTag)
    if isinstance(content, RejectedTag):
        assert content.reason


MIME_OR_EXTERNAL = ["application/octet-stream", "urn:nfc:ext:acme:x"]
ndef_records = st.lists(
    st.one_of(
        st.builds(ndef.UriRecord, st.sampled_from(["https://id.gs1.org/01/09506000134352", "https://x/ea1/a.b"])),
        st.builds(ndef.TextRecord, st.text(max_size=40)),
        st.builds(ndef.Record, st.sampled_from(MIME_OR_EXTERNAL), st.just(""), st.binary(max_size=40)),
    ),
    min_size=1,
    max_size=4,
)


@fuzz(300)
@given(records=ndef_records, cut=st.integers(0, 200), flip=st.tuples(st.integers(0, 400), st.integers(1, 255)))
def test_fuzz_truncated_and_bit_flipped_ndef_messages_are_content_or_reasoned_refusals(
    records: list[ndef.Record], cut: int, flip: tuple[int, int]
) -> None:
    """Valid messages torn off mid-record (a tag pulled away) or with a corrupted byte: never a crash."""
    octets = bytearray(b"".join(ndef.message_encoder(records)))
    where, mask = flip
    if octets:
        octets[where % len(octets)] ^= mask
    for candidate in (bytes(octets), bytes(octets[: max(0, len(octets) - cut)])):
        content = decode_message(candidate)
        assert isinstance(content, ProductTag | CredentialTag | RejectedTag)
        if isinstance(content, RejectedTag):
            assert content.reason


@pytest.mark.parametrize(
    ("apdu", "allowed"),
    [
        ("00A4040007D276000085010100", True),  # SELECT NDEF application
        ("00A4000C02E104", True),  # SELECT NDEF file
        ("00B0000002", True),  # READ BINARY
        ("00A404000E325041592E5359532E444446303100", False),  # SELECT PPSE
        ("00A4040007A000000003101000", False),  # SELECT Visa AID
        ("00B2010C00", False),  # READ RECORD
        ("80A8000002830000", False),  # GET PROCESSING OPTIONS
        ("00D6000002AAAA", False),  # UPDATE BINARY: the agent never writes tags
    ],
)
def test_the_apdu_allow_list_admits_ndef_reads_only(apdu: str, allowed: bool) -> None:
    assert apdu_allowed(bytes.fromhex(apdu)) is allowed


# --- sessions ---------------------------------------------------------------------------------------------
IDENTITY = Identity("pseudo-0001", "profile-1", frozenset({"profile", "cart_sync"}), "nfc")
"""A shopper whose basket may join their profile cart ("cart_sync")."""


def entry(sku: str, qty: int, n: int) -> Entry:
    return Entry(f"kiosk:00000000000000aa:{n}", "guest", sku, qty, n, "kiosk")


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (MergePolicy.SUM, {A: 3, B: 1, C: 1}),
        (MergePolicy.MAX, {A: 2, B: 1, C: 1}),
        (MergePolicy.REPLACE, {A: 1, B: 1, C: 1}),
        (MergePolicy.KEEP_ONLINE, {A: 2, C: 1}),
        (MergePolicy.SEPARATE, {A: 2, C: 1}),
    ],
)
def test_each_policy_previews_the_cart_the_shopper_will_get(policy: MergePolicy, expected: dict[str, int]) -> None:
    preview = preview_merge(policy, "guest", "profile-1", {A: 1, B: 1}, {A: 2, C: 1})
    assert {line.sku: line.result_qty for line in preview.lines if line.result_qty} == expected


def test_merge_commands_are_deltas_and_empty_the_guest_basket() -> None:
    guest = [entry(A, 1, 1), entry(B, 3, 2)]
    preview = preview_merge(MergePolicy.MAX, "guest", "profile-1", {A: 1, B: 3}, {B: 1})
    commands = merge_commands(preview, guest, "pseudo-0001", "attr-key")
    assert AddItem("profile-1", A, 1, actor="merge") in commands
    assert AddItem("profile-1", B, 2, actor="merge") in commands
    assert commands[-1] == ClearCart("guest", actor="merge")
    replace = merge_commands(preview_merge(MergePolicy.REPLACE, "guest", "profile-1", {B: 3}, {B: 1}), guest, "p", "k")
    assert SetQuantity("profile-1", B, 3, actor="merge") in replace
    separate = merge_commands(preview_merge(MergePolicy.SEPARATE, "guest", "profile-1", {A: 1}, {}), guest, "p", "k")
    assert separate == [SetAttribute("guest", "owner", "p")]


def test_nothing_merges_until_the_shopper_confirms_the_preview_they_saw() -> None:
    session = Session("s1", "guest", 0.0, MergePolicy.SUM)
    preview = session.identify(IDENTITY, {A: 1}, {}, 1.0)
    assert preview is not None and session.state is SessionState.MERGE_PREVIEW
    assert session.active_cart == "guest"
    newer = session.refresh_preview({A: 1}, {C: 1})
    assert newer is not None
    with pytest.raises(Refused) as caught:
        session.confirm(preview.preview_id, [entry(A, 1, 1)], 2.0)
    assert caught.value.reason == "preview_changed"
    commands = session.confirm(newer.preview_id, [entry(A, 1, 1)], 2.0)
    assert commands and session.state is SessionState.MERGED and session.active_cart == "profile-1"


def test_declining_keeps_the_guest_basket_and_a_later_confirm_is_refused() -> None:
    session = Session("s1", "guest", 0.0, MergePolicy.SUM)
    session.identify(IDENTITY, {A: 1}, {}, 1.0)
    session.decline(2.0)
    assert session.state is SessionState.MERGE_DECLINED and session.active_cart == "guest"
    with pytest.raises(Refused) as caught:
        session.confirm(None, [], 3.0)
    assert caught.value.reason == "no_preview"


def test_an_empty_guest_basket_goes_straight_to_the_profile_cart_and_another_shopper_is_refused() -> None:
    session = Session("s1", "guest", 0.0, MergePolicy.SUM)
    assert session.identify(IDENTITY, {}, {A: 1}, 1.0) is None
    assert session.active_cart == "profile-1"
    other = Identity("pseudo-0002", "profile-2", frozenset(), "nfc")
    with pytest.raises(Refused) as caught:
        session.identify(other, {}, {}, 2.0)
    assert caught.value.reason == "another_shopper"


def test_an_idle_session_is_detected_and_an_ended_one_refuses_everything() -> None:
    session = Session("s1", "guest", 0.0, MergePolicy.SUM, last_activity=0.0)
    session.touch(100.0)
    assert session.idle_for(1000.0) == 900.0
    session.end("timeout")
    with pytest.raises(Refused):
        session.identify(IDENTITY, {}, {}, 1001.0)
