"""The central simulator applies what arrived together in one transaction (simulators/central/inbox.py), and
that changes none of what a device relies on: each message is judged alone, the (device, epoch, seq) dedupe
holds inside a group, a sync answer follows the ops before it, and every applied message is acknowledged."""

from __future__ import annotations

import uuid
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from edge_agent.contract.cart import T_OPS, T_SYNC_REQUEST, OpsBatch, SyncRequest
from edge_agent.contract.topics import Topics
from edge_agent.domain.basket import AddItem, plan
from edge_agent.domain.ops import CartOp
from simulators.central import CentralPlatform
from tests.support.broker import MosquittoBroker
from tests.support.mqtt_spy import Spy
from tests.support.rogue import event
from tests.support.world import wait_until

EPOCH = "00000000000000aa"
SKU_A, SKU_B = "00000000000017", "00000000000024"
PUBACK_WAIT_S = 5.0


class Device:
    """Ops batches as a device publishes them, on its own topics."""

    def __init__(self, device: str) -> None:
        self.device, self.seq = device, 0
        self.topics = Topics("acme", "s042", device)

    def op(self, sku: str) -> CartOp:
        """An add to this device's own basket (``c-`` and its id: a device writes only carts it may)."""
        self.seq += 1
        return plan(AddItem(f"c-{self.device}", sku), []).materialise(
            device=self.device, epoch=EPOCH, seq=self.seq, uuid=uuid.uuid4(), hlc=1_000 + self.seq
        )

    def batch(self, *ops: CartOp, device: str | None = None) -> tuple[str, bytes]:
        data = OpsBatch(device=device or self.device, epoch=EPOCH, ops=list(ops), hlc_max=max(o.hlc for o in ops))
        return self.topics.ops, event(T_OPS, data.model_dump(mode="json"))

    def sync(self, event_id: str, cart_ids: tuple[str, ...] = ()) -> tuple[str, bytes]:
        request = SyncRequest(device=self.device, cart_ids=list(cart_ids))
        payload = event(T_SYNC_REQUEST, request.model_dump(mode="json"))
        return self.topics.sync, payload.replace(b'"rogue-1"', f'"{event_id}"'.encode())


def test_a_poison_batch_in_a_group_is_rejected_alone_and_a_resend_inside_it_is_a_duplicate(
    central: CentralPlatform,
) -> None:
    d1, d2 = Device("d-1"), Device("d-2")
    first = d1.op(SKU_A)
    oks = central.handle_many(
        [
            d1.batch(first),
            d2.batch(d2.op(SKU_B), device="d-9"),  # published under dv/d-2 for another device: impersonation
            d1.batch(first, d1.op(SKU_B)),  # a resend cut differently, in the same transaction as the first
            ("rt/v1/acme/st/s042/nowhere", b"{}"),
        ]
    )
    assert oks == [True, True, True, True], "poison is acknowledged (else redelivered forever)"
    assert central.stats.rejected["impersonation"] == 1
    assert central.stats.rejected["unknown_topic"] == 1
    assert (central.stats.ops_applied, central.stats.ops_duplicate) == (2, 1)
    assert central.cart("c-d-1") == {SKU_A: 1, SKU_B: 1}
    assert central.applied_count("d-1") == 2 and central.applied_count("d-2") == 0
    mark = central.watermark("d-1").watermarks
    assert [(m.applied_upto, m.applied_above) for m in mark] == [(2, [])]


def test_a_sync_request_behind_ops_in_one_group_is_answered_with_them_applied(
    central: CentralPlatform, spy: Spy
) -> None:
    d1 = Device("d-1")
    central.handle_many([d1.batch(d1.op(SKU_A)), d1.batch(d1.op(SKU_B)), d1.sync("d-1:sync:1")])

    def answer() -> dict[str, Any] | None:
        return next((m for m in spy.on(d1.topics.acks) if m["data"].get("answers") == "d-1:sync:1"), None)

    wait_until(lambda: answer() is not None, what="the sync answer")
    found = answer()
    assert found is not None
    assert found["data"]["watermarks"] == [{"epoch": EPOCH, "applied_upto": 2, "applied_above": []}]
    assert [m["data"]["watermarks"][0]["applied_upto"] for m in spy.on(d1.topics.acks)] == [2, 2], (
        "one watermark for the device's run of batches, then the answer"
    )


def test_a_burst_published_at_once_is_applied_and_every_message_acknowledged(
    central: CentralPlatform, broker: MosquittoBroker
) -> None:
    d1, d2 = Device("d-1"), Device("d-2")
    burst = [dev.batch(dev.op(SKU_A)) for _ in range(20) for dev in (d1, d2)]
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="burst")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        infos = [client.publish(topic, payload, qos=1) for topic, payload in burst]
        for info in infos:
            info.wait_for_publish(PUBACK_WAIT_S)
        wait_until(lambda: central.applied_count() == 40, what="the burst applied")
        # Applied is visible at the COMMIT; the PUBACKs follow it. Going offline in between would drop them.
        wait_until(lambda: central.acknowledged >= 40, what="the burst acknowledged")
        # Anything left unacknowledged is redelivered first when the platform's session resumes, ahead of a
        # batch published after it: once that batch is applied, a missing ack would show as a duplicate.
        central.go_offline()
        central.come_online()
        client.publish(*d1.batch(d1.op(SKU_B)), qos=1).wait_for_publish(PUBACK_WAIT_S)
        wait_until(lambda: central.applied_count() == 41, what="the batch after the reconnect")
    finally:
        client.disconnect()
        client.loop_stop()
    assert central.stats.ops_duplicate == 0, "every applied message was acknowledged after its COMMIT"
    assert (central.cart("c-d-1"), central.cart("c-d-2")) == ({SKU_A: 20, SKU_B: 1}, {SKU_A: 20})
    assert central.stats.batches == 41


def test_batches_queued_while_the_platform_was_away_share_transactions(
    central: CentralPlatform, broker: MosquittoBroker
) -> None:
    devices = [Device(f"d-{i}") for i in range(4)]
    central.go_offline()  # its session stays: the broker queues what the devices publish meanwhile
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="backlog")
    client.connect(broker.host, broker.port)
    client.loop_start()
    try:
        for info in [client.publish(*dev.batch(dev.op(SKU_A)), qos=1) for _ in range(10) for dev in devices]:
            info.wait_for_publish(PUBACK_WAIT_S)
    finally:
        client.disconnect()
        client.loop_stop()
    central.come_online()
    wait_until(lambda: central.applied_count() == 40, what="the backlog applied")
    assert central.stats.batches == 40
    assert central.stats.transactions < 40, "the backlog arrives at once: one fsync per message would be 40"
    assert all(central.cart(f"c-{dev.device}") == {SKU_A: 10} for dev in devices)


def test_a_sync_request_listing_an_erased_cart_is_answered_with_the_erasure_again(
    central: CentralPlatform, spy: Spy
) -> None:
    """A device that was away when the erasure went out (or whose session expired) still holds the cart, and says so
    in its sync request: the platform asks it again, and sends no snapshot of the erased cart."""
    d1, topics = Device("d-1"), Topics("acme", "s042", "-")
    central.open_profile_cart("profile-ada", "acme", "s042")
    central.erase_shopper("profile-ada", "acme", "s042", "gdpr-1")
    wait_until(lambda: len(spy.on(topics.erasure)) == 1, what="the erasure request")
    central.handle_many([d1.batch(d1.op(SKU_A)), d1.sync("d-1:sync:1", cart_ids=("profile-ada", "c-d-1"))])

    wait_until(lambda: len(spy.on(topics.erasure)) == 2, what="the erasure asked again")
    replay = spy.on(topics.erasure)[1]["data"]
    assert replay["carts"] == ["profile-ada"] and replay["request_id"] != "gdpr-1"
    assert central.stats.erasures_replayed == 1
    assert spy.on(topics.cart_state("profile-ada")) == [], "no snapshot of the erased cart"
    central.handle_many([d1.sync("d-1:sync:2", cart_ids=("c-d-1",))])
    wait_until(lambda: any(m["data"].get("answers") == "d-1:sync:2" for m in spy.on(d1.topics.acks)), what="answer")
    assert len(spy.on(topics.erasure)) == 2, "a device that no longer lists the cart is not asked again"
