"""A scanned line's AIM prefix decides how its code is read, exactly as the camera's symbology does."""

from __future__ import annotations

from datetime import date

import pytest

from edge_agent.identifiers.product_key import ProductKey
from edge_agent.identity.tokens import PREFIX
from edge_agent.readers.barcode.decoders import Symbol
from edge_agent.readers.barcode.reader import symbol_to_event
from edge_agent.readers.events import IdentityPresented, InputRejected, ProductScanned
from edge_agent.readers.scanner.aim import LineDecoder

GS = "\x1d"


def key_of(line: str, **options: object) -> ProductKey:
    event = LineDecoder(**options).event(line, 0.0)  # type: ignore[arg-type]
    assert isinstance(event, ProductScanned), event
    assert event.reader == "scanner"
    return event.key


def reason_of(line: str, **options: object) -> str:
    event = LineDecoder(**options).event(line, 0.0)  # type: ignore[arg-type]
    assert isinstance(event, InputRejected), event
    return event.reason


@pytest.mark.parametrize(
    ("line", "symbology"),
    [
        ("]E04006381333931", "]E0"),
        ("]C1010950600013435210ABC123" + GS + "17271231", "]C1"),
        ("]d2010950600013435210ABC123" + GS + "17271231", "]d2"),
        ("]Q3010950600013435210ABC123" + GS + "17271231", "]Q3"),
        ("]Q1https://id.gs1.org/01/09506000134352", "]Q1"),
    ],
)
def test_a_scanned_line_means_what_the_camera_reading_the_same_symbol_means(line: str, symbology: str) -> None:
    camera = symbol_to_event(Symbol(line[3:], symbology), 0.0)
    scanner = LineDecoder(aim_prefix="expected").event(line, 0.0)
    assert isinstance(camera, ProductScanned) and isinstance(scanner, ProductScanned)
    assert (scanner.key, scanner.symbology) == (camera.key, camera.symbology)


def test_gs1_128_and_datamatrix_keep_their_lot_serial_and_expiry() -> None:
    assert key_of("]C1010950600013435210ABC123" + GS + "17271231") == ProductKey(
        "09506000134352", lot="ABC123", expiry=date(2027, 12, 31)
    )
    assert key_of("]d20105012345678900" + "21SN0001").serial == "SN0001"


def test_the_same_digits_without_a_gs1_prefix_are_not_an_element_string() -> None:
    assert reason_of("]C0010950600013435210ABC123") == "not_a_product_code"


def test_a_compressed_upc_e_reaches_the_gtin_its_upc_a_has() -> None:
    assert key_of("]E004252614") == key_of("]E0042100005264")  # UPC-E 04252614 = UPC-A 042100005264


def test_the_prefix_is_optional_unless_expected_and_ignored_when_none() -> None:
    assert key_of("4006381333931") == key_of("]E04006381333931")
    assert reason_of("4006381333931", aim_prefix="expected") == "no_aim_prefix"
    assert reason_of("]E04006381333931", aim_prefix="none") == "not_a_product_code"


def test_a_gs_substitute_is_put_back_in_gs1_codes_only() -> None:
    line = "]C1010950600013435210ABC123~17271231"
    assert key_of(line, gs_substitute="~").lot == "ABC123"
    assert key_of("010950600013435210ABC123~17271231", gs_substitute="~").expiry == date(2027, 12, 31)
    assert reason_of(line) == "malformed_gs1", "without the substitute configured, the ~ is part of the lot"
    assert reason_of("]C04006~", gs_substitute="~") == "not_a_product_code", "plain Code 128 carries no FNC1"


def test_a_shoppers_app_code_read_by_the_scanner_is_an_identity_presentation() -> None:
    event = LineDecoder().event(f"]Q1{PREFIX}.claims.mac", 0.0)
    assert isinstance(event, IdentityPresented) and event.reader == "scanner"


def test_a_bad_check_digit_is_refused_as_the_camera_refuses_it() -> None:
    assert reason_of("]E04006381333932") == "bad_check_digit"
