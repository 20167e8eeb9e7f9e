"""The tests' broker is the demo's broker: a real Mosquitto on a free port (simulators/broker.py)."""

from simulators.broker import DEFAULT_MAX_QUEUED, MosquittoBroker, find_mosquitto

__all__ = ["DEFAULT_MAX_QUEUED", "MosquittoBroker", "find_mosquitto"]
