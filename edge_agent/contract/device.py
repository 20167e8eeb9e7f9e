"""The device itself: status (and last will), the shopper session and its UI commands, erasure, presence.

Every field a consumer needs is in the payload; MQTT 5 user properties only mirror ``type`` and ``id``, so a
3.1.1 broker carries the same contract. docs/asyncapi.yaml is generated from these models.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import Field, StringConstraints

from edge_agent.contract.aisle import AisleOrderView, Availability, FulfilmentText
from edge_agent.contract.base import CloudEvent, ReasonCode, Strict
from edge_agent.contract.catalog import RelatedItem
from edge_agent.contract.offers import ConsentScope, OfferView
from edge_agent.contract.presence import PresenceReport
from edge_agent.domain.const import MAX_LINE_QTY
from edge_agent.domain.ops import CartId, DeviceId, Gtin14

T_STATUS: Final = "com.edgeagent.device.status.v1"
T_SESSION: Final = "com.edgeagent.session.state.v1"
T_SESSION_COMMAND: Final = "com.edgeagent.session.command.v1"
T_ERASURE: Final = "com.edgeagent.privacy.erasure.v1"
T_ERASED: Final = "com.edgeagent.privacy.erased.v1"
T_PRESENCE: Final = "com.edgeagent.presence.report.v1"
T_BASKET_VIEW: Final = "com.edgeagent.basket.view.v1"
T_BASKET_COMMAND: Final = "com.edgeagent.basket.command.v1"

TillCode = Annotated[str, StringConstraints(pattern=r"^2[0-9]{12}$")]


class ReaderStatus(Strict):
    state: Literal["ok", "degraded", "stopped"]
    detail: str = Field(default="", max_length=300, description="for degraded: a stable reason prefix, then text")


class DeviceStatus(Strict):
    """Retained; also the last will. Consumers keep the highest ``session`` so a late will cannot win."""

    device: DeviceId
    state: Literal["online", "offline"]
    session: int = Field(ge=0)
    agent_version: str | None = None
    pending_ops: int | None = None
    oldest_pending_age_s: float | None = None
    readers: dict[str, ReaderStatus] | None = Field(
        default=None, description="reader name -> health; republished whenever a reader's health changes"
    )


class PreviewLineModel(Strict):
    sku: Gtin14
    store_qty: int = Field(ge=0)
    online_qty: int = Field(ge=0)
    result_qty: int = Field(ge=0)


class SessionState(Strict):
    """Up, retained: what the device's screen shows. No pseudonym, no credential: identified is a flag."""

    session_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,32}$")]
    state: Literal["anonymous", "merge_preview", "merged", "kept_separate", "merge_declined", "ended"]
    active_cart: CartId
    guest_cart: CartId
    identified: bool
    consent: list[ConsentScope] = Field(default=[], description="the scopes the shopper holds now")
    consent_pending: list[ConsentScope] = Field(
        default=[], description="scopes changed at the device that the platform has not confirmed yet"
    )
    offers: list[OfferView] = Field(default=[], max_length=10, description="with the personalisation scope only")
    policy: Literal["sum", "max", "replace", "keep_online", "separate"] | None = None
    preview_id: str | None = None
    lines: list[PreviewLineModel] = Field(default=[], max_length=1000)
    end_reason: str | None = None
    refused: str | None = Field(default=None, description="reason the last UI command or tap was refused")
    app_nearby: bool = Field(
        default=False,
        description="an opted-in shopper app is close to the device: the screen may invite the shopper to "
        "identify (tap or show the app code). It identifies nobody by itself.",
    )


class BasketLineView(Strict):
    """One line as the screen shows it: the product's name and price from the device's catalog cache."""

    gtin14: Gtin14
    name: str = Field(default="", max_length=200, description="empty when the catalog cache does not know it")
    qty: int = Field(ge=0)
    unit_price_minor: int | None = Field(default=None, description="None: no price cached, confirmed at checkout")
    line_total_minor: int | None = None
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    availability: Availability | None = Field(
        default=None, description="none in stock here: what online and nearby stores hold (endless aisle)"
    )
    order: AisleOrderView | None = Field(
        default=None, description="ordered for delivery or pickup: requested, confirmed or refused by the platform"
    )


class BasketRefusal(Strict):
    """The latest scan, tap or line change the device refused, as the shopper is told: a reason code and when,
    never the input itself (a card number, a tag's UID, the code that was read)."""

    reason: ReasonCode
    at: datetime
    source: Literal["barcode", "nfc", "basket"] = Field(description="which reader, or the basket's own rules")


class CheckoutView(Strict):
    """After Checkout: the code the till scans to find this basket (an in-store EAN-13, GS1 prefix 2), or,
    once the platform sealed the basket into an order, thanks. ``pay_in_app``: an identified shopper may pay there."""

    state: Literal["pay_at_till", "sealed"]
    till_code: TillCode | None = Field(default=None, description="pay_at_till: EAN-13 with its check digit")
    pay_in_app: bool = False


class BasketView(Strict):
    """Up, retained on a kiosk's display: the basket as the shopper sees it (names, prices, total) and, during a
    merge preview, the joined basket priced the same way. No cart id, pseudonym or credential: items and prices."""

    lines: list[BasketLineView] = Field(default=[], max_length=1000)
    items: int = Field(ge=0, description="units in the basket")
    total_minor: int | None = Field(description="None when a line has no cached price or currencies differ")
    currency: Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")] | None = None
    priced_as_of: datetime | None = Field(default=None, description="the oldest cached price's as-of time")
    preview: list[BasketLineView] | None = Field(
        default=None, max_length=1000, description="during a merge preview: the basket the shopper would have"
    )
    preview_total_minor: int | None = None
    prices_stale: bool = Field(
        default=False, description="the oldest cached price is older than the screen trusts: confirmed at checkout"
    )
    refused: BasketRefusal | None = Field(default=None, description="the latest refused scan, tap or line change")
    checkout: CheckoutView | None = None
    related: list[RelatedItem] = Field(
        default=[], max_length=20, description="the catalog's related items for the latest scan, as the cache has them"
    )


class BasketLineCommand(Strict):
    """Down, from the device's UI: the shopper changes a line's quantity, removes it, or orders it for delivery or
    pickup elsewhere (durable ops, like scans).
    Names the session it was made in, so a command from a screen that missed a session's end changes nothing."""

    action: Literal["set_quantity", "remove", "order"]
    session_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,32}$")]
    gtin14: Gtin14
    qty: int | None = Field(
        default=None, ge=1, le=MAX_LINE_QTY, description="set_quantity: the new quantity; order: for a new line"
    )
    fulfilment: FulfilmentText | None = Field(
        default=None, description="order: ship or pickup@{store}, asked of the platform (endless aisle)"
    )


class SessionCommand(Strict):
    """Down, from the device's UI: the shopper's decision. Confirm names the preview the shopper saw."""

    action: Literal["confirm_merge", "decline_merge", "end_session", "checkout"]
    session_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,32}$")]
    preview_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16}$")] | None = None
    confirm_code: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")] | None = Field(
        default=None,
        description="confirm_merge: HMAC-SHA256 of the preview id under the device's screen key (a file on the "
        "device, never on MQTT), first 32 hex digits. Without it a confirm is refused: only a screen on the device "
        "(or the shopper tapping the same card again) can join a shopper's carts.",
    )


ERASURE_CARTS_MAX = 100
"""Carts one erasure request (and its answer) names: a shopper has a handful; a platform sends more in several."""


class ErasureRequest(Strict):
    """Down, store-wide: a shopper withdrew consent or asked to be forgotten; devices drop their copies."""

    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    carts: list[CartId] = Field(min_length=1, max_length=ERASURE_CARTS_MAX, description="the shopper's profile cart(s)")


class ErasureDone(Strict):
    """Up: what this device forgot. ``ops_dropped`` counts unsent edits of those carts that were discarded (the
    unsent workflow events of the shopper's identified sessions go too; the device logs how many)."""

    request_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:-]{1,128}$")]
    device: DeviceId
    carts: list[CartId] = Field(max_length=ERASURE_CARTS_MAX)
    ops_dropped: int = Field(ge=0)
    session_ended: bool


class StatusEvent(CloudEvent[DeviceStatus]):
    type: Literal["com.edgeagent.device.status.v1"] = T_STATUS


class SessionStateEvent(CloudEvent[SessionState]):
    type: Literal["com.edgeagent.session.state.v1"] = T_SESSION


class SessionCommandEvent(CloudEvent[SessionCommand]):
    type: Literal["com.edgeagent.session.command.v1"] = T_SESSION_COMMAND


class BasketViewEvent(CloudEvent[BasketView]):
    type: Literal["com.edgeagent.basket.view.v1"] = T_BASKET_VIEW


class BasketLineCommandEvent(CloudEvent[BasketLineCommand]):
    type: Literal["com.edgeagent.basket.command.v1"] = T_BASKET_COMMAND


class ErasureRequestEvent(CloudEvent[ErasureRequest]):
    type: Literal["com.edgeagent.privacy.erasure.v1"] = T_ERASURE


class ErasureDoneEvent(CloudEvent[ErasureDone]):
    type: Literal["com.edgeagent.privacy.erased.v1"] = T_ERASED


class PresenceReportEvent(CloudEvent[PresenceReport]):
    type: Literal["com.edgeagent.presence.report.v1"] = T_PRESENCE
