"""A scanned line's AIM symbology identifier (ISO/IEC 15424) and what it means for the code. Pure.

Scanners configured to send it put ``]`` + code character + modifier in front of the data: ``]E0`` EAN-13/UPC,
``]E4`` EAN-8, ``]C1`` GS1-128, ``]d2`` GS1 DataMatrix, ``]Q3`` GS1 QR, ``]e0`` GS1 DataBar, ``]C0`` plain Code
128, ``]Q1`` plain QR. It is the same identifier the camera's decoders report, so the line goes through the one
identifier pipeline (identifiers/product_key.py) exactly as a camera read would: element strings for the GS1
symbologies, GTIN digits for EAN/UPC. Without it, bare digits are read as a GTIN and GS1 data is recognised only
by its GS separators or its length.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from edge_agent.identifiers.gtin import UPCE_LENGTH, InvalidCode, expand_upce
from edge_agent.identifiers.product_key import GS, GS1_AIM_IDS
from edge_agent.readers.codes import code_to_event
from edge_agent.readers.events import IdentityPresented, InputRejected, ProductScanned
from edge_agent.readers.scanner.config import AimPrefix
from edge_agent.readers.scanner.const import AIM_PREFIX_CHARS, READER_NAME
from edge_agent.readers.scanner.lines import Rejection, preview

if TYPE_CHECKING:
    from biip.rcn import RcnRegion


AIM_FLAG: Final = "]"
AIM_CODE_CHARS: Final = frozenset(string.ascii_letters)
AIM_MODIFIER_CHARS: Final = frozenset(string.ascii_letters + string.digits)
AIM_UPC: Final = "]E0"
"""``]E0`` with 8 digits is a compressed UPC-E (the form most scanners send); with 12 or 13, UPC-A or EAN-13."""


@dataclass(frozen=True, slots=True)
class ScannedCode:
    text: str
    symbology: str
    """The AIM identifier, or "" when the line had none."""


def split_aim(line: str, mode: AimPrefix) -> ScannedCode | Rejection:
    """The line's AIM identifier and data, as the configured mode reads them."""
    prefix = line[:AIM_PREFIX_CHARS]
    has_aim = (
        len(prefix) == AIM_PREFIX_CHARS
        and prefix[0] == AIM_FLAG
        and prefix[1] in AIM_CODE_CHARS
        and prefix[2] in AIM_MODIFIER_CHARS
    )
    if mode == "none" or (mode == "optional" and not has_aim):
        return ScannedCode(line, "")
    if not has_aim:
        return Rejection(
            "no_aim_prefix",
            f"readers.scanner.aim_prefix is expected, the line has none (configure the scanner to send the AIM "
            f"symbology identifier): {preview(line)}",
        )
    return ScannedCode(line[AIM_PREFIX_CHARS:], prefix)


def with_group_separators(code: ScannedCode, gs_substitute: str | None) -> ScannedCode:
    """The scanner's stand-in for GS (FNC1) put back, in GS1 symbologies and in untyped lines only: a plain
    Code 128 or QR never carries FNC1, so its text is left as it is."""
    if not gs_substitute or (code.symbology and code.symbology not in GS1_AIM_IDS):
        return code
    return ScannedCode(code.text.replace(gs_substitute, GS), code.symbology)


def as_camera_reads(code: ScannedCode) -> ScannedCode | Rejection:
    """EAN/UPC as the camera's decoders report them: a compressed UPC-E under ``]E0`` expanded to the 13-digit
    EAN form (readers/barcode/zbar.py does the same), so a scanner and a camera reach the same GTIN."""
    text = code.text
    if code.symbology == AIM_UPC and len(text) == UPCE_LENGTH and text.isascii() and text.isdigit():
        try:
            return ScannedCode("0" + expand_upce(text), code.symbology)
        except InvalidCode as exc:
            return Rejection(exc.reason, f"{code.symbology} {preview(text)}: {exc}")
    return code


@dataclass(frozen=True)
class LineDecoder:
    """One framed line -> the event the camera would emit for the same code (readers/codes.py)."""

    aim_prefix: AimPrefix = "optional"
    gs_substitute: str | None = None
    rcn_region: RcnRegion | str | None = None

    def event(self, line: str, now: float) -> ProductScanned | IdentityPresented | InputRejected:
        code = split_aim(line, self.aim_prefix)
        if not isinstance(code, Rejection):
            code = as_camera_reads(with_group_separators(code, self.gs_substitute))
        if isinstance(code, Rejection):
            return InputRejected(READER_NAME, code.reason, code.detail)
        return code_to_event(code.text, code.symbology, READER_NAME, now, self.rcn_region)
