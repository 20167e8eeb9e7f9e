"""paho driven by the agent's asyncio loop through its external-loop callbacks, instead of a network thread.

The loop's selector reads the socket (``loop_read``), writes whatever paho queued while the socket would not
take it (``register_write``), and a task runs ``loop_misc`` (keepalive). :class:`MqttLink` writes each publish
inline (``loop_write`` right after ``publish``): with a network thread the PUBLISH waited for that thread to win
the GIL back from the loop, up to the interpreter's 5 ms switch interval while the loop ran Python. The same
pattern as aiomqtt and simulators/fleet. Every paho call is on the loop thread; only the blocking TCP/TLS connect
ran in an executor, before :class:`PahoOnLoop` attached.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from edge_agent.const import LINK_MISC_S


class PahoOnLoop:
    """One connected client's socket on the loop, from attach (construction) to :meth:`detach`. ``guard`` wraps
    each callback (an exception escaping into paho would break its read or write half-way)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        client: paho.Client,
        guard: Callable[[Callable[..., None]], Callable[..., None]],
    ) -> None:
        sock = client.socket()
        if sock is None:
            raise ConnectionRefusedError("paho has no socket after connect")
        self.loop, self.client = loop, client
        self._fd: int | None = sock.fileno()
        self._writer = False
        self._write_check = False
        client.on_socket_close = guard(self._on_socket_close)
        client.on_socket_register_write = guard(self._on_register_write)
        client.on_socket_unregister_write = guard(self._on_unregister_write)
        loop.add_reader(self._fd, self._readable)
        self._check_write()  # the CONNECT, when the socket did not take it whole
        self._misc = loop.create_task(self._keepalive())

    def detach(self) -> None:
        """The socket leaves the selector and is closed, whatever state paho left it in (a CONNACK never came)."""
        self._misc.cancel()
        self._forget_fd()
        close_socket(self.client)

    def _forget_fd(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None and not self.loop.is_closed():
            self.loop.remove_reader(fd)
            if self._writer:
                self.loop.remove_writer(fd)
        self._writer = False

    def _readable(self) -> None:
        client = self.client
        client.loop_read()
        sock = client.socket()
        # TLS: records already decrypted wait in the SSL object, where the selector cannot see them.
        while isinstance(sock, ssl.SSLSocket) and sock.pending() and client.socket() is sock:
            client.loop_read()

    async def _keepalive(self) -> None:
        while self.client.socket() is not None:
            await asyncio.sleep(LINK_MISC_S)
            self.client.loop_misc()  # PINGREQ when due; a peer silent past 1.5 x keepalive closes the socket

    def _on_register_write(self, _client: paho.Client, _userdata: Any, _sock: Any) -> None:
        """paho queued bytes. The link writes every publish at once, so the writer is only added if they are still
        there on the loop's next turn: two epoll_ctl calls per publish saved."""
        if not self._write_check:
            self._write_check = True
            self.loop.call_soon(self._check_write)

    def _check_write(self) -> None:
        """What paho queued by itself (the PUBACK of a message it read) is written on this turn, after the listener
        heard of the message; the writer is added only for bytes the socket did not take, not for every PUBACK
        (an epoll_ctl to add, a wake-up, an epoll_ctl to remove, per message received)."""
        self._write_check = False
        if self._fd is None or self._writer or not self.client.want_write():
            return
        self.client.loop_write()
        if self._fd is not None and self.client.want_write():  # still queued (a full socket); not closed meanwhile
            self._writer = True
            self.loop.add_writer(self._fd, self.client.loop_write)

    def _on_unregister_write(self, _client: paho.Client, _userdata: Any, _sock: Any) -> None:
        if self._fd is not None and self._writer:
            self._writer = False
            self.loop.remove_writer(self._fd)

    def _on_socket_close(self, _client: paho.Client, _userdata: Any, sock: Any) -> None:
        """Before paho closes the socket: unregistered while its fd is still ours (never a reused number)."""
        with contextlib.suppress(OSError):
            if sock.fileno() == self._fd:
                self._forget_fd()


def close_socket(client: paho.Client) -> None:
    """paho has no public close: a client being dropped gets its socket closed here."""
    sock = client.socket()
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.close()
