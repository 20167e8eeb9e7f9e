"""Identity credentials a shopper presents on purpose: the app's short-lived QR code and the loyalty card's tag.

Format ``EA1.<base64url(JSON claims)>.<base64url(HMAC-SHA256)>``, signed by the platform with a key the
device holds in config, so identification works while the uplink is down. App codes carry an expiry of a
few minutes and a nonce: an expired or replayed code (a screenshot) is refused. Card tokens are static;
revocation is the platform's call when it applies the session's ops.

A token is a credential: it is never logged, stored or published. What the session keeps is the shopper's
pseudonym, profile cart and consent scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from edge_agent.contract.offers import ConsentScope
from edge_agent.domain.ops import CartId
from edge_agent.domain.session import Identity
from edge_agent.identity import b64url

PREFIX: Final = "EA1"
CREDENTIAL_URI_MARKER: Final = "/ea1/"
"""On a card or in a QR, a credential may travel as ``https://<any host>/ea1/<claims>.<mac>``, so a phone that
reads the card opens the retailer's page, while the agent reads the token."""
MAX_TOKEN_CHARS: Final = 1024
"""A QR at the kiosk's camera resolution and an NTAG215 both hold this comfortably; longer is not ours."""

MAX_APP_CODE_TTL_S: Final = 600
"""App codes refresh every few minutes (retail note §4: Mobo refreshes every 5 min); a longer-lived one is
refused even if signed, so a leaked signing mistake cannot mint week-long screenshots."""

CLOCK_SKEW_S: Final = 60
"""A phone's clock may be a minute ahead of the kiosk's; beyond that an ``iat`` in the future is refused."""

REPLAY_MEMORY: Final = 4096
"""Nonces remembered until their code expires; a kiosk sees far fewer than this in 10 minutes."""

Pseudonym = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class Claims(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1] = 1
    kind: Literal["app", "card"]
    sub: Pseudonym = Field(description="the shopper's pseudonym at the platform (never a name, email or number)")
    cart: CartId = Field(description="the shopper's profile cart")
    consent: tuple[ConsentScope, ...] = ()
    iat: int = Field(ge=0)
    exp: int | None = Field(default=None, ge=0)
    nonce: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]


class IdentityRejected(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def find_credential(text: str) -> str | None:
    """The token in a scanned or tapped text: ``EA1.<claims>.<mac>`` as is, or the URI form with the prefix put
    back; ``None`` when the text is not a credential (it may still be a product code)."""
    if text.startswith(PREFIX + "."):
        return text
    if not text.startswith("https://"):
        return None
    _, marker, token = text.partition(CREDENTIAL_URI_MARKER)
    return f"{PREFIX}.{token}" if marker and token else None


def _mac(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode(), hashlib.sha256).digest()


def issue_token(key: bytes, claims: Claims) -> str:
    """What the platform does (the simulators and tests use it)."""
    body = b64url.encode(json.dumps(claims.model_dump(mode="json", exclude_none=True), separators=(",", ":")).encode())
    signed = f"{PREFIX}.{body}"
    return f"{signed}.{b64url.encode(_mac(key, signed))}"


@dataclass
class TokenVerifier:
    """Checks signature, expiry and replay; keeps the nonces of unexpired app codes in memory only."""

    keys: tuple[bytes, ...]
    """Current key first; the previous one stays valid during a rotation."""
    _seen: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def verify(self, token: str, now: float, method: str) -> Identity:
        if len(token) > MAX_TOKEN_CHARS:
            raise IdentityRejected("malformed", "credential too long")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != PREFIX:
            raise IdentityRejected("malformed", "not an EA1 credential")
        signed = f"{parts[0]}.{parts[1]}"
        try:
            signature = b64url.decode(parts[2])
        except ValueError:
            raise IdentityRejected("malformed", "signature is not base64url") from None
        if not any(hmac.compare_digest(_mac(key, signed), signature) for key in self.keys):
            raise IdentityRejected("bad_signature", "credential signature does not verify")
        try:
            claims = Claims.model_validate_json(b64url.decode(parts[1]))
        except (ValueError, ValidationError):
            raise IdentityRejected("malformed", "credential claims do not validate") from None
        self._check_time(claims, now)
        if claims.kind == "app":
            self._check_replay(claims, now)
        return Identity(claims.sub, claims.cart, frozenset(claims.consent), method)

    def _check_time(self, claims: Claims, now: float) -> None:
        if claims.iat > now + CLOCK_SKEW_S:
            raise IdentityRejected("not_yet_valid", "credential issued in the future")
        if claims.kind == "app" and (claims.exp is None or claims.exp - claims.iat > MAX_APP_CODE_TTL_S):
            raise IdentityRejected("ttl_too_long", f"app codes live at most {MAX_APP_CODE_TTL_S} s")
        if claims.exp is not None and now > claims.exp:
            raise IdentityRejected("expired_code", "credential expired")

    def _check_replay(self, claims: Claims, now: float) -> None:
        for nonce, exp in list(self._seen.items()):
            if exp >= now and len(self._seen) <= REPLAY_MEMORY:
                break
            del self._seen[nonce]
        if claims.nonce in self._seen:
            raise IdentityRejected("replayed", "this app code was already used")
        self._seen[claims.nonce] = claims.exp or 0


MERGE_GRANT_ATTR: Final = "merge.grant"
"""The attribute a device writes first on a shopper's profile cart when the shopper confirms a merge; its value is
a proof the platform checks before it lets that device write the profile cart. Written on the profile cart (not the
guest basket) so that erasing the shopper's cart erases the grant too: the device keeps no link to the profile."""

MERGE_GRANT_CONTEXT: Final = "edge-agent merge grant v1"
MERGE_PROOF_HEX: Final = 32
"""128 bits of HMAC-SHA256: enough that no device guesses a proof for a cart nobody identified at it."""


def merge_proof(key: bytes, device: str, profile_cart: str) -> str:
    """Binds a confirmed merge to this device and this profile cart, with the platform's identity key."""
    message = f"{MERGE_GRANT_CONTEXT}|{device}|{profile_cart}"
    return _mac(key, message).hex()[:MERGE_PROOF_HEX]


def check_merge_proof(keys: tuple[bytes, ...], device: str, profile_cart: str, proof: str) -> bool:
    """Does the proof verify under any key (current or previous, during a rotation)?"""
    return len(proof) == MERGE_PROOF_HEX and any(
        hmac.compare_digest(merge_proof(key, device, profile_cart), proof) for key in keys
    )


SCREEN_KEY_BYTES: Final = 32
CONFIRM_CODE_HEX: Final = 32
CONFIRM_CODE_CONTEXT: Final = "edge-agent merge confirm v1"


def confirm_code(screen_key: bytes, preview_id: str) -> str:
    """What a screen on the device sends with ``confirm_merge``: proof that it runs here (it can read the screen key,
    a file only the service user and its screen can read). The retained session state any broker client may read
    carries the preview id but never this code, so nobody off the device can confirm a shopper's merge."""
    return _mac(screen_key, f"{CONFIRM_CODE_CONTEXT}|{preview_id}").hex()[:CONFIRM_CODE_HEX]


def confirm_code_valid(screen_key: bytes, preview_id: str, code: str | None) -> bool:
    return bool(screen_key) and code is not None and hmac.compare_digest(confirm_code(screen_key, preview_id), code)
