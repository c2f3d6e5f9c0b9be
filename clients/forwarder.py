"""The broker's forwarding: an XSUB socket gathers what the daemons publish, an XPUB
socket hands it to the clients, and ``Broker.run`` moves messages one way and
subscriptions the other (the forwarder proxy of the ZeroMQ guide, with counted
topics). ``timbrecast-broker`` is its command line."""

from __future__ import annotations

import contextlib
import itertools
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import zmq
from zmq.auth.thread import ThreadAuthenticator

from timbrecast.clients.subscriber import CurveKeys

PROG = "timbrecast-broker"
DEFAULT_BACKEND = "tcp://127.0.0.1:5557"
#: Where daemons started with ``run --connect`` publish when no source is named.
DEFAULT_FRONTEND = "tcp://127.0.0.1:5559"
DEFAULT_HWM = 1000
#: What the broker takes: daemons' messages are a few hundred bytes, clients'
#: subscriptions and handshakes (CURVE's takes about 300) under 512, as the daemon.
MAX_MESSAGE_BYTES = 64 * 1024
MAX_SUBSCRIPTION_BYTES = 512
#: Distinct topics clients may subscribe before the sockets are reopened (as the daemon).
MAX_SUBSCRIPTIONS = 4096
#: Messages forwarded one way before the other side gets its turn.
BURST = 1000
#: How long a reset waits for a port to be free again.
REBIND_S = 5.0
_names = itertools.count()


class Broker:
    """An XSUB/XPUB proxy; ``run`` blocks until another thread calls ``stop``.

    The forwarding loop is this module's rather than ``zmq.proxy``'s so that it can
    count the distinct topics clients subscribe (XPUB passes a topic's first
    subscription and last unsubscription, a leaving client's included) and, past
    ``MAX_SUBSCRIPTIONS``, reopen both sockets:
    ZeroMQ keeps each distinct subscription, in the XPUB and again in the XSUB that
    forwards it, with no limit of its own. Clients and daemons reconnect by
    themselves; each reset is counted and said on standard error.
    """

    def __init__(
        self,
        *,
        frontends: Sequence[str] = (),
        upstreams: Sequence[str] = (),
        backends: Sequence[str] = (DEFAULT_BACKEND,),
        hwm: int = DEFAULT_HWM,
        context: zmq.Context | None = None,
        upstream_curve: CurveKeys | None = None,
        clients_curve: tuple[CurveKeys, Path] | None = None,
    ) -> None:
        """``upstream_curve``: the broker as a CURVE client of the daemons;
        ``clients_curve``: its own keys and the folder of authorised clients' public
        keys, to serve its clients as a CURVE server."""
        if not frontends and not upstreams:
            raise ValueError("nothing to read from: give a frontend or an upstream")
        if not backends:
            raise ValueError("nowhere for clients to connect: give a backend")
        if hwm < 0:
            raise ValueError(f"the high-water mark must be >= 0, got {hwm}")
        if clients_curve is not None and not clients_curve[1].is_dir():
            raise ValueError(f"--clients {clients_curve[1]} is not a directory")
        self._context = context or zmq.Context.instance()
        self._hwm = hwm
        self._upstream_curve, self._clients_curve = upstream_curve, clients_curve
        self._control_address = f"inproc://timbrecast-broker-{next(_names)}"
        self._authenticator: ThreadAuthenticator | None = None
        if clients_curve is not None:
            self._authenticator = ThreadAuthenticator(self._context)
            self._authenticator.start()
            self._authenticator.configure_curve(domain="*", location=str(clients_curve[1]))
        #: Distinct topics clients subscribe now, and how often the sockets were reopened.
        self.live = 0
        self.resets = 0
        #: Why ``run`` stopped forwarding on its own (sockets that could not reopen).
        self.failure: str | None = None
        self.upstreams = list(upstreams)
        self._control = self._context.socket(zmq.REP)
        self._control.bind(self._control_address)
        self.frontends, self.backends = list(frontends), list(backends)
        try:
            self._open()
        except zmq.ZMQError:
            self.close()
            raise

    def _open(self) -> None:
        """Both sockets, bound where they were (a ``*`` port resolved the first time)."""
        self.frontend = self._socket(zmq.XSUB, MAX_MESSAGE_BYTES)
        self.backend = self._socket(zmq.XPUB, MAX_SUBSCRIPTION_BYTES)
        if self._upstream_curve is not None:
            self._upstream_curve.apply(self.frontend)
        if self._clients_curve is not None:
            keys = self._clients_curve[0]
            self.backend.curve_secretkey = keys.secret
            self.backend.curve_publickey = keys.public
            self.backend.curve_server = True
        self.frontends = [self._bind(self.frontend, e) for e in self.frontends]
        self.backends = [self._bind(self.backend, e) for e in self.backends]
        for endpoint in self.upstreams:
            self.frontend.connect(endpoint)

    def _socket(self, kind: int, max_bytes: int) -> zmq.Socket:
        socket = self._context.socket(kind)
        socket.setsockopt(zmq.SNDHWM, self._hwm)
        socket.setsockopt(zmq.RCVHWM, self._hwm)
        socket.setsockopt(zmq.MAXMSGSIZE, max_bytes)
        socket.setsockopt(zmq.LINGER, 0)
        return socket

    @staticmethod
    def _bind(socket: zmq.Socket, endpoint: str) -> str:
        """Bind, and return the endpoint as bound (``tcp://127.0.0.1:*`` gets its port).

        After a reset ZeroMQ frees the port a moment after the close: retried a while.
        """
        deadline = time.monotonic() + REBIND_S
        while True:
            try:
                socket.bind(endpoint)
                return socket.getsockopt_string(zmq.LAST_ENDPOINT)
            except zmq.ZMQError as exc:
                if exc.errno != zmq.EADDRINUSE or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def run(self) -> None:
        """Forward until ``stop``: messages down, subscriptions up, never blocking on a
        slow side (a full queue drops, as ``zmq.proxy`` does)."""
        poller = self._poller()
        while True:
            ready = dict(poller.poll())
            if self._control in ready:
                self._control.recv()
                self._control.send(b"")
                return
            if self.frontend in ready:
                self._forward(self.frontend, self.backend)
            if self.backend in ready:
                self._forward(self.backend, self.frontend, count=True)
                if self.live > MAX_SUBSCRIPTIONS:
                    try:
                        self._reset()
                    except zmq.ZMQError as exc:
                        self.failure = f"cannot reopen the broker's sockets: {exc.strerror}"
                        return
                    poller = self._poller()

    def _poller(self) -> zmq.Poller:
        poller = zmq.Poller()
        for socket in (self.frontend, self.backend, self._control):
            poller.register(socket, zmq.POLLIN)
        return poller

    def _forward(self, source: zmq.Socket, target: zmq.Socket, count: bool = False) -> None:
        for _ in range(BURST):
            try:
                frames = source.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if count:
                self.live = self.live + 1 if frames[0][:1] == b"\x01" else max(0, self.live - 1)
            with contextlib.suppress(zmq.Again):
                target.send_multipart(frames, zmq.NOBLOCK)

    def _reset(self) -> None:
        self.frontend.close(linger=0)
        self.backend.close(linger=0)
        self.live = 0
        self.resets += 1
        self._open()
        print(
            f"{PROG}: over {MAX_SUBSCRIPTIONS} subscriptions held by clients: sockets reopened "
            f"({self.resets} so far); clients and daemons reconnect by themselves",
            file=sys.stderr,
            flush=True,
        )

    def stop(self, timeout_s: float = 2.0) -> None:
        """End ``run`` from any thread: a socket of its own sends the proxy's TERMINATE.

        A REQ socket, and it waits for the proxy's reply: a PAIR closed right
        after sending can take the unread command away with it.
        """
        with self._context.socket(zmq.REQ) as socket:
            socket.setsockopt(zmq.LINGER, 0)
            socket.connect(self._control_address)
            socket.send(b"TERMINATE")
            socket.poll(round(timeout_s * 1000))

    def close(self) -> None:
        for name in ("frontend", "backend", "_control"):
            socket = getattr(self, name, None)
            if socket is not None:
                socket.close(linger=0)
        if self._authenticator is not None:
            self._authenticator.stop()
