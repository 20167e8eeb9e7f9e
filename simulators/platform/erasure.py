"""The workers' erasure path, for an operator (``python -m simulators.workers erase``) and the tests: commit the
erasure in PostgreSQL, then tell the store's devices over NATS.

The order is CentralPlatform.erase_shopper's: first the database (PgStore.erase_shopper: the cart's rows and
credentials' fingerprints gone, the cart marked erased so every worker drops its in-flight ops), and only after
COMMIT the down messages, on the MQTT topics' subjects as the workers publish watermarks. NATS retains nothing,
so the empty snapshot only reaches devices connected now; a device that was away learns of the erasure from the
request, which is what makes it forget (the request is a plain publish too: an operator re-runs the command for
a device that was offline, and the device answers each request with ErasureDone).
"""

from __future__ import annotations

import asyncio
from typing import Any

import nats
import psycopg

from simulators.platform import events
from simulators.platform.pg_store import PgStore, create_schema
from simulators.platform.worker import subject_of

SOURCE = "workers"
"""The erasure request's ``source`` role, as the workers stamp their down messages with their own names."""


def erase_in_database(dsn: str, cart_id: str) -> None:
    """One transaction: after it commits, no worker applies an op of the cart again."""
    conn: psycopg.Connection[Any] = psycopg.connect(dsn, autocommit=True, application_name="erasure")
    try:
        create_schema(conn)
        with conn.transaction():
            PgStore(conn).erase_shopper(cart_id)
    finally:
        conn.close()


async def publish_erasure(nats_urls: list[str], tenant: str, store: str, request_id: str, cart_id: str) -> None:
    nc = await nats.connect(servers=nats_urls, name="erasure")
    try:
        for topic, payload in events.erasure_messages(tenant, store, request_id, cart_id, SOURCE):
            await nc.publish(subject_of(topic), payload)
        await nc.flush()
    finally:
        await nc.close()


def erase_shopper(dsn: str, nats_urls: list[str], cart_id: str, tenant: str, store: str, request_id: str) -> None:
    """Right to be forgotten on the workers' platform: committed first, then published to the store's devices."""
    erase_in_database(dsn, cart_id)
    asyncio.run(publish_erasure(nats_urls, tenant, store, request_id, cart_id))
