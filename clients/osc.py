"""``timbrecast-osc``: forward hits to a synth as Open Sound Control over UDP.

For each hit a synth first gets ``/timbrecast/<source>/onset`` with the
velocity, the moment the daemon hears it, so it can trigger at once; then,
when the model has run, ``/timbrecast/<source>/timbre`` with the seven values
in the documented order and one ``/timbrecast/<source>/<descriptor>`` per
value, for patches that map one parameter each. With ``--provisional`` the
early estimates come first on ``/timbrecast/<source>/provisional`` (and
``.../provisional/<descriptor>``), so a patch can tell them from the final
ones. UDP never waits for the receiver, so a stalled synth cannot back the
bridge up. docs/clients.md has receiving patches for SuperCollider, Pure Data
and Max.

``--prefix`` replaces ``/timbrecast``; ``--wekinator`` sends what Wekinator
reads instead: the seven values and the velocity as one ``/wek/inputs`` list,
to port 6448. ``--bundle MS`` sends each event's messages as one OSC bundle
time-tagged MS after the hit's attack on the daemon's clock: a receiver that
schedules bundles (SuperCollider does) then plays every hit at the same delay
after it was struck, whatever the model and the network took.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from timbrecast.clients import _cli
from timbrecast.clients.scaling import DEFAULT_FLOOR_DB, loudness, ordered
from timbrecast.clients.subscriber import Item, Onset, Timbre
from timbrecast.daemon.protocol import DESCRIPTORS

PROG = "timbrecast-osc"
DEFAULT_TARGET = "127.0.0.1:57120"
WEKINATOR_TARGET = "127.0.0.1:6448"
WEKINATOR_ADDRESS = "/wek/inputs"
PREFIX = "/timbrecast"
SCALES = {"0-1": 1.0, "0-100": 100.0}

OscMessage = tuple[str, list[float]]
#: Sends one event's messages as a bundle time-tagged at a Unix time (s).
BundleSend = Callable[[list[OscMessage], float], None]

DESCRIPTION = """\
Forward timbrecast hits as OSC messages over UDP:
  /timbrecast/<source>/onset        velocity
  /timbrecast/<source>/timbre       hardness depth brightness roughness warmth sharpness boominess
  /timbrecast/<source>/<descriptor> value    (one address per descriptor)
with --provisional, before those, the early estimate of the same hit:
  /timbrecast/<source>/provisional              the seven values
  /timbrecast/<source>/provisional/<descriptor> value
with --wekinator, only (to 127.0.0.1:6448 unless --to says otherwise):
  /wek/inputs  hardness depth brightness roughness warmth sharpness boominess velocity
Values are in the --scale range; velocity is the peak level, linear in dB from
--floor-db to 0 dBFS. Characters other than letters, digits, '_', '-' and '.'
in a source name become '_' in the address.
"""

EPILOG = f"""\
examples:
  timbrecast-osc                                 to SuperCollider (sclang, port 57120)
  timbrecast-osc --to 127.0.0.1:9000 --scale 0-100 --source snare
  timbrecast-osc --connect tcp://pi.local:5556 --provisional
  timbrecast-osc --wekinator                     to Wekinator's default input port
  timbrecast-osc --bundle 40                     each hit scheduled 40 ms after its attack

{_cli.STATUSES}
"""


@dataclass(frozen=True)
class OscSettings:
    """How events become OSC: the value range, the velocity floor, provisional or not,
    the address prefix, and Wekinator's layout instead of ours."""

    scale: float = 1.0
    floor_db: float = DEFAULT_FLOOR_DB
    provisional: bool = False
    prefix: str = PREFIX
    wekinator: bool = False


def address_part(source: str) -> str:
    """A source name made safe for an OSC address (no spaces, '/', or pattern characters)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", source)


def messages(item: Item, settings: OscSettings) -> list[OscMessage]:
    """The OSC messages for one item, in sending order (none for status and notices)."""
    if isinstance(item, Onset) and not settings.wekinator:
        base = f"{settings.prefix}/{address_part(item.source)}"
        return [(f"{base}/onset", [loudness(item.peak_dbfs, settings.floor_db) * settings.scale])]
    if isinstance(item, Timbre) and (settings.provisional or not item.provisional):
        base = f"{settings.prefix}/{address_part(item.source)}"
        values = [v / 100.0 * settings.scale for v in ordered(item.descriptors)]
        if settings.wekinator:
            velocity = loudness(item.peak_dbfs, settings.floor_db) * settings.scale
            return [(WEKINATOR_ADDRESS, [*values, velocity])]
        whole, each = (f"{base}/provisional",) * 2 if item.provisional else (f"{base}/timbre", base)
        return [(whole, values)] + [
            (f"{each}/{name}", [value]) for name, value in zip(DESCRIPTORS, values, strict=True)
        ]
    return []


class OscBridge:
    """Calls ``send(address, args)`` for each item's messages (python-osc's ``send_message``).

    A message the network refuses (a full send buffer, an unreachable host) is
    dropped and counted, never retried: a late hit is worse than a lost one.
    """

    def __init__(
        self,
        send: Callable[[str, list[float]], None],
        settings: OscSettings,
        bundle: tuple[BundleSend, float] | None = None,
    ) -> None:
        self._send = send
        self.settings = settings
        #: (send a bundle, delay in s after the attack), or None for plain messages.
        self._bundle = bundle
        self.dropped = 0

    def __call__(self, item: Item) -> None:
        if _cli.is_notice(item):
            print(f"{PROG}: {_cli.notice(item)}", file=sys.stderr)
            return
        sent = messages(item, self.settings)
        if sent and self._bundle is not None:
            send_bundle, delay_s = self._bundle
            try:
                send_bundle(sent, item.unix_ns / 1e9 + delay_s)
            except OSError as exc:
                self.dropped = dropped(PROG, self.dropped, len(sent), exc)
            return
        for address, args in sent:
            try:
                self._send(address, args)
            except OSError as exc:
                self.dropped = dropped(PROG, self.dropped, 1, exc)


def dropped(prog: str, total: int, count: int, exc: OSError) -> int:
    """``total`` plus ``count`` messages the network refused, said on standard error
    at 1, 10, 100... dropped in all: seen, not flooding."""
    for _ in range(count):
        total += 1
        if math.log10(total).is_integer():
            print(f"{prog}: {total} messages dropped ({exc})", file=sys.stderr)
    return total


def bundled(send: Callable[[Any], None]) -> BundleSend:
    """A ``BundleSend`` over python-osc's ``send`` of a built bundle."""
    from pythonosc.osc_bundle_builder import OscBundleBuilder
    from pythonosc.osc_message_builder import OscMessageBuilder

    def send_bundle(sent: list[OscMessage], at_s: float) -> None:
        builder = OscBundleBuilder(at_s)
        for address, args in sent:
            message = OscMessageBuilder(address)
            for value in args:
                message.add_arg(value)
            builder.add_content(message.build())
        send(builder.build())

    return send_bundle


def check_prefix(prefix: str) -> None:
    """``BadConfig`` unless ``prefix`` is an OSC address part like ``/timbrecast``."""
    if not re.fullmatch(r"(/[A-Za-z0-9_.\-]+)+", prefix):
        raise _cli.BadConfig(f"--prefix {prefix!r} is not an OSC address like /timbrecast")


def parse_target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _cli.BadConfig(f"--to {text!r} is not HOST:PORT")
    return host, int(port)


def build_parser() -> _cli.Parser:
    parser = _cli.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "--to",
        metavar="HOST:PORT",
        help=f"default {DEFAULT_TARGET} ({WEKINATOR_TARGET} with --wekinator)",
    )
    parser.add_argument(
        "--scale", choices=sorted(SCALES), default="0-1", help="value range (default 0-1)"
    )
    parser.add_argument(
        "--floor-db",
        type=float,
        metavar="DBFS",
        default=DEFAULT_FLOOR_DB,
        help=f"peak level of velocity 0 (default {DEFAULT_FLOOR_DB:g} dBFS)",
    )
    parser.add_argument(
        "--provisional",
        action="store_true",
        help="also send early timbre estimates (the final one for the hit follows)",
    )
    layout = parser.add_argument_group("layout")
    layout.add_argument(
        "--prefix", default=PREFIX, help=f"address prefix of every message (default {PREFIX})"
    )
    layout.add_argument(
        "--wekinator",
        action="store_true",
        help=f"Wekinator's layout: {WEKINATOR_ADDRESS} with the seven values and the velocity",
    )
    layout.add_argument(
        "--bundle",
        type=float,
        metavar="MS",
        help="send each event as a bundle time-tagged MS after the hit's attack (the daemon's "
        "clock; synchronise it with NTP when the daemon runs elsewhere)",
    )
    _cli.add_subscriber_args(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: forward(args))


def udp_client(target: str) -> Any:
    """python-osc's UDP client for ``HOST:PORT``, or the reason it cannot be one."""
    _cli.require("pythonosc", "python-osc")
    from pythonosc.udp_client import SimpleUDPClient

    host, port = parse_target(target)
    try:
        return SimpleUDPClient(host, port)
    except OSError as exc:
        raise _cli.BadConfig(f"cannot send to {target}: {exc}") from exc


def forward(args: argparse.Namespace) -> int:
    """Send until stopped (SIGINT, SIGTERM) or ``--count`` events came."""
    if not args.floor_db < 0:
        raise _cli.BadConfig(f"--floor-db {args.floor_db:g} is not below 0 dBFS")
    check_prefix(args.prefix)
    if args.bundle is not None and not 0 <= args.bundle <= 10_000:
        raise _cli.BadConfig(f"--bundle {args.bundle:g} is not 0-10000 ms")
    client = udp_client(args.to or (WEKINATOR_TARGET if args.wekinator else DEFAULT_TARGET))
    settings = OscSettings(
        SCALES[args.scale], args.floor_db, args.provisional, args.prefix, args.wekinator
    )
    bundle = None if args.bundle is None else (bundled(client.send), args.bundle / 1000.0)
    bridge = OscBridge(client.send_message, settings, bundle)
    with _cli.open_subscriber(args, kinds=["onset", "timbre"]) as subscriber:
        subscriber.run(bridge, stop=_cli.stop_on_signals(), count=args.count)
    return _cli.OK


if __name__ == "__main__":
    sys.exit(main())
