"""Bluetooth LE beacon reader: registered beacons -> proximity zones -> typed events (see reader.py)."""

from edge_agent.readers.ble.config import BleConfig
from edge_agent.readers.ble.events import BeaconTelemetry, BleEvent, ProximityTokenSeen, ZoneChanged, ZoneDwell
from edge_agent.readers.ble.reader import BleReader

__all__ = ["BeaconTelemetry", "BleConfig", "BleEvent", "BleReader", "ProximityTokenSeen", "ZoneChanged", "ZoneDwell"]
