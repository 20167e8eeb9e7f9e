"""Reading the platform's identity keys from their one-line files: the agent at start and ``config check`` share
these parsers, so a file the check passes is a file the agent can use."""

from __future__ import annotations

import base64
import binascii
from typing import Final

PUBLIC_KEY_BYTES: Final = 32
"""An Ed25519 public key (RFC 8032)."""

PUBLIC_KEY_FILES: Final = "identity.public_key_files"
HMAC_KEY_FILES: Final = "identity.key_files"
HMAC_KEY_ALLOWED: Final = "the key as hex digits"
PUBLIC_KEY_ALLOWED: Final = "the 32-byte Ed25519 public key as 64 hex digits or base64 (standard or url-safe), one line"


def hmac_key(text: str) -> bytes:
    """A legacy EA1 key: hex digits. Raises ValueError."""
    return bytes.fromhex(text.strip())


def public_key(text: str) -> bytes:
    """An EA2 public key, as hex or base64 (what ``openssl``/``sodium`` tools print). Raises ValueError."""
    line = text.strip()
    if len(line) == 2 * PUBLIC_KEY_BYTES:
        try:
            return bytes.fromhex(line)
        except ValueError:
            pass
    try:
        key = base64.b64decode(line.replace("-", "+").replace("_", "/") + "=" * (-len(line) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("neither hex nor base64") from None
    if len(key) != PUBLIC_KEY_BYTES:
        raise ValueError(f"{len(key)} bytes, not {PUBLIC_KEY_BYTES}")
    return key


CLAIM_KEY_FILE: Final = "claim.key_file"
CLAIM_KEY_BYTES: Final = 32
"""HMAC-SHA256's output: the platform derives a device's claim key as one (edge_agent/identity/claim_token.py)."""
CLAIM_KEY_ALLOWED: Final = "this device's claim key from the platform, 64 hex digits on one line"


def parse_claim_key(text: str) -> bytes:
    key = bytes.fromhex(text.strip())
    if len(key) != CLAIM_KEY_BYTES:
        raise ValueError(f"{len(key)} bytes, not {CLAIM_KEY_BYTES}")
    return key


def parse_key(config_key: str, text: str) -> bytes:
    """The key in a file named by ``identity.public_key_files``, ``identity.key_files`` or ``claim.key_file``.
    Raises ValueError."""
    parser = {PUBLIC_KEY_FILES: public_key, CLAIM_KEY_FILE: parse_claim_key}.get(config_key, hmac_key)
    return parser(text)


def key_allowed(config_key: str) -> str:
    return {PUBLIC_KEY_FILES: PUBLIC_KEY_ALLOWED, CLAIM_KEY_FILE: CLAIM_KEY_ALLOWED}.get(config_key, HMAC_KEY_ALLOWED)
