"""Keyboard-wedge keystrokes become the scanner's text: US and German layouts, Shift and AltGr, and GS typed as
Ctrl+], as Alt+keypad 0029 or by a substitute. Recorded sequences are written as evtest prints them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import pytest
from evdev import ecodes as e
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.readers.scanner.config import KeymapName
from edge_agent.readers.scanner.keymap import KEYMAPS, KeyDecoder
from edge_agent.readers.scanner.lines import LineFramer, Rejection

Event = tuple[int, int, int]
DOWN, UP = 1, 0
SYN: Event = (e.EV_SYN, e.SYN_REPORT, 0)


def tap(code: int, *held: int) -> Iterator[Event]:
    """One keystroke as a HID keyboard reports it: modifiers down, MSC scan code, key down/up, modifiers up."""
    for modifier in held:
        yield (e.EV_KEY, modifier, DOWN)
        yield SYN
    yield (e.EV_MSC, e.MSC_SCAN, 0x70000 + code)
    yield (e.EV_KEY, code, DOWN)
    yield SYN
    yield (e.EV_KEY, code, UP)
    yield SYN
    for modifier in reversed(held):
        yield (e.EV_KEY, modifier, UP)
        yield SYN


def typed(keymap: KeymapName, events: Iterable[Event]) -> list[str | Rejection]:
    """What the reader makes of the events: the decoder's characters, framed on Enter."""
    decoder, framer = KeyDecoder.for_keymap(keymap), LineFramer("\r", max_line=64)
    return framer.feed("".join(decoder.feed(*event) for event in events), 0.0)


def keys(*codes: int) -> list[Event]:
    return [event for code in codes for event in tap(code)]


ENTER_KEY = (e.KEY_ENTER,)
ENTER = keys(*ENTER_KEY)
SHIFT, ALTGR, CTRL, ALT = e.KEY_LEFTSHIFT, e.KEY_RIGHTALT, e.KEY_LEFTCTRL, e.KEY_LEFTALT


def test_a_us_scanner_types_an_aim_prefixed_ean() -> None:
    events = [*keys(e.KEY_RIGHTBRACE), *tap(e.KEY_E, SHIFT), *keys(e.KEY_0, e.KEY_4, e.KEY_0, e.KEY_0, e.KEY_6), *ENTER]
    assert typed("us", events) == ["]E04006"]


def test_a_german_scanner_types_qwertz() -> None:
    # "]" is AltGr+9 on QWERTZ, the Z key types y, Shift+7 is a slash and AltGr+Q the at sign.
    events = [*tap(e.KEY_9, ALTGR), *keys(e.KEY_Y, e.KEY_Z), *tap(e.KEY_7, SHIFT), *tap(e.KEY_Q, ALTGR), *ENTER]
    assert typed("de", events) == ["]zy/@"]
    [misread] = typed("us", events)  # a US keymap has no AltGr: the line is refused, not read as something else
    assert isinstance(misread, Rejection) and misread.reason == "unmapped_key"
    assert typed("us", keys(e.KEY_Y, e.KEY_Z, *ENTER_KEY)) == ["yz"] != typed("de", keys(e.KEY_Y, e.KEY_Z, *ENTER_KEY))


@pytest.mark.parametrize("keymap", ["us", "de"])
def test_ctrl_right_brace_is_the_group_separator_in_every_layout(keymap: KeymapName) -> None:
    events = [*keys(e.KEY_1, e.KEY_0), *tap(e.KEY_RIGHTBRACE, CTRL), *keys(e.KEY_1, e.KEY_7), *ENTER]
    assert typed(keymap, events) == ["10\x1d17"]


@pytest.mark.parametrize("keymap", ["us", "de"])
def test_alt_keypad_0029_is_the_group_separator_too(keymap: KeymapName) -> None:
    events: list[Event] = [(e.EV_KEY, ALT, DOWN), SYN, *keys(e.KEY_KP0, e.KEY_KP0, e.KEY_KP2, e.KEY_KP9)]
    events += [(e.EV_KEY, ALT, UP), SYN, *keys(e.KEY_KP1, e.KEY_KP0), *tap(e.KEY_KPENTER)]
    assert typed(keymap, events) == ["\x1d10"]


def test_a_key_the_keymap_cannot_type_rejects_its_line_only() -> None:
    events = [*keys(e.KEY_4, e.KEY_F1, e.KEY_0), *ENTER, *keys(e.KEY_4, e.KEY_0), *ENTER]
    out = typed("us", events)
    assert isinstance(out[0], Rejection) and out[0].reason == "unmapped_key"
    assert out[1:] == ["40"]


def test_umlauts_are_typed_and_refused_as_not_ascii() -> None:
    [line] = typed("de", [*keys(e.KEY_LEFTBRACE), *ENTER])
    assert isinstance(line, Rejection) and line.reason == "not_ascii"


def test_autorepeat_and_lock_keys_type_nothing() -> None:
    events = [(e.EV_KEY, e.KEY_4, DOWN), (e.EV_KEY, e.KEY_4, 2), (e.EV_KEY, e.KEY_4, UP), *keys(e.KEY_NUMLOCK), *ENTER]
    assert typed("us", events) == ["4"]


def typist(keymap: KeymapName) -> dict[str, list[Event]]:
    """Every printable ASCII character the layout has, as the events that type it."""
    ways: dict[str, list[Event]] = {}
    for code, (plain, shifted, altgr) in KEYMAPS[keymap].items():
        for char, held in ((altgr, (ALTGR,)), (shifted, (SHIFT,)), (plain, ())):
            if char and " " <= char <= "~":
                ways[char] = list(tap(code, *held))
    return ways


@pytest.mark.parametrize("keymap", ["us", "de"])
def test_each_layout_types_every_character_a_product_code_uses(keymap: KeymapName) -> None:
    gs1_chars = set("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!\"%&'()*+,-./:;<=>?_]")
    assert gs1_chars <= set(typist(keymap)), "GS1 AI 82 character set and the AIM flag"


@pytest.mark.parametrize("keymap", ["us", "de"])
@given(data=st.data())
def test_any_text_typed_on_the_layout_reads_back(keymap: KeymapName, data: st.DataObject) -> None:
    ways = typist(keymap)
    text = data.draw(st.text(alphabet=sorted(ways), min_size=1, max_size=40))
    assert typed(keymap, [*(event for char in text for event in ways[char]), *ENTER]) == [text]
