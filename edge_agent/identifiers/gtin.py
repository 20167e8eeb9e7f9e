"""GTIN validation and normalisation (GS1 General Specifications 7.9).

Every reader (camera, wedge scanner, NFC) ends up with a bare digit string;
keying baskets on one canonical form, the zero-padded GTIN-14, is what makes
UPC-A ``036000291452`` and EAN-13 ``0036000291452`` the same product.
"""

from __future__ import annotations

from typing import Final

GTIN14_LENGTH: Final = 14
"""Canonical width: GTIN-8/12/13 are GTIN-14s with leading zeros."""

GTIN_LENGTHS: Final = frozenset({8, 12, 13, GTIN14_LENGTH})
"""GTIN-8 (EAN-8), GTIN-12 (UPC-A), GTIN-13 (EAN-13), GTIN-14 (ITF-14/GS1 AI 01)."""

UPCE_LENGTH: Final = 8
"""Number system digit + six compressed digits + check digit."""

UPCE_NUMBER_SYSTEMS: Final = frozenset("01")
"""Only number systems 0 and 1 have a UPC-E form."""

CHECK_MODULUS: Final = 10
WEIGHT_ODD: Final = 3
"""Weight of the body digit nearest the check digit, then alternating 3,1,3,..."""
WEIGHT_EVEN: Final = 1


class InvalidCode(ValueError):
    """A code that is not a valid GTIN; ``reason`` is stable for metrics and logs."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _require_digits(code: str) -> None:
    # str.isdigit() alone accepts "²" and non-ASCII digits, which int() then mangles.
    if not (code.isascii() and code.isdigit()):
        raise InvalidCode("not_digits", f"expected ASCII digits, got {code!r}")


def gtin_check_digit(body: str) -> int:
    """Mod-10 check digit of ``body`` (the GTIN without its check digit)."""
    _require_digits(body)
    total = sum(int(digit) * (WEIGHT_ODD if i % 2 == 0 else WEIGHT_EVEN) for i, digit in enumerate(reversed(body)))
    return (CHECK_MODULUS - total % CHECK_MODULUS) % CHECK_MODULUS


def _require_check_digit(code: str) -> None:
    expected = gtin_check_digit(code[:-1])
    if int(code[-1]) != expected:
        raise InvalidCode("bad_check_digit", f"{code!r}: check digit should be {expected}")


def normalise_gtin(code: str) -> str:
    """Validate a GTIN-8/12/13/14 and return it as a 14-digit string."""
    code = code.strip()
    _require_digits(code)
    if len(code) not in GTIN_LENGTHS:
        raise InvalidCode("bad_length", f"{code!r}: {len(code)} digits, expected one of 8, 12, 13, 14")
    _require_check_digit(code)
    return code.zfill(GTIN14_LENGTH)


def expand_upce(code: str) -> str:
    """Expand an 8-digit UPC-E into its 12-digit UPC-A.

    Decoders report UPC-E either compressed (pyzbar) or expanded (zxing-cpp);
    expanding here lets both reach the same GTIN.
    """
    code = code.strip()
    _require_digits(code)
    if len(code) != UPCE_LENGTH:
        raise InvalidCode("bad_length", f"{code!r}: UPC-E has {UPCE_LENGTH} digits")
    number_system, d, check = code[0], code[1:7], code[7]
    if number_system not in UPCE_NUMBER_SYSTEMS:
        raise InvalidCode("bad_number_system", f"{code!r}: UPC-E number system must be 0 or 1")
    # The last compressed digit says where the manufacturer/item split sits (GS1 GenSpecs 5.2.2.4.2).
    last = d[5]
    if last in "012":
        middle = d[0:2] + last + "0000" + d[2:5]
    elif last == "3":
        middle = d[0:3] + "00000" + d[3:5]
    elif last == "4":
        middle = d[0:4] + "00000" + d[4]
    else:
        middle = d[0:5] + "0000" + last
    upca = number_system + middle + check
    _require_check_digit(upca)
    return upca
