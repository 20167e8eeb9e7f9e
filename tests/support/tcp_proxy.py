"""A small TCP fault proxy (Toxiproxy-like) between a client under test and a real broker.

It runs its own selector loop in a daemon thread, so it never depends on (or blocks) the test's
event loop, and every mode switch is applied by that thread before the call returns: after
`proxy.reset_all()` the connections *are* reset, with no sleep needed in the test.

Modes model what a store uplink actually does:
- pass-through, optionally with `delay()` latency per chunk (order is kept);
- `black_hole()`: TCP stays up but bytes vanish both ways, and closes are not passed on either
  (half-open), like a dead Wi-Fi uplink; when the link heals, connections that were closed on
  one side during the outage are reset, as the far end's kernel would do;
- `refuse()`: new connections are reset at once, existing ones keep flowing;
- `reset_all()`: an RST on every current connection, both sides.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Generic, TypeVar, cast

from simulators.processes import StartStop

__all__ = ["ProxyMode", "ProxyStats", "TcpFaultProxy"]

T = TypeVar("T")

LISTEN_HOST = "127.0.0.1"
LISTEN_BACKLOG = 128
# 64 KiB per recv is plenty for MQTT and keeps one busy connection from starving others.
RECV_CHUNK = 64 * 1024
# Stop reading a side once this much is queued for the other, so a stalled reader pushes back
# on the sender through TCP instead of growing the proxy's memory.
HIGH_WATER_BYTES = 4 * 1024 * 1024
# Upstream is a local broker: connecting takes microseconds, or fails at once when it is down.
UPSTREAM_CONNECT_TIMEOUT_S = 2.0
# A mode switch is a few microseconds of work; this only bounds a wedged or dead proxy thread.
COMMAND_TIMEOUT_S = 10.0
# SO_LINGER on, timeout 0: close() sends RST instead of FIN.
_LINGER_RST = struct.pack("ii", 1, 0)


class ProxyMode(Enum):
    PASS_THROUGH = "pass_through"
    BLACK_HOLE = "black_hole"
    REFUSE = "refuse"


@dataclass(frozen=True)
class ProxyStats:
    """A consistent snapshot, taken on the proxy thread."""

    bytes_to_upstream: int
    bytes_to_client: int
    bytes_dropped: int
    queued_bytes: int
    active_connections: int
    accepted_connections: int
    refused_connections: int


@dataclass
class _Side:
    sock: socket.socket
    alive: bool = True


# A queued chunk and the monotonic time it may be sent; None marks the sender's EOF.
_Chunk = tuple[float, bytes | None]


@dataclass
class _Flow:
    """One direction of a connection: bytes read from src, waiting to be written to dst."""

    src: _Side
    dst: _Side
    queue: deque[_Chunk] = field(default_factory=deque)
    queued_bytes: int = 0
    src_eof: bool = False
    finished: bool = False

    def clear(self) -> None:
        self.queue.clear()
        self.queued_bytes = 0


@dataclass
class _Conn:
    client: _Side
    upstream: _Side
    to_upstream: _Flow
    to_client: _Flow
    # A side closed while black-holed: the other side must learn of it when the link heals.
    broken: bool = False

    @classmethod
    def of(cls, client: socket.socket, upstream: socket.socket) -> _Conn:
        c, u = _Side(client), _Side(upstream)
        return cls(c, u, _Flow(src=c, dst=u), _Flow(src=u, dst=c))

    def sides(self) -> tuple[_Side, _Side]:
        return (self.client, self.upstream)

    def flows(self) -> tuple[_Flow, _Flow]:
        return (self.to_upstream, self.to_client)

    def flow_from(self, side: _Side) -> _Flow:
        return self.to_upstream if side is self.client else self.to_client


class _Command(Generic[T]):
    """A call to run on the proxy thread, with its outcome for the waiting caller."""

    def __init__(self, fn: Callable[[], T]) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: T | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self.fn()
        except BaseException as exc:
            self.error = exc
        finally:
            self.done.set()

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self.done.set()


def _rst_close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    sock.close()


def _tune(sock: socket.socket) -> None:
    sock.setblocking(False)
    # MQTT packets are small and latency-sensitive; Nagle would add delay we did not ask for.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class TcpFaultProxy(StartStop):
    """Listens on a free 127.0.0.1 port and forwards to (upstream_host, upstream_port)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self._upstream = (upstream_host, upstream_port)
        self._mode = ProxyMode.PASS_THROUGH
        self._delay_s = 0.0
        self._conns: list[_Conn] = []
        self._registered: dict[socket.socket, tuple[int, _Conn, _Side]] = {}
        self._listener: socket.socket | None = None
        self._waker_r: socket.socket | None = None
        self._waker_w: socket.socket | None = None
        self._sel: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._lock = threading.Lock()
        self._commands: deque[_Command[Any]] = deque()
        self._closed = False
        self._error: BaseException | None = None
        self._port: int | None = None
        self._bytes_to_upstream = 0
        self._bytes_to_client = 0
        self._bytes_dropped = 0
        self._accepted = 0
        self._refused = 0

    # -- public API (any thread) ------------------------------------------------------------

    @property
    def host(self) -> str:
        return LISTEN_HOST

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("proxy has no port until start() is called")
        return self._port

    @property
    def mode(self) -> ProxyMode:
        return self._mode

    def start(self) -> None:
        if self._thread is not None:
            raise RuntimeError("proxy already started")
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((LISTEN_HOST, 0))
        listener.listen(LISTEN_BACKLOG)
        listener.setblocking(False)
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._waker_r, self._waker_w = socket.socketpair()
        self._waker_r.setblocking(False)
        self._sel = selectors.DefaultSelector()
        self._sel.register(listener, selectors.EVENT_READ)
        self._sel.register(self._waker_r, selectors.EVENT_READ)
        self._thread = threading.Thread(target=self._run, name=f"tcp-fault-proxy:{self._port}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Reset every connection and stop listening; safe to call twice."""
        thread = self._thread
        if thread is None or not thread.is_alive():
            self._shutdown()
            return
        self._submit(self._request_stop)
        thread.join(COMMAND_TIMEOUT_S)

    def pass_through(self) -> None:
        """Heal: forward everything now, including bytes still held back by delay()."""
        self._submit(lambda: self._set_mode(ProxyMode.PASS_THROUGH, delay_s=0.0, retime=True))

    def delay(self, seconds: float) -> None:
        """Forward each chunk `seconds` after it was read, keeping order."""
        if seconds < 0:
            raise ValueError("delay must be >= 0")
        self._submit(lambda: self._set_mode(ProxyMode.PASS_THROUGH, delay_s=seconds, retime=False))

    def black_hole(self) -> None:
        """Keep connections open but drop all bytes (and closes) both ways."""
        self._submit(lambda: self._set_mode(ProxyMode.BLACK_HOLE, delay_s=self._delay_s, retime=False))

    def refuse(self) -> None:
        """Reset new connections at once; existing ones keep flowing."""
        self._submit(lambda: self._set_mode(ProxyMode.REFUSE, delay_s=self._delay_s, retime=False))

    def reset_all(self) -> None:
        """Send RST on both sides of every current connection; the mode stays as it was."""
        self._submit(self._reset_all)

    def stats(self) -> ProxyStats:
        return self._submit(self._snapshot)

    @property
    def bytes_to_upstream(self) -> int:
        return self.stats().bytes_to_upstream

    @property
    def bytes_to_client(self) -> int:
        return self.stats().bytes_to_client

    # -- command plumbing -------------------------------------------------------------------

    def _submit(self, fn: Callable[[], T]) -> T:
        """Run fn on the proxy thread and wait, so the change is in effect when we return."""
        cmd: _Command[T] = _Command(fn)
        with self._lock:
            on_thread = threading.current_thread() is self._thread
            queued = self._thread is not None and not self._closed and not on_thread
            if queued:
                self._commands.append(cmd)
        if not queued:
            # Not started, already stopped, or called from the loop itself: no one to race with.
            self._raise_if_crashed()
            cmd.run()
        else:
            assert self._waker_w is not None
            with contextlib.suppress(OSError):
                self._waker_w.send(b"\0")
            if not cmd.done.wait(COMMAND_TIMEOUT_S):
                raise RuntimeError("tcp fault proxy thread did not respond")
        if cmd.error is not None:
            raise cmd.error
        return cast(T, cmd.result)

    def _raise_if_crashed(self) -> None:
        if self._error is not None:
            raise RuntimeError("tcp fault proxy thread crashed") from self._error

    def _run_commands(self) -> None:
        while True:
            with self._lock:
                if not self._commands:
                    return
                cmd = self._commands.popleft()
            cmd.run()

    # -- proxy thread -----------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stopping:
                self._sync_interest()
                assert self._sel is not None
                for key, mask in self._sel.select(self._select_timeout()):
                    self._dispatch(cast(socket.socket, key.fileobj), mask)
                # Flush before commands so a stats() snapshot never sees bytes that are due and
                # about to go out, and again after so a mode change (e.g. healing) acts at once.
                self._flush_all()
                self._run_commands()
                self._flush_all()
        except BaseException as exc:
            self._error = exc
        finally:
            with self._lock:
                self._closed = True
                pending = list(self._commands)
                self._commands.clear()
            self._shutdown()
            for cmd in pending:
                cmd.fail(RuntimeError("tcp fault proxy stopped"))

    def _request_stop(self) -> None:
        self._stopping = True

    def _shutdown(self) -> None:
        self._reset_all()
        for sock in (self._listener, self._waker_r, self._waker_w):
            if sock is not None:
                sock.close()
        if self._sel is not None:
            self._sel.close()
        self._listener = self._waker_r = self._waker_w = None
        self._sel = None

    def _dispatch(self, sock: socket.socket, mask: int) -> None:
        if sock is self._listener:
            self._accept_all()
        elif sock is self._waker_r:
            with contextlib.suppress(BlockingIOError):
                sock.recv(4096)
        elif sock in self._registered:
            _, conn, side = self._registered[sock]
            if mask & selectors.EVENT_READ:
                self._read(conn, side)
            if mask & selectors.EVENT_WRITE and side.alive:
                flow = conn.to_client if side is conn.client else conn.to_upstream
                self._flush(conn, flow)

    def _accept_all(self) -> None:
        assert self._listener is not None
        while True:
            try:
                client, _ = self._listener.accept()
            except BlockingIOError:
                return
            self._accepted += 1
            if self._mode is ProxyMode.REFUSE:
                self._refused += 1
                _rst_close(client)
                continue
            try:
                upstream = socket.create_connection(self._upstream, timeout=UPSTREAM_CONNECT_TIMEOUT_S)
            except OSError:
                _rst_close(client)
                continue
            _tune(client)
            _tune(upstream)
            self._conns.append(_Conn.of(client, upstream))

    def _read(self, conn: _Conn, side: _Side) -> None:
        try:
            data = side.sock.recv(RECV_CHUNK)
        except BlockingIOError:
            return
        except OSError:
            self._side_lost(conn, side, reset=True)
            return
        if not data:
            self._side_lost(conn, side, reset=False)
            return
        if self._mode is ProxyMode.BLACK_HOLE:
            self._bytes_dropped += len(data)
            return
        flow = conn.flow_from(side)
        flow.queue.append((time.monotonic() + self._delay_s, data))
        flow.queued_bytes += len(data)

    def _side_lost(self, conn: _Conn, side: _Side, *, reset: bool) -> None:
        """EOF or error from one side: pass it on, unless the link is black-holed."""
        if self._mode is ProxyMode.BLACK_HOLE:
            conn.broken = True
            self._close_side(side, rst=reset)
            if not any(s.alive for s in conn.sides()):
                self._conns.remove(conn)
            return
        if reset:
            self._abort(conn)
            return
        flow = conn.flow_from(side)
        flow.src_eof = True
        flow.queue.append((time.monotonic() + self._delay_s, None))

    def _flush_all(self) -> None:
        for conn in list(self._conns):
            for flow in conn.flows():
                if conn in self._conns and flow.dst.alive:
                    self._flush(conn, flow)

    def _flush(self, conn: _Conn, flow: _Flow) -> None:
        now = time.monotonic()
        while flow.queue and flow.queue[0][0] <= now:
            due, data = flow.queue[0]
            if data is None:
                flow.queue.popleft()
                with contextlib.suppress(OSError):
                    flow.dst.sock.shutdown(socket.SHUT_WR)
                flow.finished = True
                if all(f.finished for f in conn.flows()):
                    self._close_conn(conn)
                return
            try:
                sent = flow.dst.sock.send(data)
            except BlockingIOError:
                return
            except OSError:
                self._abort(conn)
                return
            self._count_sent(conn, flow, sent)
            flow.queued_bytes -= sent
            if sent < len(data):
                flow.queue[0] = (due, data[sent:])
                return
            flow.queue.popleft()

    def _count_sent(self, conn: _Conn, flow: _Flow, sent: int) -> None:
        if flow is conn.to_upstream:
            self._bytes_to_upstream += sent
        else:
            self._bytes_to_client += sent

    def _sync_interest(self) -> None:
        """Read while there is room downstream; write only when a due chunk is waiting."""
        assert self._sel is not None
        now = time.monotonic()
        wanted: dict[socket.socket, tuple[int, _Conn, _Side]] = {}
        for conn in self._conns:
            for side in conn.sides():
                if not side.alive:
                    continue
                out = conn.flow_from(side)
                inbound = conn.to_client if side is conn.client else conn.to_upstream
                events = 0
                if not out.src_eof and out.queued_bytes < HIGH_WATER_BYTES:
                    events |= selectors.EVENT_READ
                if inbound.queue and inbound.queue[0][0] <= now:
                    events |= selectors.EVENT_WRITE
                if events:
                    wanted[side.sock] = (events, conn, side)
        for sock, (events, _, _) in list(self._registered.items()):
            if sock not in wanted:
                self._sel.unregister(sock)
                del self._registered[sock]
            elif wanted[sock][0] != events:
                self._sel.modify(sock, wanted[sock][0])
        for sock, entry in wanted.items():
            if sock not in self._registered:
                self._sel.register(sock, entry[0])
        self._registered = wanted

    def _select_timeout(self) -> float | None:
        """Sleep until the next delayed chunk is due, or until a socket or command wakes us.

        Chunks already due are not counted: they wait on EVENT_WRITE, and counting them would
        spin the loop while the receiver is not reading.
        """
        now = time.monotonic()
        dues = [due for c in self._conns for f in c.flows() if f.queue and (due := f.queue[0][0]) > now]
        return min(dues) - now if dues else None

    def _set_mode(self, mode: ProxyMode, *, delay_s: float, retime: bool) -> None:
        previous, self._mode, self._delay_s = self._mode, mode, delay_s
        if mode is ProxyMode.BLACK_HOLE and previous is not ProxyMode.BLACK_HOLE:
            self._enter_black_hole()
        if mode is not ProxyMode.BLACK_HOLE:
            # The link is back: a peer that closed during the outage no longer knows the
            # connection, so the survivor gets an RST, as it would from the peer's kernel.
            for conn in [c for c in self._conns if c.broken]:
                self._abort(conn)
        if retime:
            now = time.monotonic()
            for conn in self._conns:
                for flow in conn.flows():
                    flow.queue = deque((min(due, now), data) for due, data in flow.queue)

    def _enter_black_hole(self) -> None:
        # Bytes in flight when the link dies are lost too, including a pending close.
        for conn in list(self._conns):
            for flow in conn.flows():
                if flow.src_eof and not flow.finished and flow.src.alive:
                    conn.broken = True
                    self._close_side(flow.src, rst=False)
                flow.clear()
            if not any(s.alive for s in conn.sides()):
                self._conns.remove(conn)

    def _reset_all(self) -> None:
        for conn in list(self._conns):
            self._abort(conn)

    def _abort(self, conn: _Conn) -> None:
        for side in conn.sides():
            self._close_side(side, rst=True)
        if conn in self._conns:
            self._conns.remove(conn)

    def _close_conn(self, conn: _Conn) -> None:
        for side in conn.sides():
            self._close_side(side, rst=False)
        if conn in self._conns:
            self._conns.remove(conn)

    def _close_side(self, side: _Side, *, rst: bool) -> None:
        if not side.alive:
            return
        side.alive = False
        if side.sock in self._registered and self._sel is not None:
            self._sel.unregister(side.sock)
            del self._registered[side.sock]
        if rst:
            _rst_close(side.sock)
        else:
            side.sock.close()

    def _snapshot(self) -> ProxyStats:
        return ProxyStats(
            bytes_to_upstream=self._bytes_to_upstream,
            bytes_to_client=self._bytes_to_client,
            bytes_dropped=self._bytes_dropped,
            queued_bytes=sum(f.queued_bytes for c in self._conns for f in c.flows()),
            active_connections=len(self._conns),
            accepted_connections=self._accepted,
            refused_connections=self._refused,
        )
