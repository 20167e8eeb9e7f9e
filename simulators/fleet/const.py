"""The fleet load generator's numbers, each with its reason."""

from __future__ import annotations

DEFAULT_WINDOW = 4
"""In-flight PUBLISHes per simulated device: a light device needs few; the agent's default is 20 (edge_agent/const)."""
DEFAULT_BATCH_MAX_OPS = 50
"""Ops per PUBLISH: batching drains a backlog (sync note §2); well under the contract's 1,000."""
DEFAULT_KEEPALIVE_S = 10
DEFAULT_ACK_TIMEOUT_S = 15.0
"""T_ack: a PUBACKed op still uncovered by the watermark after this is sent again (the agent's rule)."""
DEFAULT_CONNECT_TIMEOUT_S = 5.0
"""A CONNECT unanswered this long is abandoned: a NATS node without MQTT stream leaders holds CONNACK back."""
DEFAULT_BACKOFF_BASE_S = 0.2
DEFAULT_BACKOFF_CAP_S = 10.0
"""Full-jitter bounds (edge_agent/backoff.py); a short base keeps tests quick, the cap spreads a storm."""
ACK_QOS = 0
"""Watermarks are subscribed at QoS 0: NATS makes every QoS 1 subscription a JetStream consumer (hundreds of R3
consumers on two cores), and a lost watermark is harmless: it is repeated, and the ack timeout resends."""
TICK_S = 0.5
"""Housekeeping for every device at once: paho's loop_misc (keepalive), T_ack expiry, the queue's deletes."""
STARTUP_SPREAD_S = 1.0
"""First connects are spread uniformly over this, as devices of a real fleet do not boot in the same millisecond."""
CALL_TIMEOUT_S = 30.0
"""Bound on a call from the test's thread into the fleet's loop."""
TENANT = "acme"
SKU_BODIES = tuple(f"{n:012d}" for n in range(400638133390, 400638133420))
"""EAN-13 bodies (no check digit) of the simulated devices' scans: 30 products."""
