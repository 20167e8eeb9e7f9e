"""Keyboard-wedge keystrokes -> the characters the scanner meant. Pure logic on (type, code, value) key events.

A wedge scanner types its data as a keyboard whose layout is set in the scanner (US by default; a German store
sets QWERTZ so the till's keyboard and the scanner agree). The device is grabbed (wedge_reader.py), so the OS
never turns these keys into text: this table does, and it must match the scanner's setting
(``readers.scanner.keymap``). A key the table has no character for (a dead key, F1) types
:data:`~edge_agent.readers.scanner.lines.UNMAPPED`, and the line is rejected as ``unmapped_key``.

GS (0x1D), which GS1 needs between variable-length fields, is not on any keyboard. Scanners send it as
``Ctrl+]`` by key position (the key right of P, which is ``+`` on QWERTZ: Ctrl gives control characters by
US position), as Alt+keypad ``0029`` (keypad emulation, independent of layout), or as a printable substitute
configured in the scanner (``gs_substitute``, put back by aim.py). All three come out as GS.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

from evdev import ecodes as e

from edge_agent.identifiers.product_key import GS
from edge_agent.readers.scanner.config import KeymapName
from edge_agent.readers.scanner.lines import UNMAPPED

Keys = Mapping[int, tuple[str, str, str]]
"""Key code -> (plain, with Shift, with AltGr); "" where the key types nothing."""

KEY_DOWN: Final = 1
"""EV_KEY values: 0 up, 1 down, 2 autorepeat (ignored: a scanner never holds a key)."""
KEY_UP: Final = 0
ENTER: Final = "\r"
"""What Enter types: the wedge's line suffix (lines.py frames on it)."""

_LETTERS: Final = {getattr(e, f"KEY_{c.upper()}"): (c, c.upper(), "") for c in "abcdefghijklmnopqrstuvwxyz"}
_KEYPAD: Final[Keys] = {
    **{getattr(e, f"KEY_KP{d}"): (str(d), str(d), "") for d in range(10)},
    e.KEY_KPDOT: (".", ".", ""),
    e.KEY_KPMINUS: ("-", "-", ""),
    e.KEY_KPPLUS: ("+", "+", ""),
    e.KEY_KPASTERISK: ("*", "*", ""),
    e.KEY_KPSLASH: ("/", "/", ""),
}
"""The keypad types the same in every layout (NumLock on, as scanners assume)."""
_COMMON: Final[Keys] = {e.KEY_SPACE: (" ", " ", ""), e.KEY_TAB: ("\t", "\t", ""), **_KEYPAD}


def _row(keys: list[int], plain: str, shifted: str, altgr: str = "") -> dict[int, tuple[str, str, str]]:
    altgr = altgr.ljust(len(keys))
    return {k: (p, s, a.strip()) for k, p, s, a in zip(keys, plain, shifted, altgr, strict=True)}


_DIGIT_KEYS: Final = [getattr(e, f"KEY_{d}") for d in "1234567890"]

US: Final[Keys] = {
    **_LETTERS,
    **_COMMON,
    **_row(_DIGIT_KEYS, "1234567890", "!@#$%^&*()"),
    **_row(
        [e.KEY_MINUS, e.KEY_EQUAL, e.KEY_LEFTBRACE, e.KEY_RIGHTBRACE, e.KEY_SEMICOLON, e.KEY_APOSTROPHE, e.KEY_GRAVE],
        "-=[];'`",
        '_+{}:"~',
    ),
    **_row([e.KEY_BACKSLASH, e.KEY_COMMA, e.KEY_DOT, e.KEY_SLASH], "\\,./", "|<>?"),
}
"""US English (the scanners' factory default)."""

DE: Final[Keys] = {
    **_LETTERS,
    e.KEY_Y: ("z", "Z", ""),
    e.KEY_Z: ("y", "Y", ""),
    e.KEY_Q: ("q", "Q", "@"),
    e.KEY_E: ("e", "E", "€"),
    e.KEY_M: ("m", "M", "µ"),
    **_COMMON,
    **_row(_DIGIT_KEYS, "1234567890", '!"§$%&/()=', "      {[]}"),
    e.KEY_MINUS: ("ß", "?", "\\"),
    e.KEY_LEFTBRACE: ("ü", "Ü", ""),
    e.KEY_RIGHTBRACE: ("+", "*", "~"),
    e.KEY_SEMICOLON: ("ö", "Ö", ""),
    e.KEY_APOSTROPHE: ("ä", "Ä", ""),
    e.KEY_GRAVE: ("", "°", ""),  # ^ is a dead key: it types nothing by itself
    e.KEY_BACKSLASH: ("#", "'", ""),
    e.KEY_102ND: ("<", ">", "|"),
    **_row([e.KEY_COMMA, e.KEY_DOT, e.KEY_SLASH], ",.-", ";:_"),
}
"""German QWERTZ (DIN 2137 T1 as Linux's ``de`` layout has it, without dead keys: ´ ` ^ type nothing)."""

KEYMAPS: Final[Mapping[KeymapName, Keys]] = {"us": US, "de": DE}

CONTROL_KEYS: Final[Mapping[int, str]] = {e.KEY_RIGHTBRACE: GS}
"""Ctrl + key -> control character, by key position (US ``]`` is 0x5D; Ctrl clears bits 5-6: 0x1D). Only GS is
a control character a product code may carry; any other Ctrl combination is unmapped."""

SHIFT_KEYS: Final = frozenset({e.KEY_LEFTSHIFT, e.KEY_RIGHTSHIFT})
CTRL_KEYS: Final = frozenset({e.KEY_LEFTCTRL, e.KEY_RIGHTCTRL})
ALT_KEY: Final = e.KEY_LEFTALT
ALTGR_KEY: Final = e.KEY_RIGHTALT
ENTER_KEYS: Final = frozenset({e.KEY_ENTER, e.KEY_KPENTER})
KEYPAD_DIGITS: Final = {getattr(e, f"KEY_KP{d}"): str(d) for d in range(10)}
ALT_CODE_MODULUS: Final = 256
"""Alt+keypad codes are taken modulo 256, as Windows does: Alt+0029 and Alt+29 are both 0x1D."""
IGNORED_KEYS: Final = frozenset({e.KEY_CAPSLOCK, e.KEY_NUMLOCK, e.KEY_SCROLLLOCK, e.KEY_LEFTMETA, e.KEY_RIGHTMETA})
"""Lock and system keys some scanners press around their data: they type nothing and spoil nothing."""


@dataclass
class KeyDecoder:
    """Keeps the modifier state across events; ``feed`` returns the characters one event typed ("" mostly)."""

    keys: Keys
    altgr_is_alt: bool = False
    """US has no AltGr: the right Alt is just another Alt there (for Alt+keypad codes)."""
    _held: set[int] = field(default_factory=set)
    _alt_code: str = ""

    @classmethod
    def for_keymap(cls, name: KeymapName) -> KeyDecoder:
        return cls(KEYMAPS[name], altgr_is_alt=name == "us")

    def feed(self, type_: int, code: int, value: int) -> str:
        if type_ != e.EV_KEY:
            return ""  # EV_SYN, EV_MSC scan codes, LED state: not keystrokes
        if value == KEY_UP:
            self._held.discard(code)
            return self._alt_released() if self._is_alt(code) else ""
        if value != KEY_DOWN:
            return ""
        if code in SHIFT_KEYS | CTRL_KEYS or self._is_alt(code) or code == ALTGR_KEY or code in IGNORED_KEYS:
            self._held.add(code)
            return ""
        return self._typed(code)

    def _typed(self, code: int) -> str:
        if code in ENTER_KEYS:
            return ENTER
        if self._alt_held():
            digit = KEYPAD_DIGITS.get(code)
            if digit is None:
                return UNMAPPED
            self._alt_code += digit
            return ""
        if self._held & CTRL_KEYS:
            return CONTROL_KEYS.get(code, UNMAPPED)
        plain, shifted, altgr = self.keys.get(code, ("", "", ""))
        if ALTGR_KEY in self._held and not self.altgr_is_alt:
            return altgr or UNMAPPED
        return (shifted if self._held & SHIFT_KEYS else plain) or UNMAPPED

    def _is_alt(self, code: int) -> bool:
        return code == ALT_KEY or (self.altgr_is_alt and code == ALTGR_KEY)

    def _alt_held(self) -> bool:
        return ALT_KEY in self._held or (self.altgr_is_alt and ALTGR_KEY in self._held)

    def _alt_released(self) -> str:
        if self._alt_held() or not self._alt_code:
            return ""
        code, self._alt_code = int(self._alt_code), ""
        return chr(code % ALT_CODE_MODULUS)
