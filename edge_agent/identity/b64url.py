"""Unpadded base64url, one spelling per value: the signed tokens' (EA2 and EA1 credentials, EAC1 claim links) encoding.

Decoding is strict. base64 ignores the spare low bits of a last character, so without the round-trip check one
signature has several spellings, and a "changed" token still verifies (the claim token's property test found it).
"""

from __future__ import annotations

import base64
import binascii


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def decode(text: str) -> bytes:
    """Raises ValueError for anything but the one canonical spelling (no padding, no stray characters)."""
    try:
        data = base64.urlsafe_b64decode(text.encode("ascii") + b"=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not base64url: {exc}") from None
    if encode(data) != text:
        raise ValueError("not canonical base64url")
    return data
