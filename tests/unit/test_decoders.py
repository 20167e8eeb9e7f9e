"""Both decoders on simulated camera frames, through the real zxing-cpp and zbar libraries."""

from __future__ import annotations

from functools import cache

import cv2
import numpy as np
import pytest

from edge_agent.identifiers.gtin import normalise_gtin
from edge_agent.readers.barcode.decoders import (
    DEFAULT_DECODER,
    DecoderName,
    FormatName,
    GrayImage,
    Symbol,
    ZxingDecoder,
    _one_per_symbol,
    _Read,
    make_decoder,
)
from edge_agent.readers.barcode.zbar import PyzbarDecoder
from simulators.camera import DEMO_CODES, render_frame

DECODERS: tuple[DecoderName, ...] = ("zxing", "pyzbar")
DIGITAL_LINK = "https://id.gs1.org/01/04006381333931/10/ABC123?17=271231"
UPCA = "036000291452"
UPCA_AS_EAN13 = "0" + UPCA
UPCE = "01234565"
UPCE_AS_EAN13 = "0012345000065"


@cache
def frame(code: str, fmt: FormatName, seed: int = 7) -> GrayImage:
    """Clean 640x480 frame; cached because several tests decode the same scene."""
    return render_frame(code, fmt, np.random.default_rng(seed))


# (what is printed, in which symbology, formats the decoder is given, what it must report)
CASES: list[tuple[str, FormatName, list[str], Symbol]] = [
    *[(code, "ean13", ["ean13"], Symbol(code, "]E0")) for code in DEMO_CODES],
    (UPCA, "upca", ["ean13"], Symbol(UPCA_AS_EAN13, "]E0")),
    (UPCA, "upca", ["upca"], Symbol(UPCA_AS_EAN13, "]E0")),
    (UPCA, "upca", ["ean13", "upca"], Symbol(UPCA_AS_EAN13, "]E0")),
    (UPCE, "upce", ["upce"], Symbol(UPCE_AS_EAN13, "]E0")),
    ("96385074", "ean8", ["ean8"], Symbol("96385074", "]E4")),
    (DIGITAL_LINK, "qr", ["qr"], Symbol(DIGITAL_LINK, "]Q1")),
    ("EDGE-AGENT-42", "code128", ["code128"], Symbol("EDGE-AGENT-42", "]C0")),
]


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize(("code", "printed", "formats", "expected"), CASES)
def test_decodes_clean_frames(
    name: DecoderName, code: str, printed: FormatName, formats: list[str], expected: Symbol
) -> None:
    assert make_decoder(name, formats).decode(frame(code, printed)) == [expected]


@pytest.mark.parametrize("seed", range(3))
def test_zxing_decodes_datamatrix(seed: int) -> None:
    (symbol,) = ZxingDecoder(["datamatrix"]).decode(frame(DIGITAL_LINK, "datamatrix", seed))
    assert symbol.text == DIGITAL_LINK
    # zxing-cpp's encoder picks the modifier (]d1 for short text, ]d7 for this URI); only "]d" is fixed.
    assert symbol.symbology.startswith("]d")


@pytest.mark.parametrize("name", DECODERS)
def test_upc_a_reaches_the_same_gtin_as_ean13(name: DecoderName) -> None:
    (symbol,) = make_decoder(name, ["ean13", "upca", "upce"]).decode(frame(UPCA, "upca"))
    assert normalise_gtin(symbol.text) == normalise_gtin(UPCA) == "00036000291452"


@pytest.mark.parametrize("name", DECODERS)
def test_formats_restrict_what_is_reported(name: DecoderName) -> None:
    ean13 = frame(DEMO_CODES[0], "ean13")
    assert make_decoder(name, ["qr"]).decode(ean13) == []
    # pyzbar must enable EAN-13 internally to read UPC-A; a real EAN-13 must still not leak out.
    assert make_decoder(name, ["upca"]).decode(ean13) == []


@pytest.mark.parametrize("name", DECODERS)
def test_empty_scene_decodes_nothing(name: DecoderName) -> None:
    blank = np.full((480, 640), 128, dtype=np.uint8)
    assert make_decoder(name, ["ean13", "ean8", "code128", "qr"]).decode(blank) == []


@pytest.mark.parametrize("name", DECODERS)
def test_two_labels_in_one_frame_are_both_reported(name: DecoderName) -> None:
    left, right = DEMO_CODES[2], DEMO_CODES[3]
    pair = np.hstack([frame(left, "ean13"), frame(right, "ean13", seed=8)])
    assert sorted(s.text for s in make_decoder(name, ["ean13"]).decode(pair)) == sorted([left, right])


def test_one_read_per_symbol() -> None:
    full = _Read(Symbol("8710398502131", "]E0"), (195, 71, 533, 242), 56_000.0)
    # A real zxing-cpp misread: a 3-px band inside the symbol it had already read.
    band = _Read(Symbol("8710328512131", "]E0"), (195, 204, 531, 207), 1_000.0)
    again = _Read(Symbol("8710398502131", "]E0"), (195, 300, 531, 303), 1_000.0)
    other = _Read(Symbol("4006381333931", "]E0"), (600, 71, 900, 242), 50_000.0)
    assert _one_per_symbol([band, full, again, other]) == [full.symbol, other.symbol]


def test_pyzbar_rejects_datamatrix() -> None:
    with pytest.raises(ValueError, match="datamatrix"):
        PyzbarDecoder(["datamatrix"])


@pytest.mark.parametrize("name", DECODERS)
def test_rejects_bad_format_lists(name: DecoderName) -> None:
    with pytest.raises(ValueError, match="ean-13"):
        make_decoder(name, ["ean-13"])
    with pytest.raises(ValueError, match="at least one"):
        make_decoder(name, [])
    with pytest.raises(TypeError):
        make_decoder(name, "ean13")


@pytest.mark.parametrize("name", DECODERS)
def test_rejects_colour_frames(name: DecoderName) -> None:
    bgr = np.asarray(cv2.cvtColor(frame(DEMO_CODES[0], "ean13"), cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    with pytest.raises(ValueError, match="grayscale"):
        make_decoder(name, ["ean13"]).decode(bgr)


def test_make_decoder() -> None:
    assert isinstance(make_decoder("zxing", ["qr"]), ZxingDecoder)
    assert isinstance(make_decoder("pyzbar", ["qr"]), PyzbarDecoder)
    assert make_decoder(DEFAULT_DECODER, ["ean13"]).name == DEFAULT_DECODER
    with pytest.raises(ValueError, match="unknown decoder"):
        make_decoder("wechat", ["qr"])  # type: ignore[arg-type]
