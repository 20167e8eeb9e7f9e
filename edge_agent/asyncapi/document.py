"""Render docs/asyncapi.yaml (AsyncAPI 3.0) from the pydantic models, so the contract cannot drift.

tests/unit/test_asyncapi.py fails when the committed file differs from what this renders, and checks each
example against its schema.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import yaml
from pydantic.json_schema import models_json_schema

from edge_agent import __version__
from edge_agent.asyncapi.messages import messages as contract_messages
from edge_agent.const import SESSION_EXPIRY_S, WILL_DELAY_S

_T0 = datetime(2026, 11, 23, 10, 0, 0, tzinfo=UTC)
_PARAMS = {
    "tenant": {"description": "Retailer (tenant) id."},
    "store": {"description": "Store id."},
    "device": {"description": "Device id; a device publishes only under its own dv/{device}."},
}


_CHANNELS = {
    "deviceOps": ("rt/v1/{tenant}/st/{store}/dv/{device}/ops", "opsBatch", "send", False),
    "deviceAcks": ("rt/v1/{tenant}/st/{store}/dv/{device}/acks", "appliedWatermark", "receive", True),
    "cartState": ("rt/v1/{tenant}/st/{store}/carts/{cartId}/state", "cartSnapshot", "receive", True),
    "deviceSync": ("rt/v1/{tenant}/st/{store}/dv/{device}/sync", "syncRequest", "send", False),
    "deviceStatus": ("rt/v1/{tenant}/st/{store}/dv/{device}/status", "deviceStatus", "send", True),
    "deviceHealth": ("rt/v1/{tenant}/st/{store}/dv/{device}/health", "deviceHealth", "send", False),
    "deviceSession": ("rt/v1/{tenant}/st/{store}/dv/{device}/session", "sessionState", "send", True),
    "deviceUi": (
        "rt/v1/{tenant}/st/{store}/dv/{device}/ui",
        (
            "sessionCommand",
            "basketCommand",
            "offerCommand",
            "consentCommand",
            "shelfCommand",
            "labelReport",
            "toteCommand",
            "mirrorCommand",
            "pickCommand",
        ),
        "receive",
        False,
    ),
    "storeCatalog": ("rt/v1/{tenant}/st/{store}/catalog", "catalogUpdate", "receive", False),
    "deviceDisplay": (
        "rt/v1/{tenant}/st/{store}/dv/{device}/display",
        ("lookupShown", "toteView", "mirrorView", "basketView"),
        "send",
        True,
    ),
    "storeAssistRequests": (
        "rt/v1/{tenant}/st/{store}/assist/requests/{device}/{requestId}",
        "assistRequest",
        "send",
        True,
    ),
    "storePickOrders": ("rt/v1/{tenant}/st/{store}/picking/orders/{orderId}", "pickOrder", "receive", True),
    "storePickClaims": ("rt/v1/{tenant}/st/{store}/picking/orders/{orderId}/claim", "pickClaim", "receive", True),
    "storePickDecisions": (
        "rt/v1/{tenant}/st/{store}/picking/orders/{orderId}/decisions",
        "pickDecisions",
        "receive",
        True,
    ),
    "devicePicking": ("rt/v1/{tenant}/st/{store}/dv/{device}/picking", "pickView", "send", True),
    "mirrorAssistReplies": ("rt/v1/{tenant}/st/{store}/dv/{device}/assist", "assistReply", "receive", False),
    "deviceEvents": ("rt/v1/{tenant}/st/{store}/dv/{device}/events", "workflowEvent", "send", False),
    "devicePresence": ("rt/v1/{tenant}/st/{store}/dv/{device}/presence", "presenceReport", "send", False),
    "storeErasure": ("rt/v1/{tenant}/st/{store}/privacy/erasure", "erasureRequest", "receive", False),
    "deviceErased": ("rt/v1/{tenant}/st/{store}/dv/{device}/erased", "erasureDone", "send", False),
    "deviceOffers": ("rt/v1/{tenant}/st/{store}/dv/{device}/offers/{sessionId}", "sessionOffers", "receive", True),
    "deviceClaim": ("rt/v1/{tenant}/st/{store}/dv/{device}/claim", "claimView", "send", True),
    "deviceClaimed": ("rt/v1/{tenant}/st/{store}/dv/{device}/claimed", "basketClaimed", "receive", False),
    "deviceRequest": ("rt/v1/{tenant}/st/{store}/dv/{device}/request/{name}", "deviceRequest", "receive", False),
    "deviceResponse": ("rt/v1/{tenant}/st/{store}/dv/{device}/response/{name}", "deviceResponse", "send", False),
}


_ID_PARAMS = {
    "cartId": "Cart id.",
    "requestId": "Assist request id.",
    "sessionId": "The device's shopper session id (`session_id` of its session state).",
    "orderId": "Click-and-collect order id.",
    "name": "Request name; may span levels (`config/get`): the device subscribes to `request/#`.",
}


def build_document() -> dict[str, Any]:
    messages = contract_messages()
    _, top = models_json_schema(
        [(m[1], "validation") for m in messages.values()], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, (address, carried, action, retain) in _CHANNELS.items():
        names = (carried,) if isinstance(carried, str) else carried
        params = {
            p: dict(_PARAMS[p] if p in _PARAMS else {"description": _ID_PARAMS[p]})
            for p in ("tenant", "store", "device", "cartId", "requestId", "orderId", "sessionId", "name")
            if "{" + p + "}" in address
        }
        channels[name] = {
            "address": address,
            "parameters": params,
            "messages": {m: {"$ref": f"#/components/messages/{m}"} for m in names},
        }
        operations[f"{action}{name[0].upper()}{name[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{name}"},
            "summary": f"The device {'publishes' if action == 'send' else 'subscribes to'} {', '.join(names)}.",
            "messages": [{"$ref": f"#/channels/{name}/messages/{m}"} for m in names],
            "bindings": {"mqtt": {"qos": 1, "retain": retain, "bindingVersion": "0.2.0"}},
        }
    components_messages = {
        name: {
            "name": name,
            "title": title,
            "summary": summary,
            "contentType": "application/cloudevents+json",
            "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
            "examples": [{"name": f"{name}Example", "payload": example.model_dump(mode="json", exclude_none=True)}],
            "bindings": {"mqtt": {"payloadFormatIndicator": 1, "bindingVersion": "0.2.0"}},
        }
        for name, (title, model, example, summary) in messages.items()
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "edge-agent MQTT contract",
            "version": __version__,
            "description": (
                "Topics and payloads between an in-store edge-agent and the central platform. Every message is a "
                "CloudEvents 1.0 structured-mode JSON event; MQTT 5 user properties ce_type/ce_id only mirror "
                "the payload, so the MQTT 3.1.1 profile carries the same contract. QoS 1 everywhere; a PUBACK "
                "is one hop, only the applied watermark confirms an op. Generated by `edge-agent asyncapi`.\n\n"
                + SECURITY_RULES
            ),
        },
        "defaultContentType": "application/cloudevents+json",
        "servers": {
            "storeBroker": {
                "host": "mqtt.example.internal:8883",
                "protocol": "mqtts",
                "protocolVersion": "5",
                "description": "The store's or region's broker; several endpoints may be configured, tried in turn.",
                "bindings": {
                    "mqtt": {
                        "cleanSession": False,
                        "keepAlive": 30,
                        "sessionExpiryInterval": SESSION_EXPIRY_S,
                        "lastWill": {
                            "topic": "rt/v1/{tenant}/st/{store}/dv/{device}/status",
                            "qos": 1,
                            "retain": True,
                            "message": f"deviceStatus with state offline (will delay {WILL_DELAY_S}s)",
                        },
                        "bindingVersion": "0.2.0",
                    }
                },
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": components_messages, "schemas": schemas},
    }


SECURITY_RULES = """\
## Who may write what (issue 10)
**The broker's fence.** Every client authenticates with a certificate from the store CA (mTLS); its CN is its
MQTT username. A device (CN = device id) writes only its own up-topics under `dv/{device}/` (ops, sync, status,
health, session, display, picking, events, presence, erased, ui, claim, response/#) and
`assist/requests/{device}/+`. Only the platform (CN `platform`, reserved) writes acks, cart snapshots, the catalog,
erasure requests, pick orders, claims and decisions, requests to devices (`dv/{device}/request/#`), assist replies
(`dv/{mirror}/assist`: an associate's reply reaches a mirror through the platform), and basket claims
(`dv/{kiosk}/claimed`: a shopper took the guest basket to their phone).
Reference files: deploy/mosquitto/.

**The platform's duty.** The ACL says who published; the platform decides what that device may write, in the
transaction that applies the batch: (1) the publishing device is the `{device}` of the ops topic, and every op
names it; (2) a device is homed at the store it first published from; a batch under another store is refused;
(3) a cart nobody owns yet belongs to the device that first writes it (guest baskets, totes); (4) a pick cart
`pick-{order}` may be written by any device of its store; (5) a shopper's profile cart is written by a device only
after that device's `attr.set merge.grant` on the profile cart. From a device with public keys (EA2 credentials)
its value is `fp:` + the first 32 hex digits of SHA-256 over
`edge-agent merge grant fp v1|{device}|{profile cart}|{hex SHA-256 of the credential's signature}`: the platform
records that fingerprint for every credential it issues and accepts the grant only when it matches one issued for
that profile cart (no shared key; never the credential). From a legacy device (EA1) it is HMAC-SHA256 over
`edge-agent merge grant v1|{device}|{profile cart}` under the identity key the platform signs credentials with
(first 32 hex digits); (6) an op a device may not write is held: never applied, never lost, covered by the
watermark; a grant that arrives later releases the device's held ops for that cart, in seq order; (7) only the
platform writes an endless-aisle answer `aisle.{gtin14}.answer`: a device op that does is dropped and counted.

**A merge only the shopper at the device confirms.** The retained session state carries the preview id but no
secret. A `confirm_merge` on `dv/{device}/ui` must carry `confirm_code`, HMAC-SHA256 of
`edge-agent merge confirm v1|{preview id}` under the device's screen key (a 0600 file next to its database, made on
first start, never sent), first 32 hex digits: only a screen running on the device can compute it. A second tap of
the same card or app code also confirms.

**Bounds a device enforces on what it receives.** Integers in payloads are below 2^63 (seqs, watermarks, HLCs,
versions), line quantities at most 999, prices at most 100,000,000 minor units, stock at most 10,000,000 units, free
text at most 256 characters. A remote HLC more than `mqtt.max_clock_ahead_s` (default 300 s) ahead of the device's
wall clock is counted `clock_ahead` and not adopted. An applied watermark above the highest seq the device issued in
that epoch is refused (`ack_beyond_issued`). A cart snapshot or catalog update whose version is more than 1,000,000
past the device's is refused (`version_jump`): versions are counters, not timestamps; a catalog item's version is
never above its update's. Erasure removes only profile carts, never a device's own basket, tote or pick cart
(`not_a_profile_cart`). Everything refused is counted and logged with its reason; nothing of it is applied.
"""


def render_asyncapi() -> str:
    header = "# Generated by `edge-agent asyncapi` from edge_agent/contract/ -- do not edit by hand.\n"
    return header + str(yaml.safe_dump(build_document(), sort_keys=False, allow_unicode=True, width=110))
