"""Handheld scanner configuration (the ``[readers.scanner]`` section): validated once, errors naming the key.

It imports neither pyserial nor evdev nor the identifier pipeline: loading a config stays cheap."""

from __future__ import annotations

import string
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from edge_agent.readers.scanner import const

AimPrefix = Literal["expected", "optional", "none"]
"""``expected``: every line must carry one (the scanner is configured to send it; a line without is refused);
``optional``: used when present; ``none``: the scanner never sends one, a leading ``]`` is data."""
Suffix = Literal["cr", "lf", "crlf"]
"""What ends a serial scanner's line, as the scanner is configured to send it (CR: most factory defaults)."""
KeymapName = Literal["us", "de"]
"""keymap.py's layouts (kept here as a literal so validating a config does not import evdev)."""
Baud = Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200]
"""The rates handheld scanners offer in RS-232 mode."""
DEFAULT_SUFFIX: Suffix = "cr"
DEFAULT_KEYMAP: KeymapName = "us"
"""The scanners' factory settings: CR after each code, a US keyboard."""
SERIAL_ONLY = ("baud", "suffix")
WEDGE_ONLY = ("keymap",)
GS_SUBSTITUTE_CHARS = frozenset(string.punctuation + string.ascii_letters + string.digits)


class ScannerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    kind: Literal["serial", "wedge"] = Field(description="serial: USB CDC-ACM or RS-232; wedge: a HID keyboard")
    device: Annotated[str, StringConstraints(min_length=1, max_length=4096)] = Field(
        description="serial: /dev/serial/by-id/... (survives replugging) or /dev/ttyACM0; "
        "wedge: /dev/input/by-id/...-event-kbd (`edge-agent doctor` lists them)"
    )
    baud: Baud | None = Field(default=None, description="serial only (default 9600); USB CDC-ACM ignores it")
    suffix: Suffix | None = Field(default=None, description="serial only: what ends a line (default cr)")
    aim_prefix: AimPrefix = Field(
        default="optional", description="expected: every line carries an AIM id (]E0, ]C1, ]d2, ]Q3); none: never"
    )
    max_line: int = Field(default=const.DEFAULT_MAX_LINE, ge=const.MIN_LINE_LIMIT, le=const.MAX_LINE_LIMIT)
    keymap: KeymapName | None = Field(default=None, description="wedge only: the scanner's keyboard layout (us)")
    gs_substitute: Annotated[str, StringConstraints(min_length=1, max_length=4)] | None = Field(
        default=None, description="printable stand-in the scanner sends for GS (FNC1) in GS1 codes"
    )

    @field_validator("gs_substitute")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        if value is not None and not set(value) <= GS_SUBSTITUTE_CHARS:
            raise ValueError(
                "allowed: 1 to 4 printable ASCII characters other than space, as configured in the scanner "
                "(a raw GS needs no substitute)"
            )
        return value

    @model_validator(mode="after")
    def _keys_of_its_kind(self) -> ScannerConfig:
        other = WEDGE_ONLY if self.kind == "serial" else SERIAL_ONLY
        misplaced = [key for key in other if getattr(self, key) is not None]
        if misplaced:
            kind = "wedge" if self.kind == "serial" else "serial"
            raise ValueError(f"{', '.join(misplaced)} applies to kind = {kind!r} only; allowed: remove it")
        return self

    @property
    def serial_baud(self) -> int:
        return self.baud or const.DEFAULT_BAUD

    @property
    def serial_suffix(self) -> Suffix:
        return self.suffix or DEFAULT_SUFFIX

    @property
    def wedge_keymap(self) -> KeymapName:
        return self.keymap or DEFAULT_KEYMAP
