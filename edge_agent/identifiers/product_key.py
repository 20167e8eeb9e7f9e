"""One identifier pipeline: every code the agent can meet becomes one product key.

Camera symbols (EAN/UPC, GS1-128, GS1 DataMatrix, QR), NFC URI and Text records and wedge input all end
here, so ``036000291452`` (UPC-A), ``0036000291452`` (EAN-13), ``(01)00036000291452`` and
``https://id.gs1.org/01/00036000291452`` are the same product. Parsing of GS1 syntax is biip's job (it
knows every AI, the FNC1 rules, Digital Link and the per-country variable-measure layouts); this module
decides what the agent keys on and rejects everything else with a stable reason.

biip is imported on the first code that needs it (an element string, a Digital Link, a variable-measure code
with a region), never at import: importing it decodes its GS1 prefix and company-prefix tries, about 11 MB of
heap a camera reading plain EAN/UPC never uses (docs/benchmarks.md, memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from edge_agent.identifiers.gtin import GTIN14_LENGTH, InvalidCode, normalise_gtin

if TYPE_CHECKING:
    from biip.gs1_messages import GS1Message
    from biip.rcn import RcnRegion

MAX_CODE_CHARS: Final = 512
"""Longer than any GS1 symbol or Digital Link a product carries (a QR at EC level L holds ~2,900 bytes,
but GS1 caps element strings at 48 data characters per AI); anything longer is hostile or not ours."""

GS1_AIM_IDS: Final = frozenset({"]C1", "]e0", "]d2", "]Q3", "]J1"})
"""AIM symbology identifiers that announce GS1 element strings: GS1-128, DataBar, GS1 DataMatrix, GS1 QR,
GS1 DotCode."""

EAN_UPC_AIM_PREFIX: Final = "]E"
"""``]E0`` EAN-13/UPC-A/UPC-E, ``]E4`` EAN-8, ``]E3`` with add-on: bare GTIN digits."""

GS: Final = "\x1d"
"""ASCII group separator: FNC1 as decoders transmit it, ending a variable-length AI that is not last."""

RCN_VARIABLE_MEASURE_PREFIXES: Final = frozenset({"02", *(f"2{d}" for d in range(10))})
"""GS1 GenSpecs 2.1.11: on the 13-digit form, 02 and 20-29 are variable-measure items within a region."""

AI_GTIN, AI_LOT, AI_EXPIRY, AI_SERIAL = "01", "10", "17", "21"
AI_NET_WEIGHT_KG_PREFIX: Final = "310"
"""3100-3105: net weight in kg, the last digit is the number of decimals."""


class MeasureKind(StrEnum):
    WEIGHT_KG = "weight_kg"
    PRICE = "price"
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class Measure:
    """A variable measure split off the code; it is carried on the line, never part of the item key."""

    kind: MeasureKind
    value: Decimal


@dataclass(frozen=True, slots=True)
class ProductKey:
    gtin14: str
    serial: str | None = None
    lot: str | None = None
    expiry: date | None = None
    measure: Measure | None = None
    restricted: bool = False
    """A store-internal (restricted circulation) number: look it up in the store's catalog, never globally."""


def _reject(reason: str, message: str) -> InvalidCode:
    return InvalidCode(reason, message)


def _guard(text: str) -> None:
    if not text:
        raise _reject("empty", "empty code")
    if len(text) > MAX_CODE_CHARS:
        raise _reject("too_long", f"code of {len(text)} characters (at most {MAX_CODE_CHARS})")
    if any(ord(c) < 0x20 and c != GS for c in text) or "\x7f" in text:
        raise _reject("control_characters", "code contains control characters other than GS")


def _from_gs1(message: GS1Message, what: str) -> ProductKey:
    from biip.gs1_element_strings import GS1ElementString

    fields: dict[str, GS1ElementString] = {e.ai.ai: e for e in message.element_strings}
    gtin_field = fields.get(AI_GTIN)
    if gtin_field is None:
        found = ",".join(fields) or "none"
        raise _reject("no_gtin", f"{what} has no GTIN (AI 01); AIs found: {found}")
    gtin14 = normalise_gtin(gtin_field.value)
    measure = next(
        (
            Measure(MeasureKind.WEIGHT_KG, f.decimal)
            for ai, f in fields.items()
            if ai.startswith(AI_NET_WEIGHT_KG_PREFIX) and f.decimal is not None
        ),
        None,
    )
    expiry = fields[AI_EXPIRY].date if AI_EXPIRY in fields else None
    return ProductKey(
        gtin14,
        serial=fields[AI_SERIAL].value if AI_SERIAL in fields else None,
        lot=fields[AI_LOT].value if AI_LOT in fields else None,
        expiry=expiry,
        measure=measure,
    )


def _digital_link(text: str) -> ProductKey:
    import biip

    try:
        result = biip.parse(text)
    except ValueError as exc:  # urllib's "Invalid IPv6 URL" escapes biip (found by the NDEF bit-flip fuzz)
        raise _reject("not_gs1_digital_link", f"URI does not parse: {exc}") from None
    uri = result.gs1_digital_link_uri
    if uri is None:
        raise _reject("not_gs1_digital_link", f"URI is not a GS1 Digital Link: {result.gs1_digital_link_uri_error}")
    return _from_gs1(uri.as_gs1_message(), "Digital Link")


def _element_string(text: str, symbology: str) -> ProductKey:
    import biip
    from biip.gs1_messages import GS1Message

    if text.startswith("("):  # HRI as printed under the bars, e.g. typed or in an NFC Text record
        try:
            message = GS1Message.parse_hri(text)
        except Exception as exc:  # biip raises its own ParseError subclasses and ValueError
            raise _reject("malformed_gs1", f"GS1 HRI: {exc}") from None
        return _from_gs1(message, "GS1 element string")
    try:
        result = biip.parse(symbology + text)
    except ValueError as exc:  # biip tries a GS1 DataMatrix/QR payload as a URI too: urllib's "Invalid IPv6 URL"
        raise _reject("malformed_gs1", f"GS1 element string does not parse: {exc}") from None
    if result.gs1_message is None:
        raise _reject("malformed_gs1", f"GS1 element string: {result.gs1_message_error}")
    return _from_gs1(result.gs1_message, "GS1 element string")


def _variable_measure(gtin14: str, region_name: RcnRegion | str | None) -> ProductKey:
    if region_name is None:
        # Without the region the layout is unknown: key on the whole code, still only within this store.
        return ProductKey(gtin14, restricted=True)
    import biip
    from biip import ParseConfig
    from biip.rcn import Rcn, RcnRegion

    region = RcnRegion(region_name)
    rcn = biip.parse(gtin14[1:], config=ParseConfig(rcn_region=region)).gtin
    if not isinstance(rcn, Rcn):
        return ProductKey(gtin14, restricted=True)
    if rcn.weight is not None:
        measure: Measure | None = Measure(MeasureKind.WEIGHT_KG, rcn.weight)
    elif rcn.price is not None:
        measure = Measure(MeasureKind.PRICE, rcn.price)
    elif rcn.count is not None:
        measure = Measure(MeasureKind.COUNT, Decimal(rcn.count))
    else:
        measure = None
    base = rcn.without_variable_measure()
    if base is None or measure is None:
        raise _reject("malformed_variable_measure", f"{gtin14[1:]}: not a valid {region.value} variable-measure code")
    return ProductKey(normalise_gtin(base.value), measure=measure, restricted=True)


def _gtin(digits: str, region: RcnRegion | str | None) -> ProductKey:
    gtin14 = normalise_gtin(digits)
    if gtin14[0] == "0" and gtin14[1:3] in RCN_VARIABLE_MEASURE_PREFIXES:
        return _variable_measure(gtin14, region)
    return ProductKey(gtin14)


def parse_code(text: str, symbology: str = "", *, rcn_region: RcnRegion | str | None = None) -> ProductKey:
    """The product key of one code, or :class:`InvalidCode` with a stable ``reason``.

    ``symbology`` is the AIM identifier the decoder reported (``]E0``, ``]C1``, ``]Q1`` ...) or ``""`` when
    the source has none (NFC, wedge input). It decides how digits are read: ``01095...`` under ``]C1`` is
    an element string, the same digits bare are rejected as a GTIN of the wrong length. ``rcn_region`` is biip's
    RcnRegion or its value as configured (``"se"``): a name keeps biip unloaded until a variable-measure code.
    """
    _guard(text)
    if text.startswith(("https://", "http://")):
        return _digital_link(text)
    bare_element_string = not symbology and text.isdigit() and len(text) > GTIN14_LENGTH
    if symbology in GS1_AIM_IDS or text.startswith("(") or GS in text or bare_element_string:
        return _element_string(text, symbology if symbology in GS1_AIM_IDS else "]C1")
    if symbology.startswith(EAN_UPC_AIM_PREFIX) or text.isdigit():
        return _gtin(text, rcn_region)
    raise _reject("not_a_product_code", f"{symbology or 'untyped'} {text[:32]!r} is not a GTIN, GS1 string or link")
