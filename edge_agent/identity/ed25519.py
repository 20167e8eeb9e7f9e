"""Ed25519 signatures for shopper credentials (EA2), through libsodium (PyNaCl).

Why public-key signatures: with EA1 the device holds the platform's HMAC key, which signs as well as it verifies,
so one stolen SD card mints credentials for any shopper at every store. An Ed25519 public key only verifies. This
module is imported only where EA2 is in use (a device with ``[identity] public_key_files``, the platform), so a
legacy device never loads libsodium.
"""

from __future__ import annotations

from typing import Final

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

SEED_BYTES: Final = 32
SIGNATURE_BYTES: Final = 64


def sign(seed: bytes, message: bytes) -> bytes:
    """The platform's side: the 64-byte signature of ``message`` with the private key made from ``seed``."""
    return SigningKey(seed).sign(message).signature


def public_key(seed: bytes) -> bytes:
    """The 32-byte public key the platform gives its devices."""
    return bytes(SigningKey(seed).verify_key)


def verifies(public_keys: tuple[bytes, ...], message: bytes, signature: bytes) -> bool:
    """Does the signature verify under any of the keys (current or previous, during a rotation)?"""
    if len(signature) != SIGNATURE_BYTES:
        return False
    for key in public_keys:
        try:
            VerifyKey(key).verify(message, signature)
        except BadSignatureError:
            continue
        return True
    return False
