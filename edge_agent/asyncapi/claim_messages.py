"""The "take my basket to my phone" messages of the contract with valid examples (docs/asyncapi.yaml)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from edge_agent.asyncapi.examples import EXAMPLE_SOURCE as _SRC
from edge_agent.contract.claim import BasketClaimed, BasketClaimedEvent, ClaimView, ClaimViewEvent

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
_T_EXPIRES = datetime(2026, 11, 23, 10, 10, 0, tzinfo=UTC)
_EXAMPLE_LINK = (
    "https://shop.example/claim/EAC1.eyJ2IjoxLCJkZXYiOiJraW9zay0wMSIsImNhcnQiOiJraW9zay0wMS0zZjlhOGI3YzZkNWUiLCJpYXQiOj"
    "E3OTU0MjgwMDAsImV4cCI6MTc5NTQyODYwMCwibiI6InE4Wm1fM2tWYjJ4TiJ9.uhqpHxqFk8UGLotxD6XF4w"
)
"""Signed for kiosk-01 with an all-zero identity key, issued at the example time, valid 600 s."""


def claim_messages() -> dict[str, tuple[str, type[BaseModel], BaseModel, str]]:
    return {
        "claimView": (
            "Claim link shown on a kiosk",
            ClaimViewEvent,
            ClaimViewEvent(
                source=_SRC,
                id="kiosk-01:claim:1",
                time=_T0,
                data=ClaimView(state="offered", link=_EXAMPLE_LINK, expires_at=_T_EXPIRES),
            ),
            "Retained, for a kiosk's own screen: while the session is anonymous and the guest basket holds something, "
            "a link `{platform}/claim/{token}` the screen shows as a QR; `claimed` once the platform took the basket "
            "(a fresh basket has started); `none` otherwise. The token is `EAC1.<base64url(claims)>.<base64url(mac)>`: "
            "claims `{v: 1, dev, cart, iat, exp, n}` (device, guest cart, issued and expiry in Unix seconds, a nonce), "
            "mac the first 16 bytes of HMAC-SHA256 over `EAC1.<claims>` under the device's claim key, which is "
            "HMAC-SHA256 of `edge-agent basket claim key v1|{device}` under the platform's claim key (the legacy HMAC "
            "identity key; a device with public identity keys holds only its own claim key, `[claim] key_file`). "
            "It lives 600 s and is replaced when less than 180 s are left. No shopper is named.",
        ),
        "basketClaimed": (
            "A guest basket claimed online",
            BasketClaimedEvent,
            BasketClaimedEvent(
                source="urn:acme:platform:central",
                id="claimed:8f14e45fceea467a9575b1e2e3b0c2d1",
                time=_T0,
                subject="kiosk-01-3f9a8b7c6d5e",
                data=BasketClaimed(
                    cart="kiosk-01-3f9a8b7c6d5e",
                    claim_id="8f14e45fceea467a9575b1e2e3b0c2d1",
                    claimed_at=_T0,
                    units=3,
                ),
            ),
            "To the kiosk whose link a signed-in shopper opened and took: the platform verified the token (signature "
            "under the named device's claim key, at most 900 s of life, not expired), that the cart is that device's "
            "(a cart it has not seen yet becomes the device's: the signed link is the proof), that the basket was not "
            "claimed or checked out before, and joined the guest basket's lines into the shopper's profile cart from "
            "the web channel; "
            "lines that reach it later and were scanned before the claim (by HLC wall time) are joined as they arrive. "
            "The kiosk ends the session and starts a fresh basket. Names the guest cart only, never the shopper. A "
            "refused claim (malformed, bad_signature, ttl_too_long, not_yet_valid, expired, unknown_device, "
            "not_cart_owner, not_a_profile_cart, already_claimed, already_checked_out) is the shop's page's answer "
            "and sends nothing.",
        ),
    }
