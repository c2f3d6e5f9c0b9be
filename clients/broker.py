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
import sys
import threading
from pathlib import Path

import zmq

from timbrecast.clients import _cli
from timbrecast.clients.forwarder import (
    DEFAULT_BACKEND,
    DEFAULT_FRONTEND,
    DEFAULT_HWM,
    PROG,
    Broker,
)
from timbrecast.clients.subscriber import CurveKeys

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
        return _cli.SOFTWARE
    return _cli.OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: serve(args))


if __name__ == "__main__":
    sys.exit(main())
