"""The doctor's clock check: hybrid logical clocks, as-of labels and certificate dates need a synchronised clock.

`timedatectl show -p NTPSynchronized --value` first (what store IT knows); without systemd, the kernel's own
flag through adjtimex(2), which is what timedatectl reads too. Neither answering is a warning, not a failure.
"""

from __future__ import annotations

import ctypes
import subprocess
from dataclasses import dataclass
from typing import Final

from edge_agent.fleet import doctor_const as const
from edge_agent.fleet.doctor import Finding, fail, ok, warn

TIME_ERROR: Final = 5
"""adjtimex(2)'s return value when the kernel clock is not synchronised (STA_UNSYNC; <sys/timex.h>)."""
TIMEX_BUFFER_BYTES: Final = 512
"""struct timex is 208 bytes on 64-bit Linux; a zeroed, larger buffer (modes = 0) only reads the state."""


def kernel_synchronised() -> bool | None:
    """adjtimex(2) with modes 0 (read-only, needs no privilege); None when it cannot be called."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        state = int(libc.adjtimex(ctypes.create_string_buffer(TIMEX_BUFFER_BYTES)))
    except (OSError, AttributeError):
        return None
    return None if state < 0 else state != TIME_ERROR


@dataclass(frozen=True)
class ClockCheck:
    timedatectl: str = "timedatectl"
    name: str = "clock"
    target: str = "system clock"
    timeout_s: float = const.CHECK_TIMEOUT_S

    def _timedatectl(self) -> bool | None:
        try:
            done = subprocess.run(
                [self.timedatectl, "show", "-p", "NTPSynchronized", "--value"],
                capture_output=True,
                text=True,
                timeout=const.CLOCK_COMMAND_TIMEOUT_S,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        answer = done.stdout.strip()
        if done.returncode != 0 or answer not in ("yes", "no"):
            return None  # no systemd (a container), or timedated not reachable
        return answer == "yes"

    def run(self) -> Finding:
        synced, source = self._timedatectl(), "timedatectl NTPSynchronized"
        if synced is None:
            synced, source = kernel_synchronised(), "the kernel (adjtimex)"
        if synced is None:
            return warn(
                "cannot tell whether the clock is synchronised (no timedatectl, no adjtimex)",
                "check by hand: `timedatectl show -p NTPSynchronized --value` should say yes",
            )
        if synced:
            return ok(f"synchronised, says {source}", source=source)
        return fail(
            f"not synchronised, says {source}",
            "check `timedatectl timesync-status` and `systemctl status systemd-timesyncd`, and that NTP "
            "(UDP 123) to the store's time server is allowed",
            source=source,
        )
