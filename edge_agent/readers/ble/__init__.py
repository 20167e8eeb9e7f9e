"""Bluetooth LE beacon reader: registered beacons -> proximity zones -> typed events (see reader.py).

The package imports nothing of the reader: config.py validates ``[readers.ble]`` for every device, and only a
device with BLE configured imports reader.py (bleak, dbus-fast) from edge_agent.wiring.
"""
