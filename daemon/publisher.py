"""The ZeroMQ PUB socket, fed through a queue so that no producer ever waits.

A ZeroMQ socket belongs to one thread. The pipeline's thread (onsets) and the
inference thread (timbre) both publish, so they put events on a queue and one
sender thread owns the socket. The socket has an explicit send high-water mark
and sends without blocking: when a subscriber is too slow the message is
dropped for it and counted, and the audio path never notices.
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
    ) -> None:
        """Bind ``endpoint``, or with ``connect`` dial it (a broker's XSUB side).

        With ``curve`` the socket is a CURVE server admitting only authorised clients.
        """
        self.endpoint = endpoint
        self.drops = 0
        self.sent = 0
        self._context = context or zmq.Context.instance()
        self._socket = self._context.socket(zmq.PUB)
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
        while True:
            event = self._queue.get()
            if event is None:
                return
            try:
                self._socket.send_multipart(encode(event), flags=zmq.NOBLOCK)
                self.sent += 1
            except zmq.Again:
                self.drops += 1

    def close(self) -> None:
        """Send what is queued, then close the socket."""
        self._queue.put(None)
        self._thread.join()
        self._socket.close()
        if self._authenticator:
            self._authenticator.stop()
