"""GTIN check digits, normalisation to GTIN-14 and UPC-E expansion."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.identifiers.gtin import InvalidCode, expand_upce, gtin_check_digit, normalise_gtin

BODY_LENGTHS = (7, 11, 12, 13)
"""Bodies of GTIN-8, -12, -13 and -14."""

bodies = st.sampled_from(BODY_LENGTHS).flatmap(lambda n: st.text(alphabet="0123456789", min_size=n, max_size=n))


def with_check(body: str) -> str:
    return body + str(gtin_check_digit(body))


@pytest.mark.parametrize(
    ("body", "check"),
    [("400638133393", 1), ("03600029145", 2), ("9638507", 4), ("0950600013435", 2), ("0000000", 0)],
)
def test_check_digit_examples(body: str, check: int) -> None:
    assert gtin_check_digit(body) == check


@pytest.mark.parametrize(
    ("code", "gtin14"),
    [
        ("036000291452", "00036000291452"),  # UPC-A
        ("0036000291452", "00036000291452"),  # the same item as EAN-13
        ("4006381333931", "04006381333931"),
        ("96385074", "00000096385074"),  # EAN-8
        ("09506000134352", "09506000134352"),  # GTIN-14 unchanged
        ("  4006381333931\n", "04006381333931"),  # scanner suffixes/whitespace stripped
    ],
)
def test_normalise_examples(code: str, gtin14: str) -> None:
    assert normalise_gtin(code) == gtin14


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("4006381333932", "bad_check_digit"),
        ("400638133393", "bad_check_digit"),  # an EAN-13 missing its last digit
        ("40063813339", "bad_length"),
        ("123456789012345", "bad_length"),
        ("", "not_digits"),
        ("40063813339-1", "not_digits"),
        ("４００６３８１３３３９３１", "not_digits"),  # full-width digits pass str.isdigit()
        ("400638133393²", "not_digits"),
    ],
)
def test_normalise_rejects(code: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as info:
        normalise_gtin(code)
    assert info.value.reason == reason
    assert str(info.value)


def test_invalid_code_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="check digit"):
        normalise_gtin("4006381333932")


@pytest.mark.parametrize(
    ("upce", "upca"),
    [
        ("01234565", "012345000065"),  # last digit 5-9: item digit at the end
        ("04252614", "042100005264"),  # last digit 0-2: part of the manufacturer prefix
        ("01234531", "012300000451"),  # last digit 3
        ("01234543", "012340000053"),  # last digit 4
        ("11234562", "112345000062"),  # number system 1
    ],
)
def test_expand_upce(upce: str, upca: str) -> None:
    assert expand_upce(upce) == upca
    assert normalise_gtin(upca) == "00" + upca


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("01234566", "bad_check_digit"),
        ("21234565", "bad_number_system"),
        ("0123456", "bad_length"),
        ("0123456a", "not_digits"),
    ],
)
def test_expand_upce_rejects(code: str, reason: str) -> None:
    with pytest.raises(InvalidCode) as info:
        expand_upce(code)
    assert info.value.reason == reason


@given(bodies)
def test_valid_codes_round_trip(body: str) -> None:
    code = with_check(body)
    gtin14 = normalise_gtin(code)
    assert len(gtin14) == 14
    assert gtin14.endswith(code)
    assert normalise_gtin(gtin14) == gtin14


@given(bodies, st.data())
def test_single_digit_errors_are_rejected(body: str, data: st.DataObject) -> None:
    code = with_check(body)
    position = data.draw(st.integers(0, len(code) - 1))
    replacement = data.draw(st.sampled_from([d for d in "0123456789" if d != code[position]]))
    mutated = code[:position] + replacement + code[position + 1 :]
    with pytest.raises(InvalidCode) as info:
        normalise_gtin(mutated)
    assert info.value.reason == "bad_check_digit"


@given(bodies, st.data())
def test_non_digits_are_rejected(body: str, data: st.DataObject) -> None:
    code = with_check(body)
    position = data.draw(st.integers(0, len(code) - 1))
    intruder = data.draw(st.characters(exclude_characters="0123456789", exclude_categories=("Zs", "Cc", "Zl", "Zp")))
    mutated = code[:position] + intruder + code[position + 1 :]
    with pytest.raises(InvalidCode) as info:
        normalise_gtin(mutated)
    assert info.value.reason == "not_digits"
