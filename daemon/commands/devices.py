"""``timbrecastd devices``: the capture devices, as ``--device`` takes them."""

from __future__ import annotations

import argparse

from timbrecast.daemon import exitcodes
from timbrecast.daemon.live import devices


def cmd_devices(_: argparse.Namespace) -> int:
    """Input devices, as ``--device`` takes them."""
    for device in devices():
        print(f"{device.index:3d}  {device.name}  ({device.channels} in, {device.default_rate} Hz)")
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    listing = commands.add_parser(
        "devices",
        help="list audio input devices (needs the live extra)",
        epilog="example: timbrecastd devices; then timbrecastd run --device 'USB Audio'",
    )
    listing.set_defaults(func=cmd_devices)
