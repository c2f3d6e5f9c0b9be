"""``timbrecast-broker``: one address for many daemons and many clients.

The forwarder proxy of the ZeroMQ guide: an XSUB socket gathers what the
daemons publish, an XPUB socket hands it to the clients, and ``zmq.proxy``
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
import itertools
import sys
import threading
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
    """An XSUB/XPUB proxy; ``run`` blocks until another thread calls ``stop``."""

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
        self._context = context or zmq.Context.instance()
        self._control_address = f"inproc://timbrecast-broker-{next(_names)}"
        self._sockets: list[zmq.Socket] = []
        self._authenticator: ThreadAuthenticator | None = None
        try:
            self.frontend = self._socket(zmq.XSUB, hwm, MAX_MESSAGE_BYTES)
            self.backend = self._socket(zmq.XPUB, hwm, MAX_SUBSCRIPTION_BYTES)
            if upstream_curve is not None:
                upstream_curve.apply(self.frontend)
            if clients_curve is not None:
                self._serve_curve(*clients_curve)
            self._control = self._socket(zmq.REP, hwm)
            self._control.bind(self._control_address)
            self.frontends = [self._bind(self.frontend, e) for e in frontends]
            self.backends = [self._bind(self.backend, e) for e in backends]
            for endpoint in upstreams:
                self.frontend.connect(endpoint)
        except zmq.ZMQError:
            self.close()
            raise
        self.upstreams = list(upstreams)

    def _socket(self, kind: int, hwm: int, max_bytes: int = -1) -> zmq.Socket:
        socket = self._context.socket(kind)
        self._sockets.append(socket)
        socket.setsockopt(zmq.SNDHWM, hwm)
        socket.setsockopt(zmq.RCVHWM, hwm)
        socket.setsockopt(zmq.MAXMSGSIZE, max_bytes)
        socket.setsockopt(zmq.LINGER, 0)
        return socket

    def _serve_curve(self, keys: CurveKeys, clients: Path) -> None:
        """The backend as a CURVE server admitting the clients whose keys are in ``clients``."""
        if not clients.is_dir():
            raise ValueError(f"--clients {clients} is not a directory")
        self._authenticator = ThreadAuthenticator(self._context)
        self._authenticator.start()
        self._authenticator.configure_curve(domain="*", location=str(clients))
        self.backend.curve_secretkey = keys.secret
        self.backend.curve_publickey = keys.public
        self.backend.curve_server = True

    @staticmethod
    def _bind(socket: zmq.Socket, endpoint: str) -> str:
        """Bind, and return the endpoint as bound (``tcp://127.0.0.1:*`` gets its port)."""
        socket.bind(endpoint)
        return socket.getsockopt_string(zmq.LAST_ENDPOINT)

    def run(self) -> None:
        """Forward until ``stop``; the sockets then belong to this thread until ``close``."""
        zmq.proxy_steerable(self.frontend, self.backend, None, self._control)

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
        for socket in self._sockets:
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
    stop.wait()
    broker.stop()
    proxy.join()
    broker.close()
    return _cli.OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: serve(args))


if __name__ == "__main__":
    sys.exit(main())
