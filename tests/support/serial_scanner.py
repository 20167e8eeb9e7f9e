"""A serial barcode scanner as the agent meets one: a pseudo-terminal pair behind a stable name.

The agent opens the slave through a symlink with real pyserial, as it opens /dev/serial/by-id/...; the test
writes to the master what a scanner sends (AIM prefix, data, suffix). Unplugging closes the master (the slave's
reader then gets EIO and its /dev/pts node goes away); plugging in again makes a new pair and re-points the
symlink, as udev re-points /dev/serial/by-id when a USB scanner comes back.
"""

from __future__ import annotations

import os
import tty
from pathlib import Path


class PtyScanner:
    def __init__(self, link: Path) -> None:
        self.link = link
        self.plugs = 0
        self._master: int | None = None
        self._slave: int | None = None
        self.plug()

    def plug(self) -> None:
        master, slave = os.openpty()
        tty.setraw(slave)  # no echo or line editing before the agent's pyserial sets its own (raw) mode
        self._master, self._slave = master, slave
        staged = self.link.with_name(self.link.name + ".new")
        staged.unlink(missing_ok=True)
        staged.symlink_to(os.ttyname(slave))
        staged.replace(self.link)  # atomic, as udev's symlink update
        self.plugs += 1

    def send(self, data: bytes) -> None:
        assert self._master is not None, "the scanner is unplugged"
        os.write(self._master, data)

    def unplug(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None

    def close(self) -> None:
        self.unplug()
        self.link.unlink(missing_ok=True)
