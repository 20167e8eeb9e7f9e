"""The storage budget (``storage.max_bytes``): a bound on what the database holds, kept without ever evicting an op.

Use is the bytes in the database's live pages ((page_count - freelist_count) * page_size): the file keeps its
high-water size after deletes (no auto_vacuum), but its free pages are reused, so live pages are what the data
take and what comes back when confirmed baskets are purged. A few free pages still count (BUDGET_FREE_SLACK_PAGES):
the event queue frees and retakes them as it drains, and the budget must not flap with it. The WAL is bounded
apart, by the checkpoint settings.

Near the budget (BUDGET_COLLECT_AT) the agent first collects: ended baskets whose ops the platform confirmed are
purged early (roles/sessions.py ``purge_due(early=True)``). At the budget, a scan (an AddItem: new baskets only
start with one) is refused ``storage_budget``, shown and counted like any refusal; removals, quantity changes and
checkout still go through, so a shopper can still pay. Unconfirmed ops are never evicted (sync note §6).
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge_agent.const import BUDGET_COLLECT_AT, BUDGET_FREE_SLACK_PAGES
from edge_agent.domain.basket import AddItem, BasketCommand, Refused

log = logging.getLogger(__name__)

__all__ = ["StorageBudget", "used_bytes"]


def used_bytes(conn: sqlite3.Connection) -> int:
    """Bytes in live pages, and in at most BUDGET_FREE_SLACK_PAGES free ones (the event queue's breathing room);
    three header reads, no scan."""
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    return (pages - max(0, free - BUDGET_FREE_SLACK_PAGES)) * size


@dataclass
class StorageBudget:
    max_bytes: int | None = None
    collect: Callable[[], int] | None = None
    """Purges what may go (ended, confirmed baskets) and says how many; the agent sets it."""
    refusing: bool = False
    tight: bool = False
    """At BUDGET_COLLECT_AT or beyond, as the last group holding a scan found: scans then file their cart entries
    at once instead of holding them (store/held.py), so the pages a removal or a checkout needs are already taken
    while scans are still admitted, and the budget counts them."""

    def near(self, conn: sqlite3.Connection) -> bool:
        return self.max_bytes is not None and used_bytes(conn) >= self.max_bytes * BUDGET_COLLECT_AT

    def refusal(self, conn: sqlite3.Connection, commands: Sequence[BasketCommand]) -> Refused | None:
        """For a group holding a scan: None while there is room (after collecting, if need be)."""
        if self.max_bytes is None or not any(isinstance(c, AddItem) for c in commands):
            return None
        used = used_bytes(conn)
        self.tight = used >= self.max_bytes * BUDGET_COLLECT_AT
        if used >= self.max_bytes and self.collect is not None:
            purged = self.collect()
            used = used_bytes(conn)
            log.info("storage budget: collected %d basket(s); %d of %d bytes in use", purged, used, self.max_bytes)
        was, self.refusing = self.refusing, used >= self.max_bytes
        if self.refusing != was:
            log.log(
                logging.ERROR if self.refusing else logging.WARNING,
                "storage budget: %d of %d bytes in use: %s",
                used,
                self.max_bytes,
                "new scans are refused until the platform confirms and baskets are purged"
                if self.refusing
                else "room again",
            )
        if not self.refusing:
            return None
        return Refused("storage_budget", f"{used} of storage.max_bytes {self.max_bytes} bytes in use")
