"""``timbrecast-broker``: one address for many daemons and many clients.

The forwarder proxy of the ZeroMQ guide: an XSUB socket gathers what the
daemons publish, an XPUB socket hands it to the clients, and ``Broker.run``
moves messages one way and subscriptions the other, so a client's topic filter
still reaches every daemon and unwanted messages never cross the network.
Daemons that bind (``timbrecastd run --endpoint``) are reached with
``--upstream``; publishers that connect use ``--frontend``.

Both sockets have explicit high-water marks and message size limits. The XPUB
drops for a client that falls behind rather than blocking the proxy, so one slow
client never delays the others or the daemons.

With CURVE, the broker is a client of the daemons (``--upstream-server-key``: the
daemons' public key, so daemons behind one broker share a key pair; ``--key``:
the broker's own pair, whose public half goes into each daemon's clients folder)
and a server to its own clients (``--clients``: the folder of their public keys).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import zmq
from zmq.auth.thread import ThreadAuthenticator

from timbrecast.clients import _cli
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
#: Exit status when forwarding stopped on its own (a supervisor restarts it).
SOFTWARE = 70
#: Distinct topics clients may subscribe before the sockets are reopened (as the daemon).
MAX_SUBSCRIPTIONS = 4096
#: Messages forwarded one way before the other side gets its turn.
BURST = 1000
#: How long a reset waits for a port to be free again.
REBIND_S = 5.0

DESCRIPTION = f"""\
Forward every timbrecast daemon's messages to every client through one address
(a ZeroMQ XSUB/XPUB proxy). Clients connect to the --backend endpoint as they
would to a daemon; their subscriptions are passed on to the daemons. With no
--frontend or --upstream, daemons publish into --frontend {DEFAULT_FRONTEND}
(timbrecastd run --connect {DEFAULT_FRONTEND}).
"""

EPILOG = f"""\
examples:
  timbrecast-broker                       daemons: timbrecastd run --connect {DEFAULT_FRONTEND}
  timbrecast-broker --upstream tcp://pi1.local:5556 --upstream tcp://pi2.local:5556 \\
                    --backend 'tcp://*:5557'
  timbrecast-broker --frontend 'tcp://*:5555' --backend 'tcp://*:5557' --hwm 5000
  timbrecast-listen --connect tcp://broker.local:5557

{_cli.STATUSES}
"""

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


def build_parser() -> _cli.Parser:
    parser = _cli.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "--upstream",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="connect to a daemon that binds (timbrecastd); repeat for several",
    )
    parser.add_argument(
        "--frontend",
        action="append",
        default=[],
        metavar="ENDPOINT",
        help="bind here for publishers that connect; repeat for several "
        f"(default {DEFAULT_FRONTEND} when no --upstream is given)",
    )
    parser.add_argument(
        "--backend",
        action="append",
        metavar="ENDPOINT",
        help=f"bind here for clients; repeat for several (default {DEFAULT_BACKEND})",
    )
    curve = parser.add_argument_group("CURVE (keys from `timbrecastd keygen`)")
    curve.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="the broker's key pair, NAME.key_secret (its NAME.key: for the daemons' clients "
        "folder, and as --server-key of the broker's clients)",
    )
    curve.add_argument(
        "--upstream-server-key",
        type=Path,
        metavar="FILE",
        help="the daemons' public key, server.key: read them over CURVE (with --key)",
    )
    curve.add_argument(
        "--clients",
        type=Path,
        metavar="DIR",
        help="serve clients over CURVE, admitting those whose public keys are here (with --key)",
    )
    parser.add_argument(
        "--hwm",
        type=int,
        default=DEFAULT_HWM,
        help=f"messages queued per connection before dropping (default {DEFAULT_HWM})",
    )
    return parser


def curve_settings(
    args: argparse.Namespace,
) -> tuple[CurveKeys | None, tuple[CurveKeys, Path] | None]:
    """The upstream (client) and backend (server) CURVE keys the options ask for."""
    wanted = args.upstream_server_key is not None or args.clients is not None
    if wanted and args.key is None:
        raise _cli.BadConfig("--upstream-server-key and --clients need --key (NAME.key_secret)")
    if args.key is not None and not wanted:
        raise _cli.BadConfig("--key alone does nothing: add --upstream-server-key or --clients")
    upstream = None
    if args.upstream_server_key is not None:
        upstream = _cli.curve_keys(args.upstream_server_key, args.key)
    own = _cli.curve_keys(args.key, args.key) if args.clients is not None else None
    return upstream, (own, args.clients) if own is not None else None


def serve(args: argparse.Namespace) -> int:
    """Run the proxy in a thread; the main thread waits for SIGINT or SIGTERM to stop it."""
    upstream_curve, clients_curve = curve_settings(args)
    try:
        broker = Broker(
            frontends=args.frontend or ([] if args.upstream else [DEFAULT_FRONTEND]),
            upstreams=args.upstream,
            backends=args.backend or [DEFAULT_BACKEND],
            hwm=args.hwm,
            upstream_curve=upstream_curve,
            clients_curve=clients_curve,
        )
    except zmq.ZMQError as exc:
        raise _cli.BadConfig(f"cannot open the broker's sockets: {exc.strerror}") from exc
    except ValueError as exc:
        raise _cli.BadConfig(str(exc)) from exc
    stop = _cli.stop_on_signals()  # before the banner: a supervisor may signal once it reads it
    sources = [*(f"{e} (bound)" for e in broker.frontends), *broker.upstreams]
    print(
        f"{PROG}: {', '.join(sources)} -> clients at {', '.join(broker.backends)}",
        file=sys.stderr,
        flush=True,
    )
    proxy = threading.Thread(target=broker.run, name="proxy")
    proxy.start()
    while not stop.wait(0.5) and proxy.is_alive():
        pass
    if proxy.is_alive():
        broker.stop()
    proxy.join()
    broker.close()
    if broker.failure is not None:
        print(f"{PROG}: {broker.failure}", file=sys.stderr)
        return SOFTWARE
    return _cli.OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: serve(args))


if __name__ == "__main__":
    sys.exit(main())
