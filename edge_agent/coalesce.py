"""A refresh that many events ask for, run on the loop at most once per interval (the kiosk's basket view).

Each saved scan and each snapshot used to rebuild and republish the basket view at once; back to back, that work
sat in front of the next scan's commit. A refresh asked for after a quiet spell still runs on the loop's next turn
(a shopper's scan shows as fast as before); those asked for within the interval after it are folded into one run
at its end, so the last state always shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class Coalesced:
    """``request`` runs ``fn`` soon, at most once per ``interval_s``; without a running loop, at once."""

    def __init__(self, fn: Callable[[], None], interval_s: float) -> None:
        self.fn = fn
        self.interval_s = interval_s
        self._loop: asyncio.AbstractEventLoop | None = None
        self._handle: asyncio.Handle | None = None
        self._last = float("-inf")

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """From now on requests are deferred on ``loop`` (the agent's, once it runs)."""
        self._loop = loop

    def request(self) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            self.fn()
            return
        if self._handle is not None:  # a run is already due: it will show this change too
            return
        wait = self._last + self.interval_s - loop.time()
        self._handle = loop.call_soon(self._run) if wait <= 0 else loop.call_later(wait, self._run)

    def flush(self) -> None:
        """A run that is due happens now (the agent stopping)."""
        handle, self._handle = self._handle, None
        if handle is not None:
            handle.cancel()
            self._run()

    def detach(self) -> None:
        """Off the loop (it is stopping): a run still due is dropped, and requests run at once again."""
        if self._handle is not None:
            self._handle.cancel()
        self._handle, self._loop = None, None

    def _run(self) -> None:
        self._handle = None
        if self._loop is not None:
            self._last = self._loop.time()
        self.fn()
