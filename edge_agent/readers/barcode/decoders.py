"""Barcode decoders behind one interface: zxing-cpp here, pyzbar in zbar.py (imported only when configured).

Both report what the rest of the agent needs and nothing more: the text and
the AIM symbology identifier, because bare digits are ambiguous (an 8-digit
string may be EAN-8 or a compressed UPC-E) and GS1 parsing depends on it.
UPC-A and UPC-E are reported the way zxing-cpp does, as 13-digit ``]E0``, so
the choice of decoder never changes which GTIN a basket sees.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal, Protocol, get_args

import numpy as np
import zxingcpp
from numpy.typing import NDArray

FormatName = Literal["ean13", "ean8", "upca", "upce", "code128", "qr", "datamatrix"]
FORMAT_NAMES: Final[tuple[FormatName, ...]] = get_args(FormatName)
DecoderName = Literal["zxing", "pyzbar"]
GrayImage = NDArray[np.uint8]

# Median ms/frame, successes of 30 (bench/bench_decoders.py, 2026-11-23, 2-core x86-64, one thread,
# EAN-13 only; docs/benchmarks.md). zxing-cpp is 4-8x faster and reads at least as many:
#   640x480  clean     zxing 3.3 ms 30/30   pyzbar 13.3 ms 30/30
#   640x480  degraded  zxing 3.1 ms 17/30   pyzbar 17.6 ms 14/30
#   1280x720 clean     zxing 6.7 ms 30/30   pyzbar 39.0 ms 29/30
#   1280x720 degraded  zxing 6.9 ms 30/30   pyzbar 52.7 ms 13/30
DEFAULT_DECODER: Final[DecoderName] = "zxing"

AIM_EAN_UPC: Final = "]E0"
AIM_EAN8: Final = "]E4"
AIM_CODE128: Final = "]C0"
AIM_QR: Final = "]Q1"

UPCA_DIGITS: Final = 12
"""UPC-A as printed; prefixed with one zero it is the EAN-13 that zxing-cpp reports."""


@dataclass(frozen=True, slots=True)
class Symbol:
    """One decoded symbol: text plus AIM symbology identifier (e.g. ``]E0``, ``]E4``, ``]C1``, ``]Q1``)."""

    text: str
    symbology: str


class Decoder(Protocol):
    """Decodes every enabled symbol in a 2-D uint8 grayscale frame."""

    name: str

    def decode(self, gray: GrayImage) -> list[Symbol]: ...


def validated_formats(formats: Sequence[str]) -> tuple[FormatName, ...]:
    if isinstance(formats, str):  # "ean13" would otherwise iterate as letters
        raise TypeError("formats must be a sequence of format names, not a string")
    if not formats:
        raise ValueError("at least one barcode format is required")
    unknown = [f for f in formats if f not in FORMAT_NAMES]
    if unknown:
        raise ValueError(f"unknown barcode format(s) {unknown}; known: {list(FORMAT_NAMES)}")
    return tuple(f for f in FORMAT_NAMES if f in formats)


def require_gray(gray: GrayImage) -> None:
    # Both libraries would silently accept BGR (zbar even takes channel 0), so a colour frame would
    # decode worse without any error; catch it here instead.
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise ValueError(f"expected a 2-D uint8 grayscale frame, got shape {gray.shape} {gray.dtype}")


_F = zxingcpp.BarcodeFormat
ZXING_FORMATS: Final[Mapping[FormatName, zxingcpp.BarcodeFormat]] = {
    "ean13": _F.EAN13,  # also reads UPC-A, as 0-prefixed EAN-13
    "ean8": _F.EAN8,
    "upca": _F.UPCA,
    "upce": _F.UPCE,
    "code128": _F.Code128,
    "qr": _F.QRCode,
    "datamatrix": _F.DataMatrix,
}


SAME_SYMBOL_OVERLAP: Final = 0.5
"""Two reads whose boxes share more than half of the smaller box come from one printed symbol."""

Box = tuple[float, float, float, float]
"""Axis-aligned bounds (x0, y0, x1, y1) of a read's quadrilateral."""


@dataclass(frozen=True, slots=True)
class _Read:
    symbol: Symbol
    box: Box
    area: float
    """Area of the read's quadrilateral; for 1-D codes it grows with the number of scan lines that agreed."""


def _zxing_read(result: zxingcpp.Barcode) -> _Read:
    p = result.position
    corners = [(c.x, c.y) for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)]
    xs, ys = [float(x) for x, _ in corners], [float(y) for _, y in corners]
    shoelace = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(corners, corners[1:] + corners[:1], strict=True))
    return _Read(
        Symbol(result.text, result.symbology_identifier),
        (min(xs), min(ys), max(xs), max(ys)),
        abs(shoelace) / 2,
    )


def _overlap(a: Box, b: Box) -> float:
    """Intersection over the smaller box; sides are floored at 1 px so a one-line read still has an area."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width < 0 or height < 0:
        return 0.0
    smaller = min(max(a[2] - a[0], 1.0) * max(a[3] - a[1], 1.0), max(b[2] - b[0], 1.0) * max(b[3] - b[1], 1.0))
    return max(width, 1.0) * max(height, 1.0) / smaller


def _one_per_symbol(reads: list[_Read]) -> list[Symbol]:
    """Keep the best-supported read of each printed symbol.

    zxing-cpp's downscaled pass occasionally returns a second EAN-13 from a band a few pixels high
    inside a symbol it has already read, with a valid check digit but wrong digits (3 of 150 clean
    640x480 frames: 8710398502131 also read as 8710328512131). The full read spans many more lines.
    This is a mitigation, not a guarantee: a stray band that overlaps nothing survives, which is
    why the reader still votes across frames.
    """
    kept: list[_Read] = []
    for read in sorted(reads, key=lambda r: r.area, reverse=True):
        if all(_overlap(read.box, k.box) <= SAME_SYMBOL_OVERLAP for k in kept):
            kept.append(read)
    # Separate bands of one symbol can also repeat the same text; a frame reports each payload once.
    return list(dict.fromkeys(r.symbol for r in kept))


class ZxingDecoder:
    """zxing-cpp restricted to the station's formats (restriction is the main speed lever)."""

    name: str = "zxing"

    def __init__(self, formats: Sequence[str]) -> None:
        self.formats = validated_formats(formats)
        # Built once from a sequence: `a | b` is deprecated in zxing-cpp 3 and converting per frame is waste.
        self._zxing_formats = zxingcpp.BarcodeFormats([ZXING_FORMATS[f] for f in self.formats])

    def decode(self, gray: GrayImage) -> list[Symbol]:
        require_gray(gray)
        # Plain keeps GS (0x1D) separators in GS1 data; the default HRI would rewrite them to "(01)...".
        results = zxingcpp.read_barcodes(gray, formats=self._zxing_formats, text_mode=zxingcpp.TextMode.Plain)
        if len(results) == 1:  # the usual case: nothing to arbitrate
            return [Symbol(results[0].text, results[0].symbology_identifier)]
        return _one_per_symbol([_zxing_read(r) for r in results])


def make_decoder(name: DecoderName, formats: Sequence[str]) -> Decoder:
    """Build the configured decoder; raises ValueError for unknown names or unsupported formats."""
    if name == "zxing":
        return ZxingDecoder(formats)
    if name == "pyzbar":
        from edge_agent.readers.barcode.zbar import PyzbarDecoder  # libzbar only on stations that chose it

        return PyzbarDecoder(formats)
    raise ValueError(f"unknown decoder {name!r}; expected one of {list(get_args(DecoderName))}")
