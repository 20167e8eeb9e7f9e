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


def parse_key(config_key: str, text: str) -> bytes:
    """The key in a file named by ``identity.public_key_files`` or ``identity.key_files``. Raises ValueError."""
    return public_key(text) if config_key == PUBLIC_KEY_FILES else hmac_key(text)


def key_allowed(config_key: str) -> str:
    return PUBLIC_KEY_ALLOWED if config_key == PUBLIC_KEY_FILES else HMAC_KEY_ALLOWED
