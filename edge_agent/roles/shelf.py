"""The shelf role: lookups, price-label reports and low-stock signals, as retail note §1.5 describes them.

A scan at a shelf is a question ("what is this, what does it cost, is my size here"), never a basket line.
The answer comes from the catalog cache with its as-of times; stock signals come from the platform's
inventory feed in the catalog updates; a label price that disagrees with the system is reported. Everything
the shelf learns leaves as workflow events (edge_agent/sync/events.py), mapped to GA4 and Segment.
"""

from __future__ import annotations

import logging
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Final

from edge_agent.contract.catalog import CatalogUpdate, LookupResult
from edge_agent.contract.codec import Rejected
from edge_agent.contract.workflow import (
    T_LABEL_REPORT,
    T_SHELF_COMMAND,
    LabelReport,
    LabelReportEvent,
    LookupEvent,
    ShelfCommand,
    ShelfCommandEvent,
)
from edge_agent.domain.workflows.common import SHOPPER, SYSTEM, Refused, WorkflowEvent
from edge_agent.domain.workflows.const import DEFAULT_STOCK_LOW_AT
from edge_agent.domain.workflows.shelf import label_reported, lookup_performed
from edge_agent.domain.workflows.stock import StockSignal, price_mismatch
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.roles.base import Ports, Role, Route
from edge_agent.roles.related import related_items
from edge_agent.store.device import DeviceStore

log = logging.getLogger(__name__)

STOCK_SIGNALS_MAX: Final = 20_000
"""Items whose stock state the shelf remembers (a large store's assortment); the least recently counted go first."""


@dataclass
class ShelfDesk:
    store: DeviceStore
    emit: Callable[[list[WorkflowEvent]], None]
    """Queues workflow events for the uplink (EventPublisher.queue with this device's context)."""
    low_at: int = DEFAULT_STOCK_LOW_AT
    signals: OrderedDict[str, StockSignal] = field(default_factory=OrderedDict)
    refused: Counter[str] = field(default_factory=Counter)

    def scanned(self, key: ProductKey, *, online: bool, now: float) -> LookupResult:
        result = self.store.lookup(key, online=online)
        self.emit([lookup_performed(result.gtin14, found=result.found, offline=result.offline, now=now, actor=SHOPPER)])
        return result.model_copy(update={"related_items": related_items(self.store, result.related)})

    def report_label(self, report: LabelReport, shown: LookupResult | None, now: float) -> Refused | None:
        """A label reported wrong from the shelf's screen: only for the item the screen shows now, at the price
        it shows (a report about something else is a mistake or a forgery, and is refused)."""
        if shown is None or shown.gtin14 != report.gtin14:
            return self._refuse(Refused("not_shown", f"{report.gtin14} is not the item this shelf's screen shows"))
        if not shown.found:
            return self._refuse(Refused("not_in_catalog", f"{report.gtin14} is not in this store's catalog"))
        if shown.label_reported:  # a second tap on the same lookup: one report is what the store needs
            return self._refuse(Refused("already_reported", f"the label of {report.gtin14} is reported already"))
        if (report.shown_price_minor, report.currency) != (shown.price_minor, shown.currency):
            return self._refuse(Refused("price_not_shown", "the reported price is not the one the screen shows"))
        as_of = None if shown.price_as_of is None else shown.price_as_of.isoformat()
        event = label_reported(
            report.gtin14,
            shown_price_minor=shown.price_minor,
            currency=shown.currency,
            price_as_of=as_of,
            offline=shown.offline,
            now=now,
            actor=report.associate or SHOPPER,
        )
        self.emit([event])
        return None

    def catalog_updated(self, update: CatalogUpdate, now: float) -> None:
        """Stock counts in the platform's feed move each item OK → LOW → OUT → REPLENISHED; changes are events."""
        events: list[WorkflowEvent] = []
        for item in update.items:
            if item.stock is None:
                continue
            signal = self.signals.pop(item.gtin14, None) or StockSignal(item.gtin14, self.low_at)
            outcome = signal.observe(item.stock, method="platform", now=now, actor=SYSTEM)
            self.signals[item.gtin14] = outcome.state
            events.extend(outcome.events)
            while len(self.signals) > STOCK_SIGNALS_MAX:
                self.signals.popitem(last=False)
        if events:
            self.emit(events)

    def report_price(self, gtin14: str, shelf_price_minor: int, actor: str, now: float) -> Refused | None:
        """A label that disagrees with the system price (as the catalog cache has it) is reported; else refused."""
        item = self.store.catalog_item(gtin14)
        if item is None or item.price_minor is None:
            return self._refuse(Refused("not_in_catalog", f"{gtin14} has no system price in this store's catalog"))
        outcome = price_mismatch(gtin14, Decimal(shelf_price_minor), Decimal(item.price_minor), now=now, actor=actor)
        if outcome.refused is not None:
            return self._refuse(outcome.refused)
        self.emit(list(outcome.events))
        return None

    def _refuse(self, refused: Refused) -> Refused:
        self.refused[refused.reason] += 1
        log.warning("shelf: refused: %s: %s", refused.reason, refused.detail)
        return refused


class ShelfRole(Role):
    """At a shelf a scan asks "what is this, what does it cost": a lookup, never a basket line."""

    name = "shelf"

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        self.desk = ShelfDesk(ports.store, lambda events: ports.emit(events, None))
        self.last_lookup: LookupResult | None = None
        """What the screen shows now; also published, retained, on dv/{device}/display."""

    def routes(self) -> list[Route]:
        return [
            Route(
                self.ports.topics.ui,
                {
                    T_SHELF_COMMAND: (ShelfCommandEvent, self._report_price),
                    T_LABEL_REPORT: (LabelReportEvent, self._report_label),
                },
            )
        ]

    def scanned(self, key: ProductKey, flush: Callable[[], None]) -> bool:
        """Price, stock and other sizes from the catalog cache, each with its as-of time, flagged when offline."""
        result = self.desk.scanned(key, online=self.ports.online(), now=self.ports.now())
        self.last_lookup = result
        self.ports.show(LookupEvent, result)
        return True

    def catalog_updated(self, update: CatalogUpdate) -> None:
        self.desk.catalog_updated(update, self.ports.now())

    def _report_price(self, _topic: str, cmd: ShelfCommand) -> None:
        self.desk.report_price(cmd.gtin14, cmd.shelf_price_minor, cmd.associate or "shopper", self.ports.now())

    def _report_label(self, _topic: str, report: LabelReport) -> None:
        """Reported: a durable workflow event, and the screen says so; refused: the sender hears why."""
        shown = self.last_lookup
        refused = self.desk.report_label(report, shown, self.ports.now())
        if refused is not None or shown is None:  # the desk refuses a report when nothing is shown
            raise Rejected(refused.reason if refused else "not_shown", refused.detail if refused else "")
        self.last_lookup = shown.model_copy(update={"label_reported": True})
        self.ports.show(LookupEvent, self.last_lookup)
