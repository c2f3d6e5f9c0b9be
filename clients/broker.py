"""``timbrecast-broker``: one address for many daemons and many clients.

The forwarder proxy of the ZeroMQ guide: an XSUB socket gathers what the
daemons publish, an XPUB socket hands it to the clients, and ``zmq.proxy``
moves messages one way and subscriptions the other, so a client's topic filter
still reaches every daemon and unwanted messages never cross the network.
Daemons that bind (``timbrecastd run --endpoint``) are reached with
``--upstream``; publishers that connect use ``--frontend``.

Both sockets have explicit high-water marks. The XPUB drops for a client that
falls behind rather than blocking the proxy, so one slow client never delays
the others or the daemons.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import threading
from collections.abc import Sequence

import zmq

from timbrecast.clients import _cli

PROG = "timbrecast-broker"
DEFAULT_BACKEND = "tcp://127.0.0.1:5557"
#: Where daemons started with ``run --connect`` publish when no source is named.
DEFAULT_FRONTEND = "tcp://127.0.0.1:5559"
DEFAULT_HWM = 1000

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
    ) -> None:
        if not frontends and not upstreams:
            raise ValueError("nothing to read from: give a frontend or an upstream")
        if not backends:
            raise ValueError("nowhere for clients to connect: give a backend")
        if hwm < 0:
            raise ValueError(f"the high-water mark must be >= 0, got {hwm}")
        self._context = context or zmq.Context.instance()
        self._control_address = f"inproc://timbrecast-broker-{next(_names)}"
        self._sockets: list[zmq.Socket] = []
        try:
            self.frontend = self._socket(zmq.XSUB, hwm)
            self.backend = self._socket(zmq.XPUB, hwm)
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

    def _socket(self, kind: int, hwm: int) -> zmq.Socket:
        socket = self._context.socket(kind)
        self._sockets.append(socket)
        socket.setsockopt(zmq.SNDHWM, hwm)
        socket.setsockopt(zmq.RCVHWM, hwm)
        socket.setsockopt(zmq.LINGER, 0)
        return socket

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
    parser.add_argument(
        "--hwm",
        type=int,
        default=DEFAULT_HWM,
        help=f"messages queued per connection before dropping (default {DEFAULT_HWM})",
    )
    return parser


def serve(args: argparse.Namespace) -> int:
    """Run the proxy in a thread; the main thread waits for SIGINT or SIGTERM to stop it."""
    try:
        broker = Broker(
            frontends=args.frontend or ([] if args.upstream else [DEFAULT_FRONTEND]),
            upstreams=args.upstream,
            backends=args.backend or [DEFAULT_BACKEND],
            hwm=args.hwm,
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
