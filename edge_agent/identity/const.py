"""The basket claim's numbers ("take my basket to my phone"), each with the reason it has its value."""

from __future__ import annotations

from typing import Final

CLAIM_TTL_S: Final = 600
"""A claim link lives 10 minutes: long enough to take the phone out, open the camera, sign in to the shop and tap
"take it", short enough that a photo of the kiosk screen taken by someone else is useless soon after the shopper
left (the app codes of retail note §4 refresh on the same order: Mobo every 5 min)."""

CLAIM_REFRESH_BEFORE_S: Final = 180
"""The kiosk shows a new link when the current one has less than 3 minutes left, so a shopper who scans the QR
always has time to sign in before the link expires."""

CLAIM_MAX_TTL_S: Final = 900
"""The platform refuses a link signed to live longer than this even if its signature verifies: a device bug cannot
mint day-long links."""

CLAIM_CLOCK_SKEW_S: Final = 60
"""The kiosk's clock may be a minute ahead of the platform's; an ``iat`` further in the future is refused."""

CLAIM_MAC_BYTES: Final = 16
"""128 bits of HMAC-SHA256: unguessable for a link checked online within minutes, and 22 characters fewer in the QR
than the full 32 bytes (a smaller QR reads faster from a phone held at arm's length)."""

CLAIM_NONCE_BYTES: Final = 9
"""72 random bits per link (12 base64url characters): two links of one cart in the same second still differ."""

MAX_CLAIM_TOKEN_CHARS: Final = 512
"""A claim token is about 150 characters; anything much longer arriving at the platform is not one of ours."""
