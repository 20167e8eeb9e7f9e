"""The associate handheld's digital totes: the pure Tote machine, persisted and synced as a cart.

A tote *is* a cart (cart id = tote id) under the same add-wins rule, so it syncs, survives outages and is
confirmed by the platform exactly like a basket: lines are ``entry.add`` ops carrying the associate's id,
and the tote's state, associate and (with consent) customer are LWW cart attributes. The machine's own value
is written into the same transaction as those ops (``DeviceStore.record(..., meta=...)``), so a crash never
leaves the two apart, and a restarted agent resumes the tote where it was.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from edge_agent.contract.aisle import AisleOrderView
from edge_agent.contract.workflow import ToteCommand, ToteLineView, ToteView
from edge_agent.domain.basket import AddItem, BasketCommand, RemoveItem, SetAttribute
from edge_agent.domain.fulfilment import Fulfilment, parse_fulfilment
from edge_agent.domain.workflows.common import Outcome, Refused, Source, WorkflowEvent
from edge_agent.domain.workflows.tote import LineState, Tote, ToteLine, ToteState
from edge_agent.identifiers.product_key import ProductKey
from edge_agent.identity.tokens import IdentityRejected, TokenVerifier
from edge_agent.readers.events import IdentityPresented
from edge_agent.roles.aisle import elsewhere, order_line, order_views
from edge_agent.roles.related import related_to
from edge_agent.store.device import DeviceStore

log = logging.getLogger(__name__)

ACTIVE_TOTE_KEY: Final = "active_tote"
TOTE_CART_PREFIX: Final = "tote-"
"""A tote's cart id is ``tote-<device>-<random>``: the agent recognises tote snapshots by it."""
TOTE_KEY_PREFIX: Final = "tote:"
STATE_ATTR, ASSOCIATE_ATTR, CUSTOMER_ATTR = "tote.state", "tote.associate", "tote.customer"
ORDER_ATTR = "tote.order_id"
"""Written by the platform when the shopper has paid (at the till or by link); the device only reads it."""


def tote_to_json(tote: Tote) -> str:
    return json.dumps(asdict(tote), separators=(",", ":"))


def tote_from_json(text: str) -> Tote:
    raw: dict[str, Any] = json.loads(text)
    lines = tuple(
        ToteLine(**{**line, "fulfilment": Fulfilment(line["fulfilment"]), "state": LineState(line["state"])})
        for line in raw.pop("lines")
    )
    resume_to = raw.pop("resume_to")
    return Tote(
        **{**raw, "state": ToteState(raw["state"])},
        lines=lines,
        resume_to=None if resume_to is None else ToteState(resume_to),
    )


@dataclass
class ToteDesk:
    store: DeviceStore
    device: str
    verifier: TokenVerifier | None
    record: Callable[[list[BasketCommand], dict[str, str]], object]
    """Durable ops plus the machine's value, in one transaction (the agent's recorder)."""
    emit: Callable[[list[WorkflowEvent]], None]
    show: Callable[[ToteView], None]
    now: Callable[[], float] = time.time
    tote: Tote | None = None
    refused: Counter[str] = field(default_factory=Counter)
    orders: dict[str, AisleOrderView] = field(default_factory=dict)
    """The endless-aisle orders the last view showed: a snapshot that changes none of them changes no view."""

    def restore(self) -> None:
        """After a restart: the active tote, as its last durable transaction left it."""
        active = self._meta(ACTIVE_TOTE_KEY)
        text = self._meta(TOTE_KEY_PREFIX + active) if active else None
        self.tote = tote_from_json(text) if text else None
        self.show(self.view())

    # --- the associate acts ----------------------------------------------------------------------------------
    def command(self, cmd: ToteCommand) -> None:
        now, who = self.now(), cmd.associate
        if cmd.action == "open":
            if self.tote is not None and self.tote.state in (ToteState.DRAFT, ToteState.CUSTOMER_ATTACHED):
                self._refuse(Refused("tote_open", f"tote {self.tote.tote_id} is open: park or submit it first"))
                return
            tote_id = f"{TOTE_CART_PREFIX}{self.device}-{uuid.uuid4().hex[:10]}"
            opened = Tote.open(tote_id, associate=who, now=now)
            if opened.state is None:
                self._refuse(opened.refused or Refused("no_tote", "the tote could not be opened"))
                return
            attrs = [SetAttribute(tote_id, ASSOCIATE_ATTR, who, actor=who)]
            self._commit(Outcome(opened.state, opened.events), who, attrs)
            return
        if cmd.tote_id is not None and (self.tote is None or self.tote.tote_id != cmd.tote_id):
            text = self._meta(TOTE_KEY_PREFIX + cmd.tote_id)
            if text is None:
                self._refuse(Refused("no_such_tote", f"no tote {cmd.tote_id} on this device"))
                return
            self.tote = tote_from_json(text)  # a parked tote to resume, or a paid one to collect
        tote = self.tote
        if tote is None:
            self._refuse(Refused("no_tote", "open a tote first"))
            return
        match cmd.action:
            case "park":
                self._commit(tote.park(associate=who, now=now), who)
            case "resume":
                self._commit(tote.resume(associate=who, now=now), who)
            case "share":
                self._commit(tote.share(cmd.channel or "qr_to_phone", associate=who, now=now), who)
            case "submit":
                self._commit(tote.submit(associate=who, now=now), who)
            case "handoff_to_pos":
                self._commit(tote.handoff_to_pos(associate=who, now=now), who)
            case "payment_link":
                # The platform sends the shopper a payment link when it sees the tote in PAYMENT_LINK_SENT; the
                # handheld never takes a payment itself.
                self._commit(tote.payment_link_sent(associate=who, now=now), who)
            case "cancel":
                self._commit(tote.cancel(associate=who, now=now), who)
            case "start_collecting":
                self._commit(tote.start_collecting(associate=who, now=now), who)
            case "line_collected":
                self._commit(tote.line_collected(cmd.line_id or "", associate=who, now=now), who, self._line_state(cmd))
            case "line_unavailable":
                outcome = tote.line_unavailable(cmd.line_id or "", cmd.reason or "", associate=who, now=now)
                self._commit(outcome, who, self._line_state(cmd))
            case "propose_substitution":
                outcome = tote.propose_substitution(cmd.line_id or "", cmd.to_gtin or "", associate=who, now=now)
                self._commit(outcome, who, self._line_state(cmd))
            case "substitution_decided":
                outcome = tote.substitution_decided(cmd.line_id or "", bool(cmd.accepted), associate=who, now=now)
                self._commit(outcome, who, self._line_state(cmd))
            case "ready":
                self._commit(tote.ready(associate=who, now=now), who)
            case "handed_over":
                self._commit(tote.handed_over(associate=who, now=now), who)
            case "order_line":
                self._order_line(tote, cmd)
            case "remove_line":
                line = next((x for x in tote.lines if x.line_id == cmd.line_id), None)
                outcome = tote.remove_line(cmd.line_id or "", associate=who, now=now)
                removal = [RemoveItem(tote.tote_id, line.gtin14)] if line is not None else []
                self._commit(outcome, who, removal)

    def _order_line(self, tote: Tote, cmd: ToteCommand) -> None:
        """A line the store lacks, ordered for delivery or pickup at another store: the tote's line and the request
        the platform answers (the tote view shows it requested until then, :mod:`.aisle`). A carry-out line of the
        item (scanned, none on the shelf) becomes the ordered line: same units, another fulfilment."""
        if cmd.gtin14 is None or cmd.fulfilment is None:
            self._refuse(Refused("no_order_line", "order_line names gtin14 and fulfilment (ship or pickup@<store>)"))
            return
        wanted, who, now = parse_fulfilment(cmd.fulfilment), cmd.associate, self.now()
        if not wanted.ordered:
            self._refuse(Refused("not_an_order", "order_line is for ship or pickup@<store>; scan to carry out"))
            return
        carry = next((x for x in tote.lines if x.gtin14 == cmd.gtin14 and x.fulfilment is Fulfilment.CARRY_OUT), None)
        qty = carry.qty if carry is not None else cmd.qty or 1
        events: tuple[WorkflowEvent, ...] = ()
        if carry is not None:
            removed = tote.remove_line(carry.line_id, associate=who, now=now)
            if removed.refused is not None:
                self._refuse(removed.refused)
                return
            tote, events = removed.state, removed.events
        added = tote.add_line(cmd.gtin14, qty, wanted.mode.value, associate=who, now=now)
        outcome = Outcome(added.state, events + added.events, added.refused)
        ops = order_line(self.store, tote.tote_id, cmd.gtin14, qty, wanted.text, who, add=carry is None)
        self._commit(outcome, who, ops)

    def scanned(self, key: ProductKey) -> bool:
        """A scan on the handheld goes into the active tote (carry-out, attributed to its associate)."""
        tote = self.tote
        if tote is None:
            return False
        who = tote.associate_id
        outcome = tote.add_line(key.gtin14, 1, Fulfilment.CARRY_OUT.value, associate=who, now=self.now())
        self._commit(outcome, who, [AddItem(tote.tote_id, key.gtin14, actor=who, serial=key.serial)])
        return True

    def identity(self, event: IdentityPresented) -> bool:
        """A loyalty tap or app QR attaches the shopper to the active tote (the credential is never kept)."""
        tote = self.tote
        if tote is None:
            return False
        if self.verifier is None:
            self._refuse(Refused("identity_not_configured", "no [identity] section in config"))
            return True
        try:
            identity = self.verifier.verify(event.token, self.now(), event.method)
        except IdentityRejected as exc:
            self._refuse(Refused(exc.reason, str(exc)))
            return True
        who = tote.associate_id
        outcome = tote.attach_customer(
            event.method, identity.pseudonym, consent=identity.consent, associate=who, now=self.now()
        )
        # Only with "profile" consent does the pseudonym reach the platform; otherwise the order is the shopper's
        # in-store purchase, handed off at the till, and the tote says only that someone was identified.
        shown = identity.pseudonym if "profile" in identity.consent else "consent_withheld"
        self._commit(outcome, who, [SetAttribute(tote.tote_id, CUSTOMER_ATTR, shown, actor=who)])
        return True

    def platform_attributes(self, tote_id: str, attrs: dict[str, str | None]) -> None:
        """The tote cart's snapshot came back: a payment the platform recorded (``tote.order_id``) makes it PAID.
        Only the platform writes that attribute; the device never reports a payment itself."""
        order_id = attrs.get(ORDER_ATTR)
        text = self._meta(TOTE_KEY_PREFIX + tote_id)
        if not order_id or text is None:
            current = self.tote
            if current is not None and current.tote_id == tote_id and order_views(self.store, tote_id) != self.orders:
                self.show(self.view())  # an endless-aisle answer came back
            return
        tote = tote_from_json(text)
        if tote.order_id == order_id:
            return  # already known
        active, self.tote = self.tote, tote
        self._commit(tote.paid(order_id, source=Source.PLATFORM, now=self.now()), "platform")
        self.tote = active if active is not None and active.tote_id != tote_id else self.tote

    def _line_state(self, cmd: ToteCommand) -> list[BasketCommand]:
        """What the associate did to a line, as an attribute of the tote cart (the line itself is its entries)."""
        assert self.tote is not None
        line = next((x for x in self.tote.lines if x.line_id == cmd.line_id), None)
        if line is None:
            return []
        value = {
            "line_collected": "collected",
            "line_unavailable": f"unavailable:{cmd.reason}",
            "propose_substitution": f"substitute_proposed:{cmd.to_gtin}",
            "substitution_decided": f"substitute_{'accepted' if cmd.accepted else 'declined'}:{line.substitute_gtin}",
        }[cmd.action]
        return [SetAttribute(self.tote.tote_id, f"tote.line.{line.gtin14}.{line.fulfilment.value}", value)]

    # --- internals ---------------------------------------------------------------------------------------------
    def _commit(self, outcome: Outcome[Tote], actor: str, extra: Sequence[BasketCommand] = ()) -> None:
        if outcome.refused is not None:
            self._refuse(outcome.refused)
            return
        before = self.tote
        tote = outcome.state
        commands = list(extra)
        if before is None or before.state is not tote.state or before.tote_id != tote.tote_id:
            commands.append(SetAttribute(tote.tote_id, STATE_ATTR, tote.state.value, actor=actor))
        active = tote.tote_id if tote.state in _ACTIVE_STATES else ""
        # A tote the handheld is done with is forgotten here (its cart and ops carry on to the platform), so the
        # meta table does not grow with every tote ever opened.
        kept = "" if tote.state in _FINISHED_STATES else tote_to_json(tote)
        self.record(commands, {TOTE_KEY_PREFIX + tote.tote_id: kept, ACTIVE_TOTE_KEY: active})
        self.tote = tote if active or tote.state in _COLLECTING_STATES else None
        self.emit(list(outcome.events))
        self.show(self.view())

    def _refuse(self, refused: Refused) -> None:
        self.refused[refused.reason] += 1
        log.warning("tote: refused: %s: %s", refused.reason, refused.detail)
        self.show(self.view(refused))

    def _meta(self, key: str) -> str | None:
        return self.store.meta(key)

    def _name(self, gtin14: str) -> str:
        item = self.store.catalog_item(gtin14)
        return item.name if item is not None else ""

    def parked(self) -> list[str]:
        totes = self.store.meta_with_prefix(TOTE_KEY_PREFIX)
        return sorted(k for k, v in totes.items() if json.loads(v).get("state") == ToteState.PARKED.value)

    def view(self, refused: Refused | None = None) -> ToteView:
        t = self.tote
        orders = self.orders = order_views(self.store, t.tote_id) if t else {}
        return ToteView(
            tote_id=t.tote_id if t else None,
            state=t.state.value if t else None,
            associate=t.associate_id if t else None,
            customer_attached=bool(t and t.customer),
            lines=[
                ToteLineView(
                    line_id=x.line_id,
                    gtin14=x.gtin14,
                    name=self._name(x.gtin14),
                    qty=x.qty,
                    fulfilment=x.fulfilment.value,
                    state=x.state.value,
                    order=None if x.fulfilment is Fulfilment.CARRY_OUT else orders.get(x.gtin14),
                    availability=elsewhere(
                        self.store, self.store.catalog_item(x.gtin14), ordered=x.fulfilment is not Fulfilment.CARRY_OUT
                    ),
                )
                for x in (t.lines if t else ())
            ],
            parked=self.parked(),
            refused=refused.reason if refused else None,
            detail=refused.detail[:200] if refused else None,
            related=related_to(self.store, t.lines[-1].gtin14, [x.gtin14 for x in t.lines]) if t and t.lines else [],
        )


_ACTIVE_STATES: Final = frozenset({ToteState.DRAFT, ToteState.CUSTOMER_ATTACHED, ToteState.SHARED})
"""A tote the handheld's scans go into; a parked, submitted or ended tote is no longer the active one."""
_COLLECTING_STATES: Final = frozenset(
    {
        ToteState.SUBMITTED,
        ToteState.AWAITING_PAYMENT_AT_POS,
        ToteState.PAYMENT_LINK_SENT,
        ToteState.PAID,
        ToteState.COLLECTING,
        ToteState.READY_AT_COUNTER,
    }
)
"""A submitted tote stays on screen through hand-off, payment and collection (scans are no longer lines then)."""
_FINISHED_STATES: Final = frozenset(
    {ToteState.HANDED_OVER, ToteState.COMPLETED, ToteState.CANCELLED, ToteState.ABANDONED}
)
"""Nothing more happens to the tote on this device."""
