"""NFC reader: nfcpy's ContactlessFrontend in its own thread, NDEF in, typed events out.

Recovery is written as explicit steps: open the frontend (path from config, passed to nfcpy unchanged),
report ``ok``, read taps until nfcpy reports the device gone, report ``degraded``, close, back off, reopen.

Payment cards are never read. The only APDUs an ISO-DEP target ever receives from us are the NDEF
application's SELECT, the SELECT of its files and READ BINARY (:class:`ApduFirewall`); a card without the
NDEF application (every payment card) is dropped as ``not_an_ndef_tag``, and nothing of the exchange is
logged: the ``nfc`` logger is pinned to WARNING, because at DEBUG nfcpy logs every APDU and response.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import nfc
import nfc.tag
import nfc.tag.tt4

from edge_agent import const
from edge_agent.backoff import FullJitterBackoff
from edge_agent.readers.events import IdentityPresented, InputRejected, ProductScanned, ReaderEvent, ReaderHealth
from edge_agent.readers.nfc.content import CredentialTag, ProductTag, RejectedTag, TagContent, decode_message

log = logging.getLogger(__name__)

READER_NAME: Final = "nfc"

# `import nfc` sets its logger to INFO ("searching for reader..." floods the journal), and at DEBUG it logs
# raw APDUs. Nothing below WARNING from nfcpy ever reaches a handler (retail note §5: never log APDUs).
logging.getLogger("nfc").setLevel(logging.WARNING)

TARGETS_BY_TYPE: Final = {"type2": "106A", "type4": "106A", "type3": "212F"}
"""nfcpy sense targets: NFC-A carries Type 2 and Type 4A, NFC-F Type 3. Only listed types are polled: each
unanswered technology costs the udp driver 1 s and a PN53x a poll slot (hardware note §1)."""

NDEF_AIDS: Final = frozenset({bytes.fromhex("D2760000850101"), bytes.fromhex("D2760000850100")})
INS_SELECT, INS_READ_BINARY = 0xA4, 0xB0
P1_BY_NAME, P1_BY_FILE_ID = 0x04, 0x00


class ApduRefused(Exception):
    """An APDU outside the allow-list; the tag is dropped. The APDU itself is never logged."""


def apdu_allowed(apdu: bytes) -> bool:
    """NDEF Type 4 reads only: SELECT the NDEF application by name, SELECT a file by id, READ BINARY."""
    if len(apdu) < 4 or apdu[0] != 0x00:
        return False
    ins, p1 = apdu[1], apdu[2]
    if ins == INS_SELECT and p1 == P1_BY_NAME:
        return len(apdu) >= 5 and bytes(apdu[5 : 5 + apdu[4]]) in NDEF_AIDS
    if ins == INS_SELECT and p1 == P1_BY_FILE_ID:
        return len(apdu) >= 7 and apdu[4] == 2
    return ins == INS_READ_BINARY


def install_apdu_firewall(tag: Any) -> None:
    """Route every APDU nfcpy sends to this ISO-DEP tag through :func:`apdu_allowed`."""
    transceive = tag.transceive

    def guarded(data: bytes, timeout: float | None = None) -> Any:
        if not apdu_allowed(bytes(data)):
            raise ApduRefused("APDU outside the NDEF allow-list")
        return transceive(data, timeout)

    tag.transceive = guarded


class Frontend(Protocol):
    def connect(self, **options: Any) -> Any: ...

    def close(self) -> None: ...


def open_frontend(path: str) -> Frontend:
    """nfcpy opens the device in its constructor; a missing device raises OSError (ENODEV)."""
    frontend: Frontend = nfc.ContactlessFrontend(path)
    return frontend


@dataclass
class TapGate:
    """A tag that bounces on the antenna is one read: same content within ``repeat_s`` of the last read.

    Keyed by a salted hash of (content, UID) -- the salt lives only in this process, so nothing here can
    be linked to a card after a restart, and the UID itself is never kept.
    """

    repeat_s: float
    _salt: bytes = field(default_factory=lambda: os.urandom(16))
    _last: dict[bytes, float] = field(default_factory=dict)

    def admit(self, content_key: str, uid: bytes, now: float) -> bool:
        digest = hashlib.blake2b(content_key.encode() + b"\0" + uid, key=self._salt, digest_size=16).digest()
        last = self._last.get(digest)
        self._last[digest] = now
        if len(self._last) > const.NFC_GATE_MAX_KEYS:
            self._last = {k: t for k, t in self._last.items() if now - t <= self.repeat_s}
        return last is None or now - last > self.repeat_s


def content_key(content: TagContent) -> str:
    match content:
        case ProductTag(key):
            return f"p:{key}"
        case CredentialTag(token):
            return f"c:{hashlib.sha256(token.encode()).hexdigest()}"
        case RejectedTag(reason, detail):
            return f"r:{reason}:{detail}"


@dataclass
class NfcReader:
    path: str
    emit: Callable[[ReaderEvent], None]
    tag_types: Sequence[str] = ("type2", "type4")
    repeat_s: float = const.DEFAULT_NFC_REPEAT_S
    open: Callable[[str], Frontend] = open_frontend
    backoff_base_s: float = const.NFC_REOPEN_BASE_S
    backoff_cap_s: float = const.NFC_REOPEN_CAP_S
    clock: Callable[[], float] = time.monotonic
    wall: Callable[[], float] = time.time
    taps: int = 0
    gate: TapGate = field(init=False)

    def __post_init__(self) -> None:
        self.gate = TapGate(self.repeat_s)

    @property
    def targets(self) -> list[str]:
        return sorted({TARGETS_BY_TYPE[t] for t in self.tag_types})

    def run(self, stop: threading.Event) -> None:
        """Blocking loop for a thread: open, read, and on failure report degraded and reopen with backoff."""
        backoff = FullJitterBackoff(self.backoff_base_s, self.backoff_cap_s)
        while not stop.is_set():
            # Step 1: open the frontend; a missing or busy reader is degraded, not fatal.
            try:
                frontend = self.open(self.path)
            except (OSError, ValueError) as exc:
                self.emit(ReaderHealth(READER_NAME, "degraded", f"cannot open {self.path}: {exc}"))
                stop.wait(backoff.next_delay())
                continue
            backoff.reset()
            self.emit(ReaderHealth(READER_NAME, "ok", f"reader open on {self.path}"))
            # Step 2: read taps until stopped or the device goes away.
            try:
                gone = self._read_until_gone(frontend, stop)
            finally:
                frontend.close()
            # Step 3: a vanished reader is reported and reopened after a pause.
            if gone and not stop.is_set():
                self.emit(ReaderHealth(READER_NAME, "degraded", f"reader on {self.path} went away"))
                stop.wait(self.backoff_base_s)
        self.emit(ReaderHealth(READER_NAME, "stopped", "stopped"))

    def _read_until_gone(self, frontend: Frontend, stop: threading.Event) -> bool:
        while not stop.is_set():
            try:
                result = frontend.connect(
                    rdwr={"targets": self.targets, "on-connect": self._on_connect, "interval": 0.1},
                    terminate=stop.is_set,
                )
            except OSError:
                return True
            if result is False and not stop.is_set():
                return True  # nfcpy swallows the device's IOError and returns False
        return False

    def _on_connect(self, tag: Any) -> bool:
        """Read the tag once; returning True makes nfcpy wait until it is taken away (held = one read)."""
        self.taps += 1
        uid = bytes(getattr(tag, "identifier", b""))
        try:
            content = self._read(tag)
        except ApduRefused:
            content = RejectedTag("not_an_ndef_tag", "ISO-DEP target outside the NDEF allow-list")
        except Exception as exc:  # a tag pulled away mid-read surfaces as several nfcpy error types
            content = RejectedTag("read_interrupted", type(exc).__name__)
        if self.gate.admit(content_key(content), uid, self.clock()):
            self.emit(self._event(content))
        return True

    def _read(self, tag: Any) -> TagContent:
        if isinstance(tag, nfc.tag.tt4.Type4Tag):
            install_apdu_firewall(tag)
        ndef_data = tag.ndef
        if ndef_data is None:
            reason = "not_an_ndef_tag" if isinstance(tag, nfc.tag.tt4.Type4Tag) else "no_ndef"
            return RejectedTag(reason, f"{type(tag).__name__} has no readable NDEF")
        if not ndef_data.is_readable:
            return RejectedTag("no_ndef", "NDEF not readable")
        return decode_message(bytes(ndef_data.octets))

    def _event(self, content: TagContent) -> ReaderEvent:
        match content:
            case ProductTag(key):
                return ProductScanned(key, "nfc", READER_NAME, self.wall())
            case CredentialTag(token):
                return IdentityPresented(token, "nfc", READER_NAME, self.wall())
            case RejectedTag(reason, detail):
                return InputRejected(READER_NAME, reason, detail)
