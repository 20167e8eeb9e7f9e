"""Identity credentials a shopper presents on purpose: the app's short-lived QR code and the loyalty card's tag.

Format ``EA2.<base64url(JSON claims)>.<base64url(Ed25519 signature)>``, signed by the platform with a private key
only it holds; the device verifies with the platform's public keys (``[identity] public_key_files``), so
identification works while the uplink is down and a stolen device yields nothing that signs. The legacy format
``EA1.<claims>.<base64url(HMAC-SHA256)>`` is verified with the platform's symmetric key (``key_files``): that key
also signs, so a device holding it can mint a credential for any shopper; a device with public keys refuses EA1.
App codes carry an expiry of a few minutes and a nonce: an expired or replayed code (a screenshot) is refused.
Card tokens are static; revocation is the platform's call when it applies the session's ops.

A token is a credential: it is never logged, stored or published. What the session keeps is the shopper's
pseudonym, profile cart and consent scopes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections import OrderedDict
from collections.abc import Iterable
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
EA2_PREFIX: Final = "EA2"
EA2_URI_MARKER: Final = "/ea2/"
"""The same URI form for EA2: ``https://<any host>/ea2/<claims>.<signature>``."""
_MARKERS: Final = ((PREFIX, CREDENTIAL_URI_MARKER), (EA2_PREFIX, EA2_URI_MARKER))
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
    """The token in a scanned or tapped text: ``EA2.<claims>.<signature>`` (or EA1) as is, or the URI form with the
    prefix put back; ``None`` when the text is not a credential (it may still be a product code)."""
    if text.startswith((PREFIX + ".", EA2_PREFIX + ".")):
        return text
    if not text.startswith("https://"):
        return None
    for prefix, uri_marker in _MARKERS:
        _, marker, token = text.partition(uri_marker)
        if marker and token:
            return f"{prefix}.{token}"
    return None


def _mac(key: bytes, signed: str) -> bytes:
    return hmac.new(key, signed.encode(), hashlib.sha256).digest()


def _body(claims: Claims) -> str:
    return b64url.encode(json.dumps(claims.model_dump(mode="json", exclude_none=True), separators=(",", ":")).encode())


def issue_token(key: bytes, claims: Claims) -> str:
    """What a legacy platform does (EA1, HMAC): the simulators and tests use it."""
    signed = f"{PREFIX}.{_body(claims)}"
    return f"{signed}.{b64url.encode(_mac(key, signed))}"


def sign_token(seed: bytes, claims: Claims) -> str:
    """What the platform does (EA2): signs with its Ed25519 private key (``seed``), which no device holds."""
    from edge_agent.identity import ed25519

    signed = f"{EA2_PREFIX}.{_body(claims)}"
    return f"{signed}.{b64url.encode(ed25519.sign(seed, signed.encode()))}"


def signature_of(token: str) -> bytes:
    """The signature bytes of a well-formed token (the platform fingerprints what it issued). Raises ValueError."""
    return b64url.decode(token.rsplit(".", 1)[-1])


@dataclass
class TokenVerifier:
    """Checks signature, expiry and replay; keeps the nonces of unexpired app codes in memory only.

    With ``public_keys`` the device verifies EA2 and refuses EA1 (``legacy_credential``): accepting EA1 would keep
    the symmetric key, the very thing a stolen device must not yield, in use. With only ``keys`` (legacy) it
    verifies EA1 and refuses EA2 (``bad_signature``: it has no key to check one with)."""

    keys: tuple[bytes, ...] = ()
    """Legacy HMAC keys (EA1). Current key first; the previous one stays valid during a rotation."""
    public_keys: tuple[bytes, ...] = ()
    """Ed25519 public keys (EA2), current first, the previous one during a rotation."""
    _seen: OrderedDict[str, int] = field(default_factory=OrderedDict)

    def verify(self, token: str, now: float, method: str) -> Identity:
        if len(token) > MAX_TOKEN_CHARS:
            raise IdentityRejected("malformed", "credential too long")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] not in (PREFIX, EA2_PREFIX):
            raise IdentityRejected("malformed", "not an EA2 or EA1 credential")
        if parts[0] == PREFIX and self.public_keys:
            raise IdentityRejected("legacy_credential", "EA1 (HMAC) credentials are refused where public keys are set")
        signed = f"{parts[0]}.{parts[1]}"
        try:
            signature = b64url.decode(parts[2])
        except ValueError:
            raise IdentityRejected("malformed", "signature is not base64url") from None
        if not self._signature_verifies(parts[0], signed, signature):
            raise IdentityRejected("bad_signature", "credential signature does not verify")
        try:
            claims = Claims.model_validate_json(b64url.decode(parts[1]))
        except (ValueError, ValidationError):
            raise IdentityRejected("malformed", "credential claims do not validate") from None
        self._check_time(claims, now)
        if claims.kind == "app":
            self._check_replay(claims, now)
        fingerprint = credential_fingerprint(signature) if parts[0] == EA2_PREFIX else None
        return Identity(claims.sub, claims.cart, frozenset(claims.consent), method, fingerprint)

    def _signature_verifies(self, prefix: str, signed: str, signature: bytes) -> bool:
        if prefix == PREFIX:
            return any(hmac.compare_digest(_mac(key, signed), signature) for key in self.keys)
        if not self.public_keys:
            return False
        from edge_agent.identity import ed25519  # libsodium only on devices that use it

        return ed25519.verifies(self.public_keys, signed.encode(), signature)

    def merge_grant(self, device: str, identity: Identity) -> str | None:
        """The ``merge.grant`` value for a merge into the identity's profile cart: a fingerprint grant for an EA2
        credential, the legacy HMAC proof for EA1; None when this device can make neither."""
        if identity.fingerprint is not None:
            return fingerprint_grant(identity.fingerprint, device, identity.profile_cart)
        if self.keys:
            return merge_proof(self.keys[0], device, identity.profile_cart)
        return None

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
a proof the platform checks before it lets that device write the profile cart: a fingerprint grant
(:func:`fingerprint_grant`, EA2) or, from a legacy device, an HMAC proof (:func:`merge_proof`). Written on the
profile cart (not the guest basket) so that erasing the shopper's cart erases the grant too: the device keeps no
link to the profile."""

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


FINGERPRINT_GRANT_PREFIX: Final = "fp:"
"""Marks a grant made from an EA2 credential's fingerprint (an HMAC proof is bare hex)."""
FINGERPRINT_GRANT_CONTEXT: Final = "edge-agent merge grant fp v1"


def credential_fingerprint(signature: bytes) -> str:
    """SHA-256 of a credential's signature (hex): what the platform records for each credential it issues. It is
    not a credential (it cannot be presented: a token needs the signature, and SHA-256 does not give it back)."""
    return hashlib.sha256(signature).hexdigest()


def fingerprint_grant(fingerprint: str, device: str, profile_cart: str) -> str:
    """A merge grant with no shared secret: ``fp:`` + 128 bits of SHA-256 over the credential's fingerprint, bound
    to this device and this cart. Only a device that saw the credential can make it; bound to the device, a grant
    another device reads in the profile cart's snapshot is useless to it."""
    message = f"{FINGERPRINT_GRANT_CONTEXT}|{device}|{profile_cart}|{fingerprint}"
    return FINGERPRINT_GRANT_PREFIX + hashlib.sha256(message.encode()).hexdigest()[:MERGE_PROOF_HEX]


def check_fingerprint_grant(issued: Iterable[str], device: str, profile_cart: str, grant: str) -> bool:
    """The platform's check: is the grant made from a fingerprint it issued for this very cart?"""
    return any(hmac.compare_digest(fingerprint_grant(fp, device, profile_cart), grant) for fp in issued)


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
