"""The identifier pipeline: every form of a code reaches one product key; everything else is refused with a reason."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from urllib.parse import quote

import pytest
from biip.rcn import RcnRegion
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.identifiers.gtin import InvalidCode, gtin_check_digit
from edge_agent.identifiers.product_key import GS, Measure, MeasureKind, ProductKey, parse_code
from tests.support.fuzz import fuzz


def with_check(body: str) -> str:
    return body + str(gtin_check_digit(body))


# Global (non-restricted) GTIN-13 bodies: the first two digits avoid 02/04 and 20-29 RCN ranges.
global_gtin13 = st.builds(
    lambda lead, rest: with_check(lead + rest),
    st.sampled_from(["40", "50", "69", "87", "95", "30", "76"]),
    st.text(alphabet="0123456789", min_size=10, max_size=10),
)
# GS1 AI 21/10 take "X..20": the 82-character GS1 set; keep to the URI-safe part that needs no escaping rules.
gs1_text = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-.", min_size=1, max_size=20)
expiries = st.dates(min_value=date(2000, 1, 1), max_value=date(2049, 12, 31))


@pytest.mark.parametrize(
    ("text", "symbology"),
    [
        ("036000291452", ""),  # UPC-A typed
        ("0036000291452", "]E0"),  # UPC-A as zxing-cpp reports it
        ("00036000291452", ""),  # GTIN-14
        ("0100036000291452", "]C1"),  # GS1-128
        ("(01)00036000291452", ""),  # HRI
        ("https://id.gs1.org/01/00036000291452", ""),  # Digital Link from a QR or an NFC URI record
        ("https://shop.example.com/01/00036000291452", ""),  # the domain is not significant
    ],
)
def test_every_form_of_a_product_is_one_key(text: str, symbology: str) -> None:
    assert parse_code(text, symbology) == ProductKey("00036000291452")


def test_element_string_carries_serial_lot_expiry_and_weight() -> None:
    key = parse_code(f"010950600013435221SER1{GS}3103001234{GS}17271200{GS}10LOT7", "]d2")
    assert key == ProductKey(
        "09506000134352",
        serial="SER1",
        lot="LOT7",
        expiry=date(2027, 12, 31),  # DD=00 is the last day of the month
        measure=Measure(MeasureKind.WEIGHT_KG, Decimal("1.234")),
    )


def test_digital_link_qualifiers_and_query() -> None:
    key = parse_code("https://id.gs1.org/01/09506000134352/10/L%2F1/21/S%2B1?17=271231")
    assert (key.gtin14, key.lot, key.serial, key.expiry) == ("09506000134352", "L/1", "S+1", date(2027, 12, 31))


def test_variable_measure_is_keyed_on_its_base_with_the_measure_split_off() -> None:
    key = parse_code("2302148012340", "]E0", rcn_region=RcnRegion.SWEDEN)
    weight = Measure(MeasureKind.WEIGHT_KG, Decimal("1.234"))
    assert key == ProductKey("02302148000002", measure=weight, restricted=True)
    other_pack = parse_code(with_check("230214802500"), "]E0", rcn_region=RcnRegion.SWEDEN)
    assert other_pack.gtin14 == key.gtin14 and other_pack.measure != key.measure


def test_variable_measure_without_a_region_stays_store_internal() -> None:
    key = parse_code("2302148012340", "]E0")
    assert key == ProductKey("02302148012340", restricted=True)


@pytest.mark.parametrize(
    ("text", "symbology", "reason"),
    [
        ("4006381333932", "]E0", "bad_check_digit"),
        ("12345", "", "bad_length"),
        ("", "", "empty"),
        ("x" * 600, "", "too_long"),
        ("0950\x00600", "", "control_characters"),
        ("https://example.com/menu", "", "not_gs1_digital_link"),
        ("00350600013435000017", "]C1", "no_gtin"),  # an SSCC label, not an item
        ("01095060001343", "]C1", "malformed_gs1"),  # truncated
        ("hello world", "]Q1", "not_a_product_code"),
        ("(01)0950600013435", "", "malformed_gs1"),
        ("010950600013435321X", "]C1", "bad_check_digit"),
        ("//]C1", "]d2", "malformed_gs1"),  # urllib's "Invalid IPv6 URL" escaped biip (found by the fuzz)
        ("//]C1", "]Q3", "malformed_gs1"),
    ],
)
def test_malformed_codes_are_refused_with_a_reason(text: str, symbology: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as caught:
        parse_code(text, symbology)
    assert caught.value.reason == reason


@given(gtin13=global_gtin13)
def test_property_upc_ean_gtin14_element_string_and_link_agree(gtin13: str) -> None:
    gtin14 = "0" + gtin13
    forms = [
        (gtin13, "]E0"),
        (gtin14, ""),
        ("01" + gtin14, "]C1"),
        (f"(01){gtin14}", ""),
        (f"https://id.gs1.org/01/{gtin14}", ""),
    ]
    assert {parse_code(text, sym) for text, sym in forms} == {ProductKey(gtin14)}


@given(gtin13=global_gtin13, serial=gs1_text, lot=gs1_text, expiry=expiries)
def test_property_element_string_and_digital_link_round_trip(gtin13: str, serial: str, lot: str, expiry: date) -> None:
    gtin14 = "0" + gtin13
    yymmdd = expiry.strftime("%y%m%d")
    expected = ProductKey(gtin14, serial=serial, lot=lot, expiry=expiry)
    element_string = f"01{gtin14}17{yymmdd}10{lot}{GS}21{serial}"
    link = f"https://id.gs1.org/01/{gtin14}/10/{quote(lot, safe='')}/21/{quote(serial, safe='')}?17={yymmdd}"
    assert parse_code(element_string, "]d2") == expected
    assert parse_code(link) == expected


@given(gtin13=global_gtin13, wrong=st.integers(1, 9))
def test_property_a_wrong_check_digit_is_never_a_product(gtin13: str, wrong: int) -> None:
    bad = gtin13[:-1] + str((int(gtin13[-1]) + wrong) % 10)
    for text, sym in ((bad, "]E0"), ("01" + "0" + bad, "]C1"), (f"https://id.gs1.org/01/0{bad}", "")):
        with pytest.raises(InvalidCode):
            parse_code(text, sym)


@fuzz(500)
@given(text=st.text(max_size=80), symbology=st.sampled_from(["", "]E0", "]E4", "]C1", "]d2", "]Q1", "]Q3"]))
def test_fuzz_any_text_is_a_key_or_a_reasoned_refusal(text: str, symbology: str) -> None:
    try:
        key = parse_code(text, symbology)
    except InvalidCode as exc:
        assert exc.reason
    else:
        assert len(key.gtin14) == 14 and key.gtin14.isdigit()
        assert int(key.gtin14[-1]) == gtin_check_digit(key.gtin14[:-1])


gs1_like = st.lists(
    st.one_of(
        st.sampled_from(["01", "10", "17", "21", "3103", "3922", "(01)", "(21)", "(17)", "]C1", "]d2", GS]),
        st.text(alphabet="0123456789", min_size=1, max_size=16),
        st.text(alphabet="ABCxyz-/.%", max_size=6),
    ),
    max_size=12,
).map("".join)
digital_link_like = st.builds(
    lambda host, path, q: f"https://{host}/{path}{q}",
    st.sampled_from(["id.gs1.org", "example.com", "shop.example.com/p", "[::1", "h]st", "a:b@c:99999"]),
    gs1_like.map(lambda t: t.replace("(", "").replace(")", "/")),
    st.sampled_from(["", "?17=261231", "?linkType=all", "?%zz", "#x"]),
)


@fuzz(500)
@given(text=st.one_of(gs1_like, digital_link_like), symbology=st.sampled_from(["", "]C1", "]d2", "]Q3", "]E0"]))
def test_fuzz_near_miss_gs1_strings_and_links_are_keys_or_reasoned_refusals(text: str, symbology: str) -> None:
    """Random text rarely looks like GS1; these are built from AIs, digits and separators, so the parser's
    deeper branches (element strings, Digital Link paths, variable measure) meet broken input too."""
    try:
        key = parse_code(text, symbology)
    except InvalidCode as exc:
        assert exc.reason
    else:
        assert int(key.gtin14[-1]) == gtin_check_digit(key.gtin14[:-1])


def test_a_region_named_as_in_the_config_reads_like_biips_enum() -> None:
    assert parse_code("2302148012340", "]E0", rcn_region="se") == parse_code(
        "2302148012340", "]E0", rcn_region=RcnRegion.SWEDEN
    )
