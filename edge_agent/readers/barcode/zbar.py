"""pyzbar (libzbar0) behind the Decoder interface; imported only by a station whose config picks it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from pyzbar import pyzbar
from pyzbar.pyzbar import ZBarSymbol

from edge_agent.identifiers.gtin import InvalidCode, expand_upce
from edge_agent.readers.barcode.decoders import (
    AIM_CODE128,
    AIM_EAN8,
    AIM_EAN_UPC,
    AIM_QR,
    UPCA_DIGITS,
    FormatName,
    GrayImage,
    Symbol,
    require_gray,
    validated_formats,
)


@dataclass(frozen=True, slots=True)
class _ZbarFormat:
    enable: tuple[ZBarSymbol, ...]
    """Symbologies to switch on in zbar."""
    report: ZBarSymbol
    """The zbar type name results of this format come back as."""


# zbar only decodes UPC-A when EAN-13 is enabled too; with UPCA enabled it reports UPC-A as 12-digit
# UPCA, otherwise as a 0-prefixed EAN13 (exactly like zxing-cpp).
PYZBAR_FORMATS: Final[Mapping[FormatName, _ZbarFormat]] = {
    "ean13": _ZbarFormat((ZBarSymbol.EAN13,), ZBarSymbol.EAN13),
    "ean8": _ZbarFormat((ZBarSymbol.EAN8,), ZBarSymbol.EAN8),
    "upca": _ZbarFormat((ZBarSymbol.EAN13, ZBarSymbol.UPCA), ZBarSymbol.UPCA),
    "upce": _ZbarFormat((ZBarSymbol.UPCE,), ZBarSymbol.UPCE),
    "code128": _ZbarFormat((ZBarSymbol.CODE128,), ZBarSymbol.CODE128),
    "qr": _ZbarFormat((ZBarSymbol.QRCODE,), ZBarSymbol.QRCODE),
}

# pyzbar exposes neither the AIM identifier nor zbar's GS1 modifier, so GS1-128 (]C1) cannot be told
# from plain Code 128: pyzbar reports both as ]C0 (FNC1 separators still arrive as GS).
PYZBAR_AIM: Final[Mapping[str, str]] = {
    "EAN13": AIM_EAN_UPC,
    "UPCA": AIM_EAN_UPC,
    "UPCE": AIM_EAN_UPC,
    "EAN8": AIM_EAN8,
    "CODE128": AIM_CODE128,
    "QRCODE": AIM_QR,
}


def _zbar_text(type_name: str, data: bytes) -> str | None:
    """Text as zxing-cpp would report it, or None for a UPC-E that does not expand."""
    text = data.decode("utf-8", errors="replace")  # zbar already transcodes QR text to UTF-8
    if type_name == "UPCA" and len(text) == UPCA_DIGITS:
        return "0" + text
    if type_name == "UPCE":
        try:
            return "0" + expand_upce(text)
        except InvalidCode:
            return None
    return text


class PyzbarDecoder:
    """pyzbar (libzbar0); no Data Matrix, and GS1-128 comes back as ]C0 (see PYZBAR_AIM)."""

    name: str = "pyzbar"

    def __init__(self, formats: Sequence[str]) -> None:
        self.formats = validated_formats(formats)
        unsupported = [f for f in self.formats if f not in PYZBAR_FORMATS]
        if unsupported:
            raise ValueError(f"pyzbar cannot decode {unsupported}; use the zxing decoder")
        zbar = [PYZBAR_FORMATS[f] for f in self.formats]
        self._symbols = sorted({s for z in zbar for s in z.enable})
        self._reported = frozenset(z.report.name for z in zbar)

    def decode(self, gray: GrayImage) -> list[Symbol]:
        require_gray(gray)
        symbols = []
        for result in pyzbar.decode(gray, symbols=self._symbols):
            # Enabling EAN-13 for "upca" must not leak real EAN-13s when only UPC-A was asked for.
            if result.type not in self._reported:
                continue
            text = _zbar_text(result.type, result.data)
            if text is not None:
                symbols.append(Symbol(text, PYZBAR_AIM[result.type]))
        return symbols
