"""The associate's handheld: digital totes and click-and-collect picking; a scan goes to the pick in progress,
then to the open tote, else to the shopper's basket."""

from __future__ import annotations

from collections.abc import Callable

from edge_agent.contract.picking import T_PICK_COMMAND, PickCommand, PickCommandEvent, PickView, PickViewEvent
from edge_agent.contract.topics import orders_filter, pick_display
from edge_agent.contract.workflow import T_TOTE_COMMAND, ToteCommand, ToteCommandEvent, ToteView, ToteViewEvent
from edge_agent.domain.workflows.common import WorkflowEvent
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.readers.events import IdentityPresented
from edge_agent.roles.base import Ports, Role, Route
from edge_agent.roles.picking import PickDesk, picking_route
from edge_agent.roles.totes import TOTE_CART_PREFIX, ToteDesk


class HandheldRole(Role):
    name = "associate-handheld"

    def __init__(self, ports: Ports) -> None:
        super().__init__(ports)
        cfg = ports.config
        self.last_tote_view: ToteView | None = None
        self.last_pick_view: PickView | None = None
        self.totes = ToteDesk(ports.store, cfg.device.id, ports.verifier, ports.record, self._emit, self._show_tote)
        self.picks = PickDesk(
            ports.store,
            cfg.device.id,
            ports.record,
            self._emit,
            self._show_pick,
            timers=cfg.picking.timers(),
            short_reasons=cfg.picking.short_reasons,
        )

    def subscriptions(self) -> list[str]:
        return [orders_filter(self.ports.topics)]  # plain, not shared: every handheld sees the store's queue

    def routes(self) -> list[Route]:
        ui = self.ports.topics.ui
        return [
            Route(ui, {T_TOTE_COMMAND: (ToteCommandEvent, self._tote_command)}),
            Route(ui, {T_PICK_COMMAND: (PickCommandEvent, self._pick_command)}),
            picking_route(self.picks, self.ports.topics),
        ]

    def scanned(self, key: ProductKey, flush: Callable[[], None]) -> bool:
        if self.picks.active is not None:
            flush()  # earlier scans of the group are recorded first
            if self.picks.scanned(key):  # a pick in progress takes the scan (scan-to-confirm)
                return True
        if self.totes.tote is not None:
            flush()
            return self.totes.scanned(key)  # with an open tote, a scan is a tote line
        return False

    def identity(self, event: IdentityPresented) -> bool:
        return self.totes.identity(event)

    def cart_changed(self, cart_id: str) -> None:
        if cart_id.startswith(TOTE_CART_PREFIX):
            self.totes.platform_attributes(cart_id, self.ports.store.cart_attrs(cart_id))

    def tick(self, now: float) -> None:
        self.picks.tick(now)

    def restore(self) -> None:
        self.totes.restore()  # the active tote as the last durable transaction left it
        self.picks.restore()  # pick orders and progress, as their last durable transactions left them

    def _tote_command(self, _topic: str, cmd: ToteCommand) -> None:
        self.totes.command(cmd)

    def _pick_command(self, _topic: str, cmd: PickCommand) -> None:
        self.picks.command(cmd)

    def _emit(self, events: list[WorkflowEvent]) -> None:
        self.ports.emit(events, None)

    def _show_tote(self, view: ToteView) -> None:
        self.last_tote_view = view
        self.ports.show(ToteViewEvent, view)

    def _show_pick(self, view: PickView) -> None:
        self.last_pick_view = view
        self.ports.show(PickViewEvent, view, pick_display(self.ports.topics))  # its own topic: a tote view may show
