"""The central platform, simulated: the reference for what a real platform must do with edge-agent ops.

- Subscribes to every device's ops (an MQTT 5 shared subscription, so several instances can share the load).
- Applies each batch in ONE transaction: ``applied_ops`` dedupes per (device, epoch, seq), only new ops change
  the cart, and only after COMMIT does it PUBACK (paho manual acks) -- a PUBACK is not delivery. Batches (and
  workflow events) that queued while one transaction ran share the next, one fsync for all, each message in a
  savepoint of its own (inbox.py).
- Publishes the applied watermark per device (retained) and a snapshot per touched cart (retained), which
  is how online edits reach the store.

- Keeps the devices' workflow events and credits later online orders to the in-store sessions whose basket joined
  the ordered profile cart (``place_online_order``; the rules are in simulators/attribution.py).

The pieces: core.py (CentralPlatform: the apply path and the platform's calls), inbox.py (what arrived, applied
on a thread of its own), connection.py (its MQTT client), catalog.py, web_channel.py (the online shop's ops),
stats.py, cli.py.

Run alone: ``python -m simulators.central --port 1883 --db central.db``; ``--dump`` prints carts as JSON,
``--attribution`` the online orders with the sessions they are attributed to.
"""

from edge_agent.domain.basket import Refused
from simulators.central.cli import dump_carts
from simulators.central.core import CentralPlatform
from simulators.central.stats import CentralStats

__all__ = ["CentralPlatform", "CentralStats", "Refused", "dump_carts"]
