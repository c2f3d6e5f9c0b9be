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
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass

from timbrecast.clients import _cli
from timbrecast.clients.scaling import DEFAULT_FLOOR_DB, loudness, ordered
from timbrecast.clients.subscriber import Item, Onset, Timbre
from timbrecast.daemon.protocol import DESCRIPTORS

PROG = "timbrecast-osc"
DEFAULT_TARGET = "127.0.0.1:57120"
PREFIX = "/timbrecast"
SCALES = {"0-1": 1.0, "0-100": 100.0}

OscMessage = tuple[str, list[float]]

DESCRIPTION = """\
Forward timbrecast hits as OSC messages over UDP:
  /timbrecast/<source>/onset        velocity
  /timbrecast/<source>/timbre       hardness depth brightness roughness warmth sharpness boominess
  /timbrecast/<source>/<descriptor> value    (one address per descriptor)
with --provisional, before those, the early estimate of the same hit:
  /timbrecast/<source>/provisional              the seven values
  /timbrecast/<source>/provisional/<descriptor> value
Values are in the --scale range; velocity is the peak level, linear in dB from
--floor-db to 0 dBFS. Characters other than letters, digits, '_', '-' and '.'
in a source name become '_' in the address.
"""

EPILOG = f"""\
examples:
  timbrecast-osc                                 to SuperCollider (sclang, port 57120)
  timbrecast-osc --to 127.0.0.1:9000 --scale 0-100 --source snare
  timbrecast-osc --connect tcp://pi.local:5556 --provisional

{_cli.STATUSES}
"""


@dataclass(frozen=True)
class OscSettings:
    """How events become OSC: the value range, the velocity floor, provisional or not."""

    scale: float = 1.0
    floor_db: float = DEFAULT_FLOOR_DB
    provisional: bool = False


def address_part(source: str) -> str:
    """A source name made safe for an OSC address (no spaces, '/', or pattern characters)."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", source)


def messages(item: Item, settings: OscSettings) -> list[OscMessage]:
    """The OSC messages for one item, in sending order (none for status and notices)."""
    if isinstance(item, Onset):
        base = f"{PREFIX}/{address_part(item.source)}"
        return [(f"{base}/onset", [loudness(item.peak_dbfs, settings.floor_db) * settings.scale])]
    if isinstance(item, Timbre) and (settings.provisional or not item.provisional):
        base = f"{PREFIX}/{address_part(item.source)}"
        values = [v / 100.0 * settings.scale for v in ordered(item.descriptors)]
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

    def __init__(self, send: Callable[[str, list[float]], None], settings: OscSettings) -> None:
        self._send = send
        self.settings = settings
        self.dropped = 0

    def __call__(self, item: Item) -> None:
        if _cli.is_notice(item):
            print(f"{PROG}: {_cli.notice(item)}", file=sys.stderr)
        for address, args in messages(item, self.settings):
            try:
                self._send(address, args)
            except OSError as exc:
                self.dropped += 1
                if math.log10(self.dropped).is_integer():  # 1, 10, 100...: seen, not flooding
                    print(f"{PROG}: {self.dropped} messages dropped ({exc})", file=sys.stderr)


def parse_target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _cli.BadConfig(f"--to {text!r} is not HOST:PORT")
    return host, int(port)


def build_parser() -> _cli.Parser:
    parser = _cli.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument(
        "--to", default=DEFAULT_TARGET, metavar="HOST:PORT", help=f"default {DEFAULT_TARGET}"
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
    _cli.add_subscriber_args(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: forward(args))


def forward(args: argparse.Namespace) -> int:
    """Send until stopped (SIGINT, SIGTERM) or ``--count`` events came."""
    _cli.require("pythonosc", "python-osc")
    from pythonosc.udp_client import SimpleUDPClient

    host, port = parse_target(args.to)
    if not args.floor_db < 0:
        raise _cli.BadConfig(f"--floor-db {args.floor_db:g} is not below 0 dBFS")
    try:
        client = SimpleUDPClient(host, port)
    except OSError as exc:
        raise _cli.BadConfig(f"cannot send to {args.to}: {exc}") from exc
    bridge = OscBridge(
        client.send_message, OscSettings(SCALES[args.scale], args.floor_db, args.provisional)
    )
    with _cli.open_subscriber(args, kinds=["onset", "timbre"]) as subscriber:
        subscriber.run(bridge, stop=_cli.stop_on_signals(), count=args.count)
    return _cli.OK


if __name__ == "__main__":
    sys.exit(main())
