"""Serial scanners (USB CDC-ACM or RS-232 mode) through pyserial: the port the reader loop reads.

pyserial is imported here, and this module only when ``readers.scanner.kind = "serial"``. The port is opened
exclusively (a second agent, or a forgotten `screen`, fails to open it rather than stealing every other scan)
and read with a short timeout, so the thread sees the stop event and a stale half line within
:data:`~edge_agent.readers.scanner.const.SERIAL_READ_TIMEOUT_S`. An unplugged USB scanner surfaces as
pyserial's SerialException, an OSError: the reader loop then rejects the half line and reopens with backoff.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import serial

from edge_agent.readers.scanner.const import SERIAL_READ_TIMEOUT_S

ENCODING: Final = "latin-1"
"""One character per byte, never a decode error: a byte >= 0x80 stays visible, and lines.py rejects it as
non-ASCII noise (what a wrong baud rate produces)."""


@dataclass
class SerialPort:
    port: serial.Serial

    def read_text(self) -> str:
        data: bytes = self.port.read(self.port.in_waiting or 1)
        return data.decode(ENCODING)

    def close(self) -> None:
        self.port.close()


def open_serial(device: str, baud: int) -> SerialPort:
    """8N1 at ``baud``; raises SerialException (an OSError) when the device is missing, busy or not a tty."""
    return SerialPort(serial.Serial(device, baud, timeout=SERIAL_READ_TIMEOUT_S, exclusive=True))
