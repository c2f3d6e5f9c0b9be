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

What a peer can make the daemon hold is bounded. ZeroMQ keeps every distinct
subscription in a trie of about 50 bytes per character, with no limit of its
own: 20,000 subscriptions of 10 KB took a daemon to 9.6 GB. So a message longer
than a subscription or handshake can be (``MAX_SUBSCRIPTION_BYTES``) disconnects its
sender, and the sender thread counts the distinct topics subscribed (XPUB hands
over a topic's first subscription and its last unsubscription, a leaving peer's
included, so the count is what the trie holds): past ``MAX_SUBSCRIPTIONS`` the
socket is closed and bound again, which frees them all. Well-behaved
subscribers reconnect and subscribe again by themselves within ZeroMQ's
reconnect interval; each reset is counted and logged.

The sender sleeps until there is something to do: a producer that queues an event
also writes a byte to a pipe, and the sender polls that pipe and the socket
together, so it wakes for an event or a subscription and for nothing else. (A
sender that looked every 20 ms cost a one-channel daemon fed in real time 5-6 ms
of CPU per audio second on a virtual machine, where every wake-up is dear; woken
only for its work, 2-3: docs/benchmarks.md.)
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable

import zmq
from zmq.auth.thread import ThreadAuthenticator

from timbrecast.daemon.protocol import DEFAULT_ENDPOINT, Event, encode
from timbrecast.daemon.security import Curve, secure
from timbrecast.daemon.threadname import name_this_thread

DEFAULT_HWM = 1000
#: The largest message a peer may send: a subscription is a flag byte and a topic
#: prefix (``status/`` and a 64-character source name take 72), but ZeroMQ applies
#: the limit to its handshake too, and CURVE's INITIATE takes about 300 bytes.
MAX_SUBSCRIPTION_BYTES = 512
#: Distinct topics subscribed before the socket is reset: every kind of a thousand
#: sources stays below it.
MAX_SUBSCRIPTIONS = 4096
#: How long a reset waits for the port to be free again.
REBIND_S = 5.0


class PublisherError(OSError):
    """The socket could not be bound; the message names the endpoint and why."""


class PublisherFailed(RuntimeError):
    """The sender thread stopped while running (a reset that could not bind again):
    not a configuration error, so the daemon exits for systemd to restart it."""


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
        log: Callable[[str], None] = lambda _: None,
    ) -> None:
        """Bind ``endpoint``, or with ``connect`` dial it (a broker's XSUB side).

        With ``curve`` the socket is a CURVE server admitting only authorised clients.
        With ``wait_subscriber`` nothing is sent before the first subscription.
        """
        self.endpoint = endpoint
        self.drops = 0
        #: Times the socket was reset because peers held too many subscriptions.
        self.resets = 0
        #: Why the sender thread stopped, if it did: the next event raises it.
        self.failure: PublisherFailed | None = None
        self._live = 0
        self._log = log
        #: Set once a subscription has arrived (at once unless ``wait_subscriber``);
        #: until then the sender holds the queued events back.
        self.subscribed = threading.Event()
        if not wait_subscriber:
            self.subscribed.set()
        self._closing = threading.Event()
        # Held while an event is queued and while closing begins, so that no producer
        # writes to the wake-up pipe once close() may have closed it.
        self._accepting = threading.Lock()
        self._context = context or zmq.Context.instance()
        self._hwm, self._connect, self._curve = hwm, connect, curve
        self._socket, self._authenticator = self._open()
        self._queue: queue.SimpleQueue[Event | None] = queue.SimpleQueue()
        # The sender's wake-up: a byte per queued event. A full pipe means the sender
        # has a wake-up pending already, so the producer never waits on it.
        self._wake_read, self._wake_write = os.pipe()
        os.set_blocking(self._wake_read, False)
        os.set_blocking(self._wake_write, False)
        self._thread = threading.Thread(target=self._send, name="publisher", daemon=True)
        self._thread.start()

    def _open(self) -> tuple[zmq.Socket, ThreadAuthenticator | None]:
        socket = self._context.socket(zmq.XPUB)
        socket.setsockopt(zmq.SNDHWM, self._hwm)
        socket.setsockopt(zmq.LINGER, 500)
        socket.setsockopt(zmq.RCVHWM, self._hwm)
        socket.setsockopt(zmq.MAXMSGSIZE, MAX_SUBSCRIPTION_BYTES)
        authenticator = secure(socket, self._curve) if self._curve else None
        try:
            (socket.connect if self._connect else socket.bind)(self.endpoint)
        except zmq.ZMQError as exc:
            socket.close(linger=0)
            if authenticator:
                authenticator.stop()
            raise PublisherError(f"cannot publish on {self.endpoint}: {exc.strerror}") from exc
        return socket, authenticator

    def __call__(self, event: Event) -> None:
        if self.failure is not None:
            raise self.failure
        with self._accepting:
            if self._closing.is_set():
                raise RuntimeError(f"event published after the publisher on {self.endpoint} closed")
            self._queue.put(event)
            self._wake()

    def _wake(self) -> None:
        """Make the sender's next poll return. Never waits: a full pipe already holds
        a wake-up the sender has not taken."""
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_write, b"\0")

    def _send(self) -> None:
        try:
            name_this_thread("tc-publisher")
            self._sending()
        except Exception as exc:  # the daemon must not go on publishing into nothing
            self.failure = PublisherFailed(f"publishing stopped: {exc}")
            self._log(str(self.failure))

    def _sending(self) -> None:
        while True:
            self._read_subscriptions()
            # Held back until a subscription has arrived (``wait_subscriber``).
            if (self.subscribed.is_set() or self._closing.is_set()) and not self._send_queued():
                return
            # Built on each pass: a reset in _read_subscriptions replaces the socket.
            poller = zmq.Poller()
            poller.register(self._socket, zmq.POLLIN)
            poller.register(self._wake_read, zmq.POLLIN)
            poller.poll()
            # Emptied before the queue is read again: an event queued after this has
            # its byte still to come, so the next poll wakes for it.
            with contextlib.suppress(BlockingIOError):
                while os.read(self._wake_read, 4096):
                    pass

    def _send_queued(self) -> bool:
        """Send every queued event; False once close() has asked the sender to stop."""
        while True:
            try:
                event = self._queue.get_nowait()
            except queue.Empty:
                return True
            if event is None:
                return False
            try:
                self._socket.send_multipart(encode(event), flags=zmq.NOBLOCK)
            except zmq.Again:
                self.drops += 1

    def _read_subscriptions(self) -> None:
        """Take the (un)subscriptions XPUB hands over, so they do not pile up, and reset
        the socket when peers hold more than ``MAX_SUBSCRIPTIONS``."""
        while self._socket.poll(0):
            if self._socket.recv()[:1] == b"\x01":
                self.subscribed.set()
                self._live += 1
            else:
                self._live = max(0, self._live - 1)
            if self._live > MAX_SUBSCRIPTIONS:
                self._reset()

    def _reset(self) -> None:
        self._socket.close(linger=0)
        if self._authenticator:
            self._authenticator.stop()
        self._live = 0
        self.resets += 1
        # ZeroMQ releases the port in its I/O thread, a moment after the close.
        deadline = time.monotonic() + REBIND_S
        while True:
            try:
                self._socket, self._authenticator = self._open()
                break
            except PublisherError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self._log(
            f"over {MAX_SUBSCRIPTIONS} subscriptions held by peers of {self.endpoint}: "
            f"socket reset ({self.resets} so far); subscribers reconnect by themselves"
        )

    def close(self) -> None:
        """Send what is queued, then close the socket (once; again does nothing)."""
        with self._accepting:
            if self._closing.is_set():
                return
            self._closing.set()
            self._queue.put(None)
            self._wake()
        self._thread.join()
        os.close(self._wake_read)
        os.close(self._wake_write)
        self._socket.close()
        if self._authenticator:
            self._authenticator.stop()
