"""Every tunable number in one place, each with the reason it has its value.

Config may override the ones marked *default*; the rest are protocol or safety limits.
"""

from __future__ import annotations

# --- identity -------------------------------------------------------------------------------------------

# --- cart domain ----------------------------------------------------------------------------------------


# --- hybrid logical clock -------------------------------------------------------------------------------


# --- storage --------------------------------------------------------------------------------------------
SQLITE_BUSY_TIMEOUT_MS = 5000
"""Readers such as `edge-agent status` may hold a lock briefly; wait rather than fail (sync note §6)."""

SQLITE_WAL_AUTOCHECKPOINT_PAGES = 1000
"""SQLite's default, for connections without the agent's checkpoint thread (CLI, tests, benches): the commit
that crosses it runs the checkpoint itself. The running agent sets 0 on its write connection instead."""

CHECKPOINT_INTERVAL_S = 0.1
"""The checkpoint thread copies the WAL into the database this often (PASSIVE, never blocking a writer), when
something was committed since. Short, because the checkpoint's fsync of the database file holds up a commit's
fsync of the WAL on the same disk: copying a busy second at a time (a few hundred pages) stalled the scan being
saved by 18-70 ms, a tenth of a second at a time by 4-6 ms (bench_latency, docs/benchmarks.md). At a shopper's pace
each change is copied once either way; an idle tick is one ``PRAGMA data_version``."""

CHECKPOINT_IDLE_S = 30.0
"""After this long without a commit the WAL is also truncated (TRUNCATE takes the write lock, briefly, so it
waits for a quiet device); a kiosk between shoppers leaves no WAL pinning the card."""

CHECKPOINT_BUSY_TIMEOUT_MS = 50
"""The checkpoint thread's connection gives up a lock it cannot get at once: the next tick tries again, and
the loop's writer is never kept waiting behind it for long."""

CHECKPOINT_JOIN_S = 5.0
"""Stopping waits this long for a checkpoint in progress (one fsync of the database file)."""

SQLITE_JOURNAL_SIZE_LIMIT = 8 * 1024 * 1024
"""Cap the WAL file left behind after a checkpoint so a burst does not pin disk space on a small card."""

PURGES_PER_TICK = 8
"""Ended baskets purged per heartbeat at most, so a backlog (a device back after days off) costs the loop a few
small transactions per tick instead of one pass over every cart: 8 per 5 s is 5,760 an hour, far above a
kiosk's rate of baskets."""

INGEST_GROUP_MAX = 256
"""At most this many reader events share one durable commit (group commit: fsync dominates, sync note §6)."""

STARTUP_QUICK_CHECK_TIMEOUT_S = 30.0
"""`PRAGMA quick_check` at every open reads every page: 37 ms for a 13.5 MB file holding a 50k-item catalog and 10k
unconfirmed ops [x86, warm cache]; at the doctor's ~1 s per 100 MB on a Pi 4 SD card, about 0.15 s. Past this bound
(a huge file on a slow card) it opens unchecked, with a warning, rather than never start; corruption then still shows
at run time and quarantines at the next start."""

STARTUP_QUICK_CHECK_PROGRESS_OPS = 10_000
"""SQLite virtual-machine steps between two looks at the clock while the startup quick_check runs."""

BUDGET_COLLECT_AT = 0.9
"""From this share of storage.max_bytes, ended baskets the platform confirmed are purged early (each heartbeat), so
the budget's refusals start only once nothing more may go."""

BUDGET_FREE_SLACK_PAGES = 32
"""Free pages up to this many count as used for storage.max_bytes (128 KB at 4 KB pages). The workflow events' queue
takes pages and frees them again as the uplink drains it (~9 pages for a burst of 50 scans), and the outbox rows'
own pages grow by little more, so live pages alone made the budget flap at its edge: a scan refused, the next one
saved a moment later. Pages that purged baskets free are far more, so room still returns after a purge."""

HELD_ENTRIES_MAX = 64
"""Unconfirmed scans whose cart entries live only in their outbox rows and in memory (store/held.py): beyond this
many, the next group files them all into cart_entries in bulk. Small, because whatever is held is filed before the
next removal or checkout, in its commit: 64 entries are ~4 pages, so near a full disk a shopper can still remove and
pay (on the storage budget nothing is held at all: store/budget.py ``tight``), and the bulk copy costs a commit
~0.2 ms, not the ~3 ms of 1024. A burst of 16-scan groups still files one group in four."""

STORAGE_MAX_BYTES_MIN = 1024 * 1024
"""The smallest storage.max_bytes: the schema alone takes ~72 KB of pages (18 pages of 4 KiB, measured), and a
budget must leave room for a day of scans (each an outbox row and a cart entry) or it refuses the first basket."""

# --- sync -----------------------------------------------------------------------------------------------
DEFAULT_WINDOW = 20
"""*default* In-flight PUBLISH window; above ~20 paho gains nothing [x86] (sync note §2)."""

RECEIVE_MAXIMUM_ABSENT = 65_535
"""MQTT 5: an absent Receive Maximum in CONNACK means 65,535."""

DEFAULT_BATCH_MAX_OPS = 100
"""*default* Ops per PUBLISH: batching is how a backlog drains faster than one op per message (sync note §7)."""

BATCH_MAX_BYTES = 64 * 1024
"""A batch stays under 64 KB so any broker's default maximum packet size accepts it (sync note §5)."""

MAX_UNCONFIRMED_OPS = 10_000
"""Ops PUBACKed but not yet confirmed by the platform: beyond this the pump waits. Without a cap a large
backlog is published faster than the platform applies it, T_ack expires and ops are sent twice (bench)."""

DEFAULT_ACK_TIMEOUT_S = 60.0
"""*default* T_ack: a `sent` op not covered by the applied watermark after this goes back to pending."""

DEFAULT_BACKOFF_BASE_S = 1.0
DEFAULT_BACKOFF_CAP_S = 120.0
"""*default* Full-jitter reconnect backoff: uniform(0, min(cap, base * 2**attempt)) spreads a fleet's reconnects."""

BACKOFF_RESET_AFTER_S = 60.0
"""A connection that lived this long resets the backoff attempt counter."""

BACKOFF_MAX_EXPONENT = 32
"""Full-jitter backoff (edge_agent/backoff.py) stops doubling after 2**32: base * 2**32 is past any cap for a
base above a nanosecond, and an uncapped 2**attempt overflows a float after ~1,000 failed attempts."""

DEFAULT_KEEPALIVE_S = 30
"""*default* MQTT keepalive; a black-holed uplink is noticed after 1.5 x keepalive."""

CONNECT_TIMEOUT_S = 10.0
"""A broker that accepts TCP but never sends CONNACK is abandoned after this."""

LINK_MISC_S = 1.0
"""paho's ``loop_misc`` (keepalive PINGREQ, a dead peer noticed) runs this often on the loop: what paho's own
network thread did after each 1 s select."""

DEFAULT_CONGESTION_TIMEOUT_S = 30.0
"""*default* PUBACKs that stop arriving for this long force a reconnect (cf. Eclipse Kura congestion-timeout)."""

SESSION_EXPIRY_S = 48 * 3600
"""MQTT 5 session expiry for the downstream session: a weekend-long outage keeps the subscriptions."""

WILL_DELAY_S = 30
"""MQTT 5 will delay: a quick reconnect does not flap the device's status to offline."""

SHUTDOWN_PUBACK_WAIT_S = 2.0
"""A stopping agent waits this long at most for its "offline" status to be acknowledged (paho #597)."""


SYNC_REQUEST_MAX_CARTS = 1000
"""A sync request names at most the 1000 newest carts (the contract's bound on SyncRequest.cart_ids)."""

SYNC_RETRY_FIRST_S = 1.0
"""An unanswered sync request is asked again after this, then at doubling intervals: after a broker crash with
persistence, Mosquitto 2.0.11 restores sessions but not the platform's $share subscription until the platform
reconnects, and what the device sent in between (ops, the request) reached nobody."""
SYNC_RETRY_CAP_S = 30.0
"""The longest wait between two asks: a platform that is away for long is asked twice a minute."""

HEARTBEAT_S = 5.0
"""The heartbeat's period (status file, session housekeeping, presence, the watchdog), or the watchdog's half."""

READER_JOIN_S = 5.0
"""A stopping agent waits this long for each reader thread (nfcpy and cv2 loops check their stop event often)."""

PUMP_TICK_S = 0.5
"""Housekeeping period of the sync pump (ack timeouts, status file, congestion check)."""

SCREEN_FEED_INTERVAL_S = 0.05
"""At most one basket view per this long from saved scans and snapshots: the first change after a quiet spell shows
on the loop's next turn, later ones within the interval once at its end. 50 ms is under the ~100 ms a person sees as
instant and under a hand scanner's fastest repeat, so only bursts (a group commit, a snapshot right behind a scan,
the latency bench's back-to-back scans) are coalesced; each view built costs the loop ~0.4 ms the next op waits
behind (docs/benchmarks.md, issue 14 on branch `latency2`)."""

# --- inbound bounds: every figure a broker client can send is bounded (issue 10) ---------------------------

DEFAULT_MAX_CLOCK_AHEAD_S = 300.0
"""*default* A remote HLC more than 5 min ahead of this device's wall clock is not adopted (the maximum-offset
rule of HLC-based databases): one message must not push the clock into the future for every later op. The
platform flags HLCs 5 min ahead of its own clock as clock_suspect (HLC_SUSPECT_AHEAD_MS), the same bound."""


# --- barcode reader -------------------------------------------------------------------------------------
DEFAULT_DEBOUNCE_S = 2.0
"""*default* The same code held in view is one scan: it must leave view (or this long pass) to count again."""

# --- NFC reader -----------------------------------------------------------------------------------------
DEFAULT_NFC_REPEAT_S = 1.0
"""*default* The same tag content read again within 1 s of the last read is a bounce on the antenna, not a tap."""

NFC_GATE_MAX_KEYS = 256
"""Bound on the tap gate's memory of recent tags; older keys are forgotten first."""

NFC_REOPEN_BASE_S = 1.0
NFC_REOPEN_CAP_S = 30.0
"""A missing or unplugged reader is reopened with full-jitter backoff up to 30 s: a replug is noticed quickly,
and a reader that is simply absent does not spin the CPU."""

# --- shopper sessions -----------------------------------------------------------------------------------
DEFAULT_SESSION_IDLE_S = 15 * 60
"""*default* A kiosk session with no scan, tap or UI action for 15 min has been walked away from (shopreme
marks 30 min stale; a kiosk is shorter-lived than a phone session)."""

DEFAULT_ANONYMOUS_RETENTION_S = 2 * 3600
"""*default* An ended anonymous basket is kept 2 h (a shopper may come back to the kiosk), then purged
once the platform has confirmed every op in it (retail note §4: anonymous baskets are kept hours)."""

DEFAULT_OFFERS_PER_SESSION = 3
"""*default* The frequency cap: distinct offers one session may ever show. Shoppers "didn't want a bunch of
notifications" (retail note §4, Nike's research); three is one screenful on a kiosk."""

APP_NEARBY_OFFER_S = 30.0
"""How long the screen may keep inviting a shopper whose opted-in app was seen near the device: long enough to
walk up and tap, short enough that the invitation is gone once they walk on (BLE proximity, issue 4)."""
PRESENCE_FLUSH_CHECK_S = 5.0
"""How often the heartbeat asks the presence aggregator for finished buckets (a bucket is minutes long)."""
PRESENCE_BACKLOG_MAX = 24 * 12
"""Presence reports held while the uplink is down: a day of 5-minute buckets, then the oldest are dropped
(aggregates only, never raw sightings; losing old analytics never loses a basket)."""
READER_STOP_WAIT_S = 10.0
"""How long a stopping agent waits for its asyncio readers (bleak's StopDiscovery has its own timeout)."""
EVENT_OUTBOX_MAX = 50_000
"""Workflow events kept while the uplink is down (about a week of a busy shelf's lookups, ~25 MB); beyond it the
oldest are dropped. Analytics may thin out in a very long outage; the shopper's carts never do (op outbox)."""
EVENTS_IN_FLIGHT = 20
"""Workflow event PUBLISHes awaiting PUBACK at once; a small share of the broker's Receive Maximum."""
WORKFLOW_TICK_S = 1.0
"""How often workflow timers (assist SLAs, pick timers) are evaluated: their durations are tens of seconds."""

# --- fleet: health message and metrics (issue 15) ---------------------------------------------------------
DEFAULT_HEALTH_INTERVAL_S = 60.0
"""*default* One health message a minute: store IT sees a stuck outbox or a dead reader within a minute, at ~1 KB
a minute per device (Zigbee2MQTT's bridge/health defaults to 10 min; a basket outage costs more than a light's)."""

HEALTH_INTERVAL_MIN_S = 5.0
HEALTH_INTERVAL_MAX_S = 3600.0
"""Bounds on [health] interval_s: below 5 s the message is noise on a shared store broker; above an hour a dead
device looks alive on the dashboard for too long (the status's last will covers a dead process, not a stuck one)."""

RATE_SAMPLE_S = 10.0
"""Reader totals and CPU time are sampled this often; rates are taken over the samples of the last minute."""

RATE_WINDOW_S = 60.0
"""Reader rates are per minute over the last minute: the figure store IT reads ("scans per minute")."""

CONFIG_DIGEST_HEX = 12
"""A config without ``config_version`` is named by the first 12 hex digits of its file's sha256: 48 bits tell a
fleet's configs apart (git shows commits by as few), short enough for a dashboard column."""

NTP_MAX_ERROR_US = 16_000_000
"""adjtimex's maxerror at or above 16 s means the kernel clock is not synchronised: systemd's ntp_synced() (behind
`timedatectl show -p NTPSynchronized`) uses the same bound, so both tools agree."""

CERT_EXPIRY_WARN_DAYS = 30.0
"""A client certificate this close to its notAfter is logged as a warning at each health message: a month is
enough for store IT to reissue before a device is locked out of an mTLS broker."""

METRICS_BIND_RETRY_S = 5.0
"""A metrics port that cannot be bound is retried this often; the agent goes on without metrics meanwhile."""

METRICS_REQUEST_MAX_BYTES = 8192
"""A scrape's request head is a few hundred bytes; more is not a scraper, and is not read."""

METRICS_REQUEST_TIMEOUT_S = 5.0
"""A connection that sends no complete request head within this is closed (a scraper sends it at once)."""


# --- remote configuration ---------------------------------------------------------------------------------
DEFAULT_CONFIG_TRIAL_WINDOW_S = 120.0
"""*default* How long a pushed config has to prove itself (connected, the platform's acks flowing, every reader ok):
a reconnect with full-jitter backoff and a sync round trip take seconds; a camera or BLE adapter that needs a
retry takes up to a minute."""
CONFIG_TRIAL_WINDOW_MIN_S = 5.0
CONFIG_TRIAL_WINDOW_MAX_S = 3600.0
CONFIG_TRIAL_POLL_S = 0.5
"""How often a config on trial is judged: the commit follows the first healthy moment closely."""
CONFIG_DOCUMENT_MAX_BYTES = 64 * 1024
"""A device's config is a few kilobytes; a bigger document is a mistake, not a config."""
