"""What the client commands share: arguments, exit statuses, stopping, errors.

The statuses are those of ``timbrecast.daemon.exitcodes`` (BSD sysexits, as
systemd expects); the clients may import only the daemon's protocol module, so
the few they use are repeated here. Bad arguments exit with ``CONFIG`` like a
bad daemon configuration, so a unit with ``RestartPreventExitStatus=78`` does
not restart a misconfigured bridge in a loop.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NoReturn, TypeGuard

import zmq

from timbrecast.clients.subscriber import (
    DEFAULT_ENDPOINT,
    DEFAULT_RCVHWM,
    DEFAULT_SILENCE_S,
    Back,
    CurveKeys,
    Item,
    Silent,
    Subscriber,
)

OK = 0
#: A library the command needs is not installed, or there is no MIDI system.
UNAVAILABLE = 69
#: A loop that stopped on its own (the broker's forwarding): a supervisor restarts it.
SOFTWARE = 70
#: Bad arguments or an endpoint, host or port that cannot be used.
CONFIG = 78

STATUSES = "exit statuses: 0 ok, 69 something needed is not installed, 78 bad arguments."


class Unavailable(RuntimeError):
    """Something the command needs is missing; the message says what to install."""


class BadConfig(ValueError):
    """An argument that parses but cannot be used: a bad endpoint, port or mapping."""


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error and the configuration exit status."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(CONFIG, f"{self.prog}: error: {message} (see --help)\n")


def add_subscriber_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("daemons")
    group.add_argument(
        "--connect",
        action="append",
        metavar="ENDPOINT",
        help=f"a daemon or broker to read from; repeat for several (default {DEFAULT_ENDPOINT})",
    )
    group.add_argument(
        "--source",
        action="append",
        metavar="NAME",
        help="only this source; repeat for several (default: every source)",
    )
    group.add_argument(
        "--silence",
        type=float,
        default=DEFAULT_SILENCE_S,
        metavar="SECONDS",
        help="report a source silent after this long without a message; 0 turns it off "
        f"(default {DEFAULT_SILENCE_S:g})",
    )
    group.add_argument(
        "--hwm",
        type=int,
        default=DEFAULT_RCVHWM,
        help=f"receive high-water mark, messages queued before dropping (default {DEFAULT_RCVHWM})",
    )
    group.add_argument(
        "--count",
        type=int,
        metavar="N",
        help="stop after N events (default: until every source has ended or a signal)",
    )
    group.add_argument(
        "--server-key",
        type=Path,
        metavar="FILE",
        help="CURVE: the daemon's (or broker's) public key, server.key; with --key",
    )
    group.add_argument(
        "--key",
        type=Path,
        metavar="FILE",
        help="CURVE: this client's key pair, NAME.key_secret from `timbrecastd keygen` "
        "(its NAME.key goes into the daemon's clients folder)",
    )
    group.add_argument(
        "--keep-open",
        action="store_true",
        help="keep running after every source has sent end-of-input (a daemon that "
        "finished a file may be started again)",
    )


def open_subscriber(args: argparse.Namespace, kinds: Sequence[str] | None) -> Subscriber:
    """The subscriber the common arguments describe, or ``BadConfig`` saying why not."""
    if args.silence < 0:
        raise BadConfig(f"--silence {args.silence} is negative")
    if args.count is not None and args.count < 1:
        raise BadConfig(f"--count {args.count} is not a positive number")
    endpoints = args.connect or [DEFAULT_ENDPOINT]
    curve = curve_keys(args.server_key, args.key)
    try:
        return Subscriber(
            endpoints,
            kinds=kinds,
            sources=args.source,
            silence_s=args.silence or None,
            rcvhwm=args.hwm,
            until_end=not args.keep_open,
            curve=curve,
        )
    except zmq.ZMQError as exc:
        raise BadConfig(f"cannot connect to {' '.join(endpoints)}: {exc.strerror}") from exc
    except ValueError as exc:
        raise BadConfig(str(exc)) from exc


def going(subscriber: Subscriber, stop: threading.Event, count: int | None) -> bool:
    """Whether a command's receive loop goes on: no signal, a stream not yet ended,
    fewer than ``--count`` events so far."""
    return (
        not stop.is_set()
        and not subscriber.finished
        and (count is None or subscriber.counters.delivered < count)
    )


def curve_keys(server_key: Path | None, key: Path | None) -> CurveKeys | None:
    """The CURVE keys two options name, both or neither; ``BadConfig`` otherwise."""
    if server_key is None and key is None:
        return None
    if server_key is None or key is None:
        raise BadConfig("CURVE needs both --server-key (the server's .key) and --key (yours)")
    try:
        return CurveKeys.load(server_key, key)
    except ValueError as exc:
        raise BadConfig(str(exc)) from exc


def notice(item: Silent | Back) -> str:
    if isinstance(item, Silent):
        return f"{item.source}: silent for {item.silent_s:.1f} s"
    return f"{item.source}: back after {item.silent_s:.1f} s"


def is_notice(item: Item) -> TypeGuard[Silent | Back]:
    return isinstance(item, Silent | Back)


def stop_on_signals() -> threading.Event:
    """An event that SIGINT and SIGTERM set, so loops end cleanly and save their work.

    Signal handlers can only be installed from the main thread; elsewhere (a
    test calling ``main`` in a thread) the event is only set by the caller.
    """
    stop = threading.Event()
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
    return stop


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """File descriptor 2 to /dev/null for the duration: PortAudio's ALSA and JACK
    probes print dozens of harmless lines while they look for devices. (The daemon
    has the same helper; the clients may import only its protocol module.)"""
    saved = os.dup(2)
    with open(os.devnull, "wb") as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def require(module: str, package: str, extra: str = "clients") -> None:
    """Raise ``Unavailable`` naming the package to install if ``module`` is missing."""
    if importlib.util.find_spec(module) is None:
        raise Unavailable(
            f"{package} is not installed: pip install '{package}' or 'timbrecast[{extra}]'"
        )


def run(prog: str, body: Callable[[], int]) -> int:
    """Run a command's body, turning expected failures into a one-line message and status."""
    try:
        return body()
    except BrokenPipeError:
        # `timbrecast-listen --jsonl | head -1`: the reader going away is a normal end.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return OK
    except Unavailable as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return UNAVAILABLE
    except BadConfig as exc:
        print(f"{prog}: {exc}", file=sys.stderr)
        return CONFIG
