"""Framing a scanner's character stream into lines, and what makes a line bad. Pure: no I/O, no clock of its own.

Both scanners end up here: a serial scanner's bytes (decoded as Latin-1, one character per byte, so a stray
high byte stays visible as non-ASCII) and a keyboard wedge's keystrokes (keymap.py, Enter as ``\\r``). A line
is what came before the suffix. Everything else is a :class:`Rejection` with a stable reason, counted by the
agent like every reader's rejections, and never added to a basket:

- ``partial_line``: characters that never saw their suffix (the scanner unplugged mid-line, or a suffix that
  is not the configured one), after :data:`~edge_agent.readers.scanner.const.LINE_GAP_S` or at unplug;
- ``line_too_long``: more than ``max_line`` characters; the rest up to the next suffix is dropped with it, and
  memory stays bounded whatever the scanner sends;
- ``empty_line``, ``not_ascii`` (line noise, a wrong baud rate), ``unmapped_key`` (a key the keymap has no
  character for), ``wrong_suffix`` (a CR or LF inside a line) and ``control_characters`` (anything below
  0x20 other than the GS that GS1 needs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from edge_agent.identifiers.product_key import GS
from edge_agent.readers.scanner.config import Suffix
from edge_agent.readers.scanner.const import DETAIL_CHARS, LINE_GAP_S

SUFFIXES: Final[dict[Suffix, str]] = {"cr": "\r", "lf": "\n", "crlf": "\r\n"}
"""What ends a line, as the scanner is configured to send it (CR is most scanners' factory default)."""

UNMAPPED: Final = "\ufffd"
"""Unicode's replacement character: what keymap.py types for a key it has no character for."""

DEL: Final = "\x7f"
FIRST_PRINTABLE: Final = " "


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


def preview(text: str) -> str:
    return repr(text[:DETAIL_CHARS]) + ("..." if len(text) > DETAIL_CHARS else "")


def check_line(line: str, max_line: int) -> Rejection | None:
    """None for a line worth decoding; otherwise why not."""
    if not line:
        return Rejection("empty_line", "a suffix with nothing before it")
    if len(line) > max_line:
        return Rejection("line_too_long", f"{len(line)} characters (at most {max_line}): {preview(line)}")
    if UNMAPPED in line:
        return Rejection("unmapped_key", f"a key the keymap has no character for: {preview(line)}")
    if not line.isascii():
        return Rejection("not_ascii", f"non-ASCII characters (noise or a wrong baud rate?): {preview(line)}")
    if "\r" in line or "\n" in line:
        why = "a CR or LF inside the line: the scanner ends its lines otherwise than configured"
        return Rejection("wrong_suffix", f"{why}: {preview(line)}")
    if any((c < FIRST_PRINTABLE and c != GS) or c == DEL for c in line):
        return Rejection("control_characters", f"control characters other than GS: {preview(line)}")
    return None


@dataclass
class LineFramer:
    """Characters in, complete lines (or rejections) out; ``now`` is the caller's monotonic clock."""

    suffix: str
    max_line: int
    gap_s: float = LINE_GAP_S
    _pending: str = ""
    """At most max_line + len(suffix) - 1 characters: a line still short enough, or a split suffix's start."""
    _overflow: bool = False
    """The pending line outgrew max_line: its characters are dropped and it is rejected when it ends."""
    _last_at: float | None = None

    @property
    def pending(self) -> bool:
        return bool(self._pending) or self._overflow

    def feed(self, text: str, now: float) -> list[str | Rejection]:
        out = self.expire(now)
        if not text:
            return out
        self._last_at = now
        buffer = self._pending + text
        head, suffix, rest = buffer.partition(self.suffix)
        while suffix:
            out.append(self._line(head))
            head, suffix, rest = rest.partition(self.suffix)
        if len(head) > self.max_line + len(self.suffix) - 1:
            self._overflow = True
            head = head[len(head) - len(self.suffix) + 1 :]  # only what may begin a suffix split across reads
        self._pending = head
        return out

    def expire(self, now: float) -> list[str | Rejection]:
        """A half line that waited longer than ``gap_s`` for its suffix is rejected, not glued to the next scan."""
        if self.pending and self._last_at is not None and now - self._last_at > self.gap_s:
            return [self._give_up(f"no {self.suffix!r} suffix within {self.gap_s:g} s")]
        return []

    def close(self) -> list[str | Rejection]:
        """The device went away: whatever it sent of a line is a half line."""
        return [self._give_up("the scanner went away mid-line")] if self.pending else []

    def _line(self, line: str) -> str | Rejection:
        overflow, self._overflow, self._pending = self._overflow, False, ""
        if overflow:
            return Rejection("line_too_long", f"more than {self.max_line} characters")
        return check_line(line, self.max_line) or line

    def _give_up(self, why: str) -> Rejection:
        line, overflow = self._pending, self._overflow
        self._pending, self._overflow = "", False
        if overflow:
            return Rejection("line_too_long", f"more than {self.max_line} characters, then {why}")
        return Rejection("partial_line", f"{why}: {len(line)} characters dropped: {preview(line)}")
