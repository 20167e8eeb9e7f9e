"""The handheld scanner readers' numbers, each with the reason it has its value."""

from __future__ import annotations

from typing import Final

from edge_agent.identifiers.product_key import MAX_CODE_CHARS

READER_NAME: Final = "scanner"
"""The reader's name in health, counters (``scanner:<reason>``) and the rejects table; what it reads is scans."""

AIM_PREFIX_CHARS: Final = 3
"""An AIM symbology identifier is ``]`` + code character + modifier character (ISO/IEC 15424)."""

DEFAULT_MAX_LINE: Final = MAX_CODE_CHARS + AIM_PREFIX_CHARS
"""The longest code the identifier pipeline accepts plus its AIM prefix: a longer line cannot become a product."""

MAX_LINE_LIMIT: Final = 4096
"""Config ceiling for max_line: a GS1 DataMatrix holds at most 3,116 digits; more is a stuck key or a flood."""

MIN_LINE_LIMIT: Final = 8
"""Config floor for max_line: the shortest product code, EAN-8, must fit."""

DEFAULT_BAUD: Final = 9600
"""The factory default of handheld scanners in RS-232 mode (8N1). USB CDC-ACM ignores it."""

SERIAL_READ_TIMEOUT_S: Final = 0.2
"""pyserial's read timeout: how often the reader thread looks at the stop event and at a stale half line."""

LINE_GAP_S: Final = 1.0
"""A scanner sends a whole line in milliseconds (a 40-character GS1-128 takes 42 ms at 9600 baud). Bytes that
wait longer than this for their suffix are a half line (a trigger released mid-transmission, or a scanner whose
suffix is not the configured one) and are rejected as ``partial_line``, not glued to the next scan."""

REOPEN_BASE_S: Final = 0.5
REOPEN_CAP_S: Final = 10.0
"""An unplugged scanner is reopened with the agent's full-jitter backoff (edge_agent/backoff.py) up to 10 s: a
cashier replugging it expects it back at once, and an absent one costs a failed open() every few seconds."""

WEDGE_POLL_S: Final = 0.2
"""select() timeout of the wedge reader's thread: how often it looks at the stop event."""

DETAIL_CHARS: Final = 32
"""How much of a rejected line the detail keeps: enough to recognise it, never a whole payload in the log."""
