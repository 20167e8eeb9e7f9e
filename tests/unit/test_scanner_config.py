"""[readers.scanner]: a broken section names the file, the key and what is allowed; the agent does not start."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.config import ConfigError, load_config
from edge_agent.readers.scanner.config import ScannerConfig

SERIAL = 'kind = "serial"\ndevice = "/dev/ttyACM0"\n'
WEDGE = 'kind = "wedge"\ndevice = "/dev/input/event3"\n'
BASE = """
[device]
id = "kiosk-01"
tenant = "acme"
store = "s042"
role = "kiosk"
[mqtt]
endpoints = [{host = "127.0.0.1"}]
[readers.scanner]
"""


def load(tmp_path: Path, section: str) -> str:
    path = tmp_path / "agent.toml"
    path.write_text(BASE + section)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return str(caught.value)


def test_a_serial_scanner_section_loads_with_its_defaults(tmp_path: Path) -> None:
    path = tmp_path / "agent.toml"
    path.write_text(BASE + 'kind = "serial"\ndevice = "/dev/serial/by-id/usb-Acme_S1-if00"\n')
    scanner = load_config(path).readers.scanner
    assert scanner is not None
    assert (scanner.serial_baud, scanner.serial_suffix, scanner.aim_prefix) == (9600, "cr", "optional")


@pytest.mark.parametrize(
    ("section", "words"),
    [
        ('kind = "bluetooth"\ndevice = "/dev/ttyACM0"', ["readers.scanner.kind", "'serial' or 'wedge'"]),
        (SERIAL + 'suffix = "tab"', ["readers.scanner.suffix", "'cr', 'lf' or 'crlf'"]),
        (SERIAL + "baud = 9601", ["readers.scanner.baud", "9600"]),
        (SERIAL + "max_line = 4", ["readers.scanner.max_line", "ge 8"]),
        (SERIAL + 'aim_prefix = "yes"', ["readers.scanner.aim_prefix", "'expected'"]),
        (WEDGE + 'keymap = "fr"', ["readers.scanner.keymap", "'us' or 'de'"]),
        (SERIAL + 'keymap = "de"', ["readers.scanner", "keymap applies to kind = 'wedge'"]),
        (WEDGE + "baud = 9600", ["readers.scanner", "baud applies to kind = 'serial'"]),
        (SERIAL + 'gs_substitute = " "', ["readers.scanner.gs_substitute", "printable"]),
        ('kind = "serial"', ["readers.scanner.device", "Field required"]),
        (SERIAL + 'sufix = "cr"', ["readers.scanner.sufix", "unknown key"]),
    ],
)
def test_a_broken_scanner_section_names_the_file_the_key_and_what_is_allowed(
    tmp_path: Path, section: str, words: list[str]
) -> None:
    message = load(tmp_path, section)
    assert str(tmp_path / "agent.toml") in message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("section", [{"kind": "serial", "device": "/dev/ttyACM0"}, {"kind": "wedge", "device": "/x"}])
def test_a_dumped_scanner_section_loads_again_as_it_was(section: dict[str, str]) -> None:
    """What remote config and the tests' TOML writer do: dump, then validate the dump."""
    scanner = ScannerConfig.model_validate(section)
    assert ScannerConfig.model_validate(scanner.model_dump(mode="json", exclude_none=True)) == scanner
