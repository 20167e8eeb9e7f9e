"""The kiosk's claim link as a QR code: SVG rendered on the device with segno (pure Python, no native library),
served from the screen's own origin so the page's ``img-src 'self'`` policy holds and no third party ever sees
the link."""

from __future__ import annotations

import functools
import io
from typing import Any

import segno

QR_ERROR_LEVEL = "m"
"""Level M (15 % of the code may be unreadable): a phone held at an angle to a glossy kiosk screen, with reflections,
still reads it; H would make the code a version or two larger for a link this long."""

QR_SCALE = 8
"""Pixels per module in the SVG's own size; the page scales it (a vector: any size stays sharp)."""

QR_QUIET_ZONE = 4
"""Modules of white margin: the four the QR standard (ISO/IEC 18004) asks for; readers fail on less."""


def claim_link_of(view: dict[str, Any] | None) -> str | None:
    """The link in the screen feed's latest claim view (``{topic, type, data}``), while one is offered."""
    data = view.get("data") if view is not None else None
    if not isinstance(data, dict) or data.get("state") != "offered":
        return None
    link = data.get("link")
    return link if isinstance(link, str) else None


@functools.lru_cache(maxsize=4)
def qr_svg(link: str) -> bytes:
    """The link as an SVG QR code, dark on white whatever the page's colours. Cached: a link is shown for minutes."""
    out = io.BytesIO()
    segno.make(link, error=QR_ERROR_LEVEL).save(
        out, kind="svg", scale=QR_SCALE, border=QR_QUIET_ZONE, dark="#000", light="#fff", xmldecl=False
    )
    return out.getvalue()
