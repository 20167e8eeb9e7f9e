"""The doctor's numbers, each with the reason it has its value (timeouts bound every check: it never hangs)."""

from __future__ import annotations

from typing import Final

# --- exit codes (README "Troubleshooting": `edge-agent doctor`) ----------------------------------------------
EXIT_OK: Final = 0
EXIT_WARN: Final = 1
"""Something to look at (a certificate expiring soon, the clock's state unknown), nothing broken yet."""
EXIT_FAIL: Final = 2
"""Something the agent cannot work with; 2 is also `config check`'s and `run`'s exit code for a bad config."""

# --- timeouts ------------------------------------------------------------------------------------------------
CHECK_TIMEOUT_S: Final = 15.0
"""The runner's last word on any one check: one that has not answered by then is a `fail` and is abandoned
(its daemon thread cannot keep the process alive). Each check has a tighter timeout of its own below."""

CAMERA_TIMEOUT_S: Final = 10.0
"""A UVC camera gives its first frame within a second or two of opening; a wedged V4L2 driver never does."""

BROKER_CONNECT_TIMEOUT_S: Final = 5.0
"""TCP connect plus TLS handshake to a broker on the store network: milliseconds when it is there. The
configured mqtt.connect_timeout_s is used when shorter."""

TLS_ALERT_WAIT_S: Final = 1.0
"""TLS 1.3 servers judge the client certificate after the handshake has completed on the client's side, and send
their alert at once (milliseconds on a store network). Silence for this long means the broker accepted it and
waits for CONNECT."""

FENCE_PROBE_WAIT_S: Final = 2.0
"""The fence check's probe on the device's acks topic: a local broker delivers (or refuses) it in milliseconds;
two waits of this (SUBACK, then the probe's echo) fit with the connect in CHECK_TIMEOUT_S."""

DBUS_TIMEOUT_S: Final = 5.0
"""Connecting to the system bus and one GetAll on the adapter: milliseconds unless bluetoothd is wedged."""

CLOCK_COMMAND_TIMEOUT_S: Final = 5.0
"""`timedatectl show` answers at once, or hangs while systemd-timedated is being (re)started by D-Bus."""

QUICK_CHECK_TIMEOUT_S: Final = 10.0
"""`PRAGMA quick_check` reads every page (about 1 s for 100 MB on a Pi 4 SD card); it is interrupted after
this long and reported as a warning, not a corruption."""

QUICK_CHECK_PROGRESS_OPS: Final = 10_000
"""SQLite virtual-machine steps between two looks at the clock while quick_check runs."""

QUICK_CHECK_MAX_ERRORS: Final = 5
"""quick_check(N) stops after N problems: enough to tell store IT the file is corrupt, short enough to print."""

# --- thresholds ----------------------------------------------------------------------------------------------
CERT_WARN_DAYS: Final = 30
"""Warn this many days before a certificate's notAfter: a month leaves time to re-issue it across a fleet."""

FREE_FAIL_BYTES: Final = 32 * 1024 * 1024
"""Below this the next burst of ops and a WAL of SQLITE_JOURNAL_SIZE_LIMIT (8 MiB) may not fit: SQLITE_FULL."""

FREE_WARN_BYTES: Final = 256 * 1024 * 1024
"""Below this a day of a busy store's ops and the journal can fill the card; time to clean up."""

SERVICE_USER: Final = "edge-agent"
"""User= of systemd/edge-agent.service: the state directory should belong to it."""

STATE_DIR_MODE: Final = 0o700
"""StateDirectoryMode= of systemd/edge-agent.service: baskets and identities are nobody else's to read."""

WAL_SCRATCH_PREFIX: Final = ".edge-agent-doctor-wal-"
"""The scratch database the WAL check creates (and removes) next to the agent's; never the agent's file."""
