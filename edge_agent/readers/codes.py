"""A read code (its text and AIM symbology identifier) as the event every reader that reads codes emits.

Shared by the camera (readers/barcode/) and the handheld scanners (readers/scanner/), so a code means the same
whichever reader saw it. Neutral: it imports no decoder or device library (the scanners must not load
zxing-cpp and numpy to reuse it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from edge_agent.identifiers.gtin import InvalidCode
from edge_agent.identifiers.product_key import parse_code
from edge_agent.identity.tokens import find_credential
from edge_agent.readers.events import IdentityPresented, InputRejected, ProductScanned

if TYPE_CHECKING:
    from biip.rcn import RcnRegion

CODE_DETAIL_CHARS = 32
"""How much of a rejected code the detail keeps: enough to recognise it in the log, never a whole payload."""


def code_to_event(
    text: str, symbology: str, reader: str, now: float, rcn_region: RcnRegion | str | None = None
) -> ProductScanned | IdentityPresented | InputRejected:
    """A shopper's app QR code is an identity presentation; anything else must be a product code."""
    token = find_credential(text)
    if token is not None:
        return IdentityPresented(token, "qr", reader, now)
    try:
        key = parse_code(text, symbology, rcn_region=rcn_region)
    except InvalidCode as exc:
        return InputRejected(reader, exc.reason, f"{symbology} {text[:CODE_DETAIL_CHARS]!r}: {exc}")
    return ProductScanned(key, symbology, reader, now)
