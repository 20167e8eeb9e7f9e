"""Limits of the platform's apply path, with their reasons."""

from __future__ import annotations

from typing import Final

from edge_agent.contract.cart import MAX_WATERMARK_GAPS

MAX_EPOCHS_PER_WATERMARK: Final = 64
"""Epochs of one device listed in its watermark: a device starts a new epoch only when its database is recreated,
so more than a handful means a broken device; the newest ones still fit in one message."""

MAX_GAPS_PER_EPOCH: Final = MAX_WATERMARK_GAPS
"""Seqs above the contiguous mark listed per epoch: the contract's own bound (AppliedWatermark)."""

UPLINK_STREAM: Final = "PLATFORM_UPLINK"
"""The JetStream stream capturing every device's ops and sync requests (MQTT QoS 1 publishes land in it)."""

APPLY_CONSUMER: Final = "platform-apply"
"""The one durable pull consumer every worker fetches from: JetStream hands each message to one fetcher."""

ACK_WAIT_S: Final = 10.0
"""A fetched message not acked within this is redelivered to any worker (a worker killed mid-batch). Well above a
fetch's apply time (50 batches x a few ms), and far below the agent's own 60 s resend (sync note §1)."""

UPLINK_SETUP_ATTEMPTS: Final = 4
"""Tries at creating the stream and consumer at start: on a cluster that has just started (or lost a node) the
JetStream API can miss its 5 s timeout while it places the R3 stream; the call is idempotent, so try again."""

FETCH_BATCH: Final = 50
"""Messages per pull: enough to amortise the round trip, few enough to stay far inside ACK_WAIT_S."""

FETCH_TIMEOUT_S: Final = 1.0
"""An idle pull returns after this, so a stop request is seen within a second."""

MAX_ACK_PENDING: Final = 4000
"""Unacked messages across all workers: bounds redelivery after a crash and the memory in flight."""

STREAM_MAX_AGE_S: Final = 7 * 24 * 3600
"""The cart class's TTL on the device (sync note §7): older uplinks would be resent by the device anyway."""

NAK_DELAY_S: Final = 0.5
"""After a transient database error (deadlock, lost connection) the message is retried this much later."""

ERASED_CART_TABLES: Final = (
    "cart_entries",
    "cart_tombstones",
    "cart_attrs",
    "cart_seals",
    "cart_versions",
    "held_ops",
)
"""A cart's rows an erasure deletes, on either platform, held ops included (the owner row stays, and the
erased_carts mark keeps anyone from writing the id again)."""
