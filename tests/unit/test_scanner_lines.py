"""A scanner's character stream framed into lines: suffixes, half lines, over-long lines and noise."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.readers.scanner.config import Suffix
from edge_agent.readers.scanner.lines import SUFFIXES, LineFramer, Rejection

printable = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=40)
suffixes = st.sampled_from(list(SUFFIXES))


def reasons(items: list[str | Rejection]) -> list[str]:
    return [item.reason if isinstance(item, Rejection) else "line" for item in items]


def feed_in_chunks(framer: LineFramer, text: str, cuts: list[int]) -> list[str | Rejection]:
    out: list[str | Rejection] = []
    start = 0
    for cut in [*sorted(c % (len(text) + 1) for c in cuts), len(text)]:
        out += framer.feed(text[start:cut], 0.0)
        start = max(start, cut)
    return out


@given(st.lists(printable, min_size=1, max_size=8), suffixes, st.lists(st.integers(0, 10_000), max_size=12))
def test_lines_come_out_whole_however_the_reads_split_them(lines: list[str], suffix: Suffix, cuts: list[int]) -> None:
    framer = LineFramer(SUFFIXES[suffix], max_line=64)
    stream = "".join(line + SUFFIXES[suffix] for line in lines)
    assert feed_in_chunks(framer, stream, cuts) == lines
    assert not framer.pending and framer.close() == []


@given(st.integers(65, 5_000), suffixes, st.lists(st.integers(0, 10_000), max_size=12))
def test_an_over_long_line_is_one_rejection_then_the_next_line_reads(
    length: int, suffix: Suffix, cuts: list[int]
) -> None:
    framer = LineFramer(SUFFIXES[suffix], max_line=64)
    stream = "9" * length + SUFFIXES[suffix] + "4006381333931" + SUFFIXES[suffix]
    assert reasons(feed_in_chunks(framer, stream, cuts)) == ["line_too_long", "line"]


def test_a_flood_without_a_suffix_is_one_over_long_line() -> None:
    framer = LineFramer("\r\n", max_line=64)
    for _ in range(1_000):
        assert framer.feed("9" * 1_000, 0.0) == []
    assert reasons(framer.feed("\r\n", 0.0)) == ["line_too_long"]
    assert reasons(framer.feed("x" * 66, 0.0) + framer.close()) == ["line_too_long"]


def test_a_line_exactly_max_line_long_is_a_line() -> None:
    framer = LineFramer("\r\n", max_line=16)
    assert framer.feed("A" * 16 + "\r", 0.0) == []
    assert framer.feed("\n", 0.0) == ["A" * 16]


def test_a_half_line_is_rejected_at_unplug_and_after_the_gap_never_glued_to_the_next_scan() -> None:
    framer = LineFramer("\r", max_line=64, gap_s=1.0)
    assert framer.feed("]E04006", 10.0) == []
    assert reasons(framer.close()) == ["partial_line"]

    framer.feed("]E04006", 20.0)
    assert framer.expire(20.5) == [], "a line still arriving"
    assert reasons(framer.feed("381333931\r", 22.0)) == ["partial_line", "line"]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("\xff\xfe\x80noise", "not_ascii"),
        ("]E0400\ufffd6", "unmapped_key"),
        ("]E04006381333931\n", "wrong_suffix"),
        ("]E0\x0240063813", "control_characters"),
        ("]E0\x7f", "control_characters"),
        ("", "empty_line"),
    ],
)
def test_noise_is_rejected_with_its_reason(line: str, reason: str) -> None:
    assert reasons(LineFramer("\r", max_line=64).feed(line + "\r", 0.0)) == [reason]


def test_group_separators_are_data_not_noise() -> None:
    line = "]C1010950600013435210ABC123\x1d17271231"
    assert LineFramer("\r", max_line=64).feed(line + "\r", 0.0) == [line]


@given(st.binary(max_size=300), suffixes)
def test_any_bytes_at_all_give_lines_or_reasons_never_an_error(data: bytes, suffix: Suffix) -> None:
    framer = LineFramer(SUFFIXES[suffix], max_line=64)
    out = framer.feed(data.decode("latin-1"), 0.0) + framer.close()
    for line in (item for item in out if not isinstance(item, Rejection)):
        assert 0 < len(line) <= 64 and all(" " <= c <= "~" or c == "\x1d" for c in line)
