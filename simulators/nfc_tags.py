"""Emulated NFC tags on nfcpy's ``udp`` driver, so tests and the demo run the agent's real nfcpy reader loop.

One :class:`TagEmulator` listens on a UDP port (the reader's path is ``udp:127.0.0.1:<port>``) and presents
whatever card is placed on it, one tap per :meth:`TagEmulator.tap`:

- Type 2 (NTAG213-like, NFC-A, sel_res 00): READ/GET_VERSION answered from a 45-page memory image.
- Type 3 (FeliCa Lite-S-like, NFC-F): nfcpy's own card emulation with a read-only NDEF service.
- Type 4A (NFC-A + ISO-DEP): the NDEF application (CC file E103, NDEF file E104) behind RATS/I-blocks.
- A payment-like ISO-DEP card: it has no NDEF application but answers PPSE, a Visa AID and READ RECORD with
  a card number, exactly what a skimmer would ask for. It records every APDU it receives so a test can prove
  the agent never asked.

Wire details follow ``../shared/notes/hardware.md`` §1 (nfcpy 1.0.4 ``nfc/clf/udp.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import ndef
import nfc
import nfc.clf

log = logging.getLogger(__name__)

TagType = Literal["type2", "type3", "type4", "payment"]

LISTEN_SLICE_S: Final = 0.5
"""How long one ``listen`` waits for the reader before the emulator re-checks its queue and stop flag."""
REMOVAL_GAP_S: Final = 0.3
"""Empty field between two cards: longer than nfcpy's presence-check period (0.1 s) plus its timeout, and
about as fast as a hand can swap one card for another."""

EXCHANGE_TIMEOUT_S: Final = 1.0
"""How long an activated emulated tag waits for the reader's next command before it goes away."""

NDEF_AID_V2: Final = bytes.fromhex("D2760000850101")
NDEF_AID_V1: Final = bytes.fromhex("D2760000850100")
PPSE: Final = b"2PAY.SYS.DDF01"
VISA_AID: Final = bytes.fromhex("A0000000031010")
TEST_PAN: Final = "4111111111111111"
"""The card number the payment-like card gives to whoever asks (a standard test PAN)."""

SW_OK: Final = b"\x90\x00"
SW_FILE_NOT_FOUND: Final = b"\x6a\x82"
SW_INS_NOT_SUPPORTED: Final = b"\x6d\x00"


def ndef_message(records: Sequence[ndef.Record]) -> bytes:
    return b"".join(ndef.message_encoder(list(records)))


@dataclass(frozen=True)
class Card:
    """What is held to the reader: a tag type, its NDEF records and its (random) UID."""

    kind: TagType
    records: tuple[ndef.Record, ...] = ()
    uid: bytes = bytes.fromhex("04A1B2C3D4E5F6")
    raw_ndef: bytes | None = None
    """Overrides the encoded records: truncated or hostile NDEF for bad-input tests."""
    hold_s: float = 0.3
    """How long the card stays on the reader after its NDEF was read (then it is taken away)."""
    vanish_after_commands: int | None = None
    """Pulled away mid-read: the card stops answering after this many commands."""

    def message(self) -> bytes:
        return self.raw_ndef if self.raw_ndef is not None else ndef_message(self.records)


def product_tag(gtin14: str, kind: TagType = "type2", *, serial: str | None = None, uid: bytes | None = None) -> Card:
    link = f"https://id.gs1.org/01/{gtin14}" + (f"/21/{serial}" if serial else "")
    return Card(kind, (ndef.UriRecord(link),), uid or Card.uid)


def uri_card(uri: str, kind: TagType = "type2", uid: bytes | None = None) -> Card:
    return Card(kind, (ndef.UriRecord(uri),), uid or Card.uid)


def payment_card(uid: bytes = bytes.fromhex("08112233")) -> Card:
    return Card("payment", (), uid)


# --- Type 2 ------------------------------------------------------------------------------------------------
NTAG213_PAGES: Final = 45
NTAG213_VERSION: Final = bytes.fromhex("0004040201000F03")
NTAG215_PAGES: Final = 135
NTAG215_VERSION: Final = bytes.fromhex("0004040201001103")
NTAG213_DATA_BYTES: Final = 144
"""A message that does not fit an NTAG213 goes on an NTAG215 (504 bytes), as a card printer would choose."""


def type2_memory(card: Card) -> bytes:
    uid = card.uid[:7].ljust(7, b"\0")
    bcc0 = 0x88 ^ uid[0] ^ uid[1] ^ uid[2]
    bcc1 = uid[3] ^ uid[4] ^ uid[5] ^ uid[6]
    header = uid[:3] + bytes([bcc0]) + uid[3:7] + bytes([bcc1, 0x48, 0, 0])
    msg = card.message()
    length = bytes([len(msg)]) if len(msg) < 0xFF else b"\xff" + struct.pack(">H", len(msg))
    tlv = b"\x03" + length + msg + b"\xfe"
    pages = NTAG213_PAGES if len(tlv) <= NTAG213_DATA_BYTES else NTAG215_PAGES
    cc = bytes([0xE1, 0x10, (pages - 9) * 4 // 8, 0x00])  # NDEF 1.0, data area size / 8, read/write
    return (header + cc + tlv).ljust(pages * 4, b"\0")[: pages * 4]


def type2_response(memory: bytes, command: bytes) -> bytes | None:
    pages = len(memory) // 4
    if command[:1] == b"\x30" and len(command) == 2:  # READ: 4 pages, wrapping round
        start = (command[1] % pages) * 4
        doubled = memory + memory
        return doubled[start : start + 16]
    if command == b"\x60":  # GET_VERSION
        return NTAG213_VERSION if pages == NTAG213_PAGES else NTAG215_VERSION
    if command[:1] == b"\x1a":  # Ultralight C AUTHENTICATE: an NTAG stays silent
        return None
    return b"\x00"  # NAK


# --- Type 4 ------------------------------------------------------------------------------------------------
ATS: Final = bytes.fromhex("0578807002")


@dataclass
class _IsoDepFiles:
    message: bytes
    selected_app: bytes | None = None
    selected_file: bytes | None = None

    def files(self) -> dict[bytes, bytes]:
        # CCLEN 000F, version 2.0, MLe 00FF, MLc 00FF, NDEF file control TLV: E104, 1 KB, read 00, write FF
        cc = bytes.fromhex("000F 20 00FF 00FF 04 06 E104 0400 00 FF")
        return {b"\xe1\x03": cc, b"\xe1\x04": struct.pack(">H", len(self.message)) + self.message}

    def respond(self, apdu: bytes) -> bytes:
        ins = apdu[1] if len(apdu) > 1 else 0
        if ins == 0xA4 and apdu[2] == 0x04:  # SELECT by DF name
            aid = apdu[5 : 5 + apdu[4]]
            if aid in (NDEF_AID_V2, NDEF_AID_V1):
                self.selected_app = aid
                return SW_OK
            return SW_FILE_NOT_FOUND
        if ins == 0xA4 and apdu[2] == 0x00 and self.selected_app:  # SELECT by file id
            fid = apdu[5:7]
            if fid in self.files():
                self.selected_file = fid
                return SW_OK
            return SW_FILE_NOT_FOUND
        if ins == 0xB0 and self.selected_file:  # READ BINARY
            offset = (apdu[2] << 8) | apdu[3]
            le = apdu[4] if len(apdu) > 4 else 0
            data = self.files()[self.selected_file]
            return data[offset : offset + (le or 256)] + SW_OK
        return SW_INS_NOT_SUPPORTED


@dataclass
class _PaymentApplet:
    """Answers like an EMV card: PPSE lists a Visa AID, READ RECORD returns track 2 with the PAN."""

    heard: list[bytes]

    def respond(self, apdu: bytes) -> bytes:
        self.heard.append(bytes(apdu))
        ins = apdu[1] if len(apdu) > 1 else 0
        if ins == 0xA4 and apdu[2] == 0x04:
            name = apdu[5 : 5 + apdu[4]]
            if name == PPSE:
                return bytes.fromhex("6F1A840E") + PPSE + bytes.fromhex("A508BF0C05610F4F07") + VISA_AID + SW_OK
            if name == VISA_AID:
                return bytes.fromhex("6F10") + b"\x84\x07" + VISA_AID + bytes.fromhex("A5055004564953") + SW_OK
            return SW_FILE_NOT_FOUND
        if ins == 0xB2:  # READ RECORD: track 2 equivalent data with the PAN
            track2 = bytes.fromhex(TEST_PAN + "D29122010000000000F")
            return b"\x70\x13\x57\x11" + track2 + SW_OK
        return SW_INS_NOT_SUPPORTED


def iso_dep_reply(block: bytes, applet: Callable[[bytes], bytes]) -> tuple[bytes | None, bool]:
    """One ISO-DEP block in, one out; the flag says the reader deselected us."""
    pcb = block[0]
    if pcb & 0xE2 == 0x02:  # I-block: PCB, then the APDU
        return bytes([(pcb & 0x01) | 0x02]) + applet(block[1:]), False
    if pcb & 0xF6 == 0xB2:  # R(NAK): presence check or retransmission request
        return bytes([0xA2 | (pcb & 0x01)]), False
    if pcb & 0xF7 == 0xC2:  # S(DESELECT)
        return bytes([pcb]), True
    return None, False


# --- the emulator ------------------------------------------------------------------------------------------
@dataclass
class TagEmulator:
    """Listens on ``port`` and presents queued cards, one tap each; runs in a daemon thread."""

    port: int
    apdus_heard: list[bytes] = field(default_factory=list)
    taps_served: int = 0
    _cards: queue.Queue[Card] = field(default_factory=queue.Queue)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _idle: threading.Event = field(default_factory=threading.Event)
    _pending: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def on_free_port(cls) -> TagEmulator:
        """An emulator on a UDP port nobody uses (tests, benches and demos run several side by side)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind(("127.0.0.1", 0))
            return cls(int(s.getsockname()[1]))

    @property
    def path(self) -> str:
        return f"udp:127.0.0.1:{self.port}"

    def start(self) -> TagEmulator:
        self._idle.set()
        self._thread = threading.Thread(target=self._run, name=f"nfc-emulator-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def tap(self, card: Card) -> None:
        """Hold ``card`` to the reader until the reader has read it once (or the emulator stops)."""
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._cards.put(card)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """True once every queued card has been read and taken away."""
        return self._idle.wait(timeout)

    def _run(self) -> None:
        with nfc.ContactlessFrontend(self.path) as clf:
            while not self._stop.is_set():
                try:
                    card = self._cards.get(timeout=0.1)
                except queue.Empty:
                    continue
                served = False
                deadline = time.monotonic() + 30
                while not served and not self._stop.is_set() and time.monotonic() < deadline:
                    served = self._present(clf, card)
                self.taps_served += served
                # The hand moves away before the next card comes: the reader's presence check must go
                # unanswered, or nfcpy takes the next card's replies for the old tag and never reads it.
                self._stop.wait(REMOVAL_GAP_S)
                with self._lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._idle.set()

    def _present(self, clf: Any, card: Card) -> bool:
        if card.kind == "type3":
            return self._present_type3(clf, card)
        sel_res = "00" if card.kind == "type2" else "20"
        target = nfc.clf.LocalTarget("106A")
        target.sens_res = bytes.fromhex("4400")
        target.sdd_res = card.uid
        target.sel_res = bytes.fromhex(sel_res)
        activated = clf.listen(target, LISTEN_SLICE_S)
        if activated is None:
            return False
        try:
            if card.kind == "type2":
                return self._serve_type2(clf, card, activated.tt2_cmd)
            if activated.tt4_cmd is None:
                return False
            return self._serve_iso_dep(clf, card)
        finally:
            with contextlib.suppress(Exception):
                clf.device.mute()

    def _serve_type2(self, clf: Any, card: Card, command: bytes | None) -> bool:
        memory = type2_memory(card)
        read_at: float | None = None
        answered = 0
        while command is not None:
            if read_at is not None and time.monotonic() - read_at > card.hold_s:
                break  # taken away: the reader's presence check goes unanswered
            if card.vanish_after_commands is not None and answered >= card.vanish_after_commands:
                return True
            answered += 1
            response = type2_response(memory, bytes(command))
            if command[:1] == b"\x30" and command[1] >= 4 and read_at is None:
                read_at = time.monotonic()
            try:
                command = clf.exchange(response, EXCHANGE_TIMEOUT_S) if response is not None else None
            except nfc.clf.CommunicationError:
                break
        return read_at is not None

    def _serve_iso_dep(self, clf: Any, card: Card) -> bool:
        applet: Callable[[bytes], bytes]
        if card.kind == "payment":
            applet = _PaymentApplet(self.apdus_heard).respond
        else:
            files = _IsoDepFiles(card.message())

            def applet(apdu: bytes) -> bytes:
                self.apdus_heard.append(bytes(apdu))
                return files.respond(apdu)

        response: bytes | None = ATS
        done = False
        started, answered = time.monotonic(), 0
        while response is not None and not done:
            if time.monotonic() - started > card.hold_s + 1.0:
                break  # taken away
            if card.vanish_after_commands is not None and answered >= card.vanish_after_commands:
                break
            answered += 1
            try:
                block = clf.exchange(response, EXCHANGE_TIMEOUT_S)
            except nfc.clf.CommunicationError:
                return True  # the reader went away: it had its chance to read
            if block is None:
                break
            response, done = iso_dep_reply(bytes(block), applet)
            if done and response is not None:
                with contextlib.suppress(nfc.clf.CommunicationError):
                    clf.exchange(response, 0.05)
        return True

    def _present_type3(self, clf: Any, card: Card) -> bool:
        msg = card.message()
        nblk = max(-(-len(msg) // 16), 4)
        aib = b"\x10\x01\x01" + struct.pack(">H", nblk) + bytes(6) + len(msg).to_bytes(3, "big")
        mem = aib + struct.pack(">H", sum(aib)) + msg.ljust(nblk * 16, b"\0")
        last_block = max(-(-len(msg) // 16), 1)  # blocks 1..n hold the message; block 0 is the attributes
        read_at: list[float] = []

        def read_block(block: int, rb: int, re: int) -> bytes | None:
            if block >= last_block and not read_at:
                read_at.append(time.monotonic())
            return mem[block * 16 : block * 16 + 16] if block < len(mem) // 16 else None

        target = nfc.clf.LocalTarget("212F")
        # PMm IC code 0xE0 makes nfcpy see a FeliCa Plug; system code 12FC announces NDEF.
        target.sensf_res = b"\x01" + bytes.fromhex("03FEFFE0") + card.uid[:4].ljust(4, b"\0")
        target.sensf_res += bytes.fromhex("01E0000000FFFF0012FC")
        activated = clf.listen(target, LISTEN_SLICE_S)
        if activated is None:
            return False
        tag = nfc.tag.emulate(clf, activated)
        if tag is None:
            return False
        for service in (0x0009, 0x000B):
            tag.add_service(service, read_block, lambda *args: False)
        # Driven by hand rather than clf.connect(card=...): that loop waits for the reader with no timeout.
        response = tag.process_command(tag.cmd)
        while not self._stop.is_set():
            if read_at and time.monotonic() - read_at[0] > card.hold_s:
                break
            try:
                command = tag.send_response(response, timeout=EXCHANGE_TIMEOUT_S)
            except nfc.clf.CommunicationError:
                break
            if command is None:
                break
            response = tag.process_command(command)
        with contextlib.suppress(Exception):
            clf.device.mute()
        return bool(read_at)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Emulate NFC tags on nfcpy's udp driver.")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--kind", choices=["type2", "type3", "type4"], default="type2")
    parser.add_argument("--every", type=float, default=3.0, help="seconds between taps")
    parser.add_argument("uris", nargs="+", help="NDEF URI record per tap, e.g. https://id.gs1.org/01/<gtin14>")
    args = parser.parse_args(argv)
    emulator = TagEmulator(args.port).start()
    try:
        for uri in args.uris:
            emulator.tap(uri_card(uri, args.kind))
            emulator.wait_idle()
            time.sleep(args.every)
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
