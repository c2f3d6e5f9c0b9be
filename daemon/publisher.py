"""The ZeroMQ publishing socket, fed through a queue so that no producer ever waits.

A ZeroMQ socket belongs to one thread. The pipeline's thread (onsets) and the
inference thread (timbre) both publish, so they put events on a queue and one
sender thread owns the socket. The socket has an explicit send high-water mark
and sends without blocking: when a subscriber is too slow the message is
dropped for it and counted, and the audio path never notices.

It is an XPUB socket, a PUB that also hands over the subscriptions it receives:
that is how ``run --wait-subscriber`` knows a subscriber (or a broker with one)
is there before the first hit is published. A plain PUB cannot tell, and drops
what it sends before a subscription has arrived (ZeroMQ's "slow joiner").
"""

from __future__ import annotations

import queue
import threading

import zmq

from timbrecast.daemon.protocol import Event, encode
from timbrecast.daemon.security import Curve, secure

DEFAULT_ENDPOINT = "tcp://127.0.0.1:5556"
DEFAULT_HWM = 1000


class PublisherError(OSError):
    """The socket could not be bound; the message names the endpoint and why."""


class Publisher:
    """``publisher(event)`` queues an event; a thread sends it."""

    def __init__(
        self,
        endpoint: str = DEFAULT_ENDPOINT,
        hwm: int = DEFAULT_HWM,
        context: zmq.Context | None = None,
        connect: bool = False,
        curve: Curve | None = None,
        wait_subscriber: bool = False,
    ) -> None:
        """Bind ``endpoint``, or with ``connect`` dial it (a broker's XSUB side).

        With ``curve`` the socket is a CURVE server admitting only authorised clients.
        With ``wait_subscriber`` nothing is sent before the first subscription.
        """
        self.endpoint = endpoint
        self.drops = 0
        self.sent = 0
        #: Set once a subscription has arrived (at once unless ``wait_subscriber``);
        #: until then the sender holds the queued events back.
        self.subscribed = threading.Event()
        if not wait_subscriber:
            self.subscribed.set()
        self._closing = threading.Event()
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.XPUB)
        self._socket.setsockopt(zmq.SNDHWM, hwm)
        self._socket.setsockopt(zmq.LINGER, 500)
        self._authenticator = secure(self._socket, curve) if curve else None
        try:
            (self._socket.connect if connect else self._socket.bind)(endpoint)
        except zmq.ZMQError as exc:
            self._socket.close(linger=0)
            if self._authenticator:
                self._authenticator.stop()
            raise PublisherError(f"cannot publish on {endpoint}: {exc.strerror}") from exc
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._send, name="publisher", daemon=True)
        self._thread.start()

    def __call__(self, event: Event) -> None:
        self._queue.put(event)

    def _send(self) -> None:
        while not self.subscribed.is_set() and not self._closing.is_set():
            self._socket.poll(100)
            self._read_subscriptions()
        while True:
            self._read_subscriptions()
            try:
                event = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if event is None:
                return
            try:
                self._socket.send_multipart(encode(event), flags=zmq.NOBLOCK)
                self.sent += 1
            except zmq.Again:
                self.drops += 1

    def _read_subscriptions(self) -> None:
        """Take the (un)subscriptions XPUB hands over, so they do not pile up."""
        while self._socket.poll(0):
            if self._socket.recv()[:1] == b"\x01":
                self.subscribed.set()

    def close(self) -> None:
        """Send what is queued, then close the socket."""
        self._closing.set()
        self._queue.put(None)
        self._thread.join()
        self._socket.close()
        if self._authenticator:
            self._authenticator.stop()
