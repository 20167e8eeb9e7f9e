"""The signed, short-lived token in a kiosk's "take my basket to my phone" link.

Format ``EAC1.<base64url(JSON claims)>.<base64url(HMAC-SHA256, first 16 bytes)>``. The claims name the device, its
guest cart and an expiry, nothing about a shopper: the link is shown on a screen anybody can photograph, so it
carries no profile id, pseudonym or reader identifier.

The key is **derived** from a platform key: HMAC-SHA256(platform key, ``edge-agent basket claim key v1|{device}``).
A legacy device holds the platform key itself (``[identity] key_files``, the EA1 identity key) and derives its
claim key; a device with public identity keys (EA2) holds only its own derived key, provisioned by the platform
(``[claim] key_file``), which signs claims for that device's carts and nothing else: no platform key is on it.
Why derived: the platform keeps one key, key rotation (current key first, the previous one still accepted) covers
claims, and the device id in the derivation plus a context string no other token uses keeps a claim from being
replayed as a credential, a merge grant or another device's claim. The platform also checks that the cart belongs
to the device (cart_authority).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from edge_agent.domain.ops import CartId, DeviceId
from edge_agent.identity import b64url, const

CLAIM_PREFIX: Final = "EAC1"
CLAIM_KEY_CONTEXT: Final = "edge-agent basket claim key v1"
CLAIM_PATH: Final = "/claim/"
"""The link is ``{platform base}/claim/{token}``: the online shop's page that asks the signed-in shopper to take it."""


class ClaimClaims(BaseModel):
    """What a claim link asserts: this device's guest cart may be taken by whoever opens it before ``exp``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    dev: DeviceId
    cart: CartId
    iat: int = Field(ge=0)
    exp: int = Field(ge=0)
    n: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,32}$")]


class ClaimRefused(ValueError):
    """A claim the platform does not honour, with a stable reason it counts."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason = reason


def claim_key(identity_key: bytes, device: str) -> bytes:
    """The device's claim key, derived from the platform's identity key (see the module's docstring for why)."""
    return hmac.new(identity_key, f"{CLAIM_KEY_CONTEXT}|{device}".encode(), hashlib.sha256).digest()


def _mac(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode(), hashlib.sha256).digest()[: const.CLAIM_MAC_BYTES]


def issue_claim(identity_key: bytes, device: str, cart: str, now: float, ttl_s: int = const.CLAIM_TTL_S) -> str:
    """What a legacy kiosk shows as a QR: a token for its guest cart, valid ``ttl_s`` from ``now``, signed with the
    claim key it derives from the identity key it holds."""
    return sign_claim(claim_key(identity_key, device), device, cart, now, ttl_s)


def sign_claim(device_key: bytes, device: str, cart: str, now: float, ttl_s: int = const.CLAIM_TTL_S) -> str:
    """The same token signed with the device's claim key itself: what a kiosk with public identity keys does, with
    the key the platform derived for it and provisioned (``[claim] key_file``). That key signs claims for this
    device's own carts only, so a stolen one mints nothing a thief did not already hold."""
    claims = ClaimClaims(
        dev=device,
        cart=cart,
        iat=int(now),
        exp=int(now) + ttl_s,
        n=b64url.encode(secrets.token_bytes(const.CLAIM_NONCE_BYTES)),
    )
    body = b64url.encode(json.dumps(claims.model_dump(mode="json"), separators=(",", ":")).encode())
    signed = f"{CLAIM_PREFIX}.{body}"
    return f"{signed}.{b64url.encode(_mac(device_key, signed))}"


def claim_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{CLAIM_PATH}{token}"


def token_of_link(link: str) -> str | None:
    """The token in a claim link (what the shop's page receives), or None when the link is not one."""
    _, marker, token = link.partition(CLAIM_PATH)
    return token if marker and token.startswith(CLAIM_PREFIX + ".") else None


def unverified_device(token: str) -> str | None:
    """The device a token names, to pick the key to check it with; trusted only after :func:`verify_claim`."""
    try:
        return _claims_of(token).dev
    except ClaimRefused:
        return None


def verify_claim(identity_keys: tuple[bytes, ...], token: str, now: float) -> ClaimClaims:
    """The platform's check: shape, signature under the named device's claim key (current or previous identity
    key), lifetime bound and expiry. Raises :class:`ClaimRefused` with ``malformed``, ``bad_signature``,
    ``ttl_too_long``, ``not_yet_valid`` or ``expired``."""
    claims = _claims_of(token)
    signed, _, mac_text = token.rpartition(".")
    try:
        offered = b64url.decode(mac_text)
    except ValueError:
        raise ClaimRefused("malformed", "signature is not base64url") from None
    keys = [claim_key(key, claims.dev) for key in identity_keys]
    if not any(hmac.compare_digest(_mac(key, signed), offered) for key in keys):
        raise ClaimRefused("bad_signature", "claim signature does not verify for its device")
    if claims.exp - claims.iat > const.CLAIM_MAX_TTL_S or claims.exp < claims.iat:
        raise ClaimRefused("ttl_too_long", f"claim links live at most {const.CLAIM_MAX_TTL_S} s")
    if claims.iat > now + const.CLAIM_CLOCK_SKEW_S:
        raise ClaimRefused("not_yet_valid", "claim issued in the future")
    if now > claims.exp:
        raise ClaimRefused("expired", "claim link expired")
    return claims


def _claims_of(token: str) -> ClaimClaims:
    if len(token) > const.MAX_CLAIM_TOKEN_CHARS:
        raise ClaimRefused("malformed", "claim token too long")
    parts = token.split(".")
    if len(parts) != 3 or parts[0] != CLAIM_PREFIX:
        raise ClaimRefused("malformed", "not an EAC1 claim token")
    try:
        return ClaimClaims.model_validate_json(b64url.decode(parts[1]))
    except (ValueError, ValidationError):
        raise ClaimRefused("malformed", "claim token's claims do not validate") from None
