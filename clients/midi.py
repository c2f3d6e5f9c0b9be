"""``timbrecast-midi``: hits as MIDI notes and control changes, to a port or a file.

Each onset is a note-on (one note per source) with the velocity taken from the
hit's peak level, and a note-off ``--gate-ms`` later, so a DAW records notes
with a length and nothing hangs. Each final timbre is seven control changes,
one per descriptor. Out to a named port, a virtual port a DAW can connect to
(mido with python-rtmidi), or a Standard MIDI File (``--record``).

Sending never waits for the hit after it: note-offs are kept in a heap and sent
when due, between receives.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timbrecast.clients import _cli
from timbrecast.clients.midibridge import (
    DEFAULT_CCS,
    DEFAULT_CHANNEL,
    DEFAULT_GATE_MS,
    DEFAULT_NOTE,
    PROG,
    FileRecorder,
    MidiBridge,
    MidiSettings,
    Output,
    PortOutput,
)
from timbrecast.clients.scaling import DEFAULT_FLOOR_DB
from timbrecast.daemon.protocol import DESCRIPTORS

DEFAULT_VIRTUAL = "timbrecast"

DESCRIPTION = f"""\
Send timbrecast hits as MIDI: a note-on per onset (velocity 1-127 from the
peak level, linear in dB: --floor-db gives 1, 0 dBFS gives 127) and a note-off
--gate-ms later; seven control changes per timbre, value = descriptor * 127 / 100,
in the order {", ".join(DESCRIPTORS)}.
Output goes to a virtual port named "{DEFAULT_VIRTUAL}" unless --port or --record says otherwise.
"""

EPILOG = f"""\
examples:
  timbrecast-midi                                     virtual port "timbrecast" for a DAW
  timbrecast-midi --port "USB MIDI Interface" --note snare=38 --note kick=36
  timbrecast-midi --record take1.mid --count 200 --cc 70,71,74,75,76,77,78
  timbrecast-midi --list-ports

{_cli.STATUSES}
"""


def parse_notes(pairs: list[str] | None) -> dict[str, int]:
    notes: dict[str, int] = {}
    for pair in pairs or []:
        source, sep, note = pair.partition("=")
        if not sep or not source or not note.isdigit():
            raise _cli.BadConfig(f"--note {pair!r} is not SOURCE=NOTE")
        notes[source] = int(note)
    return notes


def parse_ccs(text: str) -> tuple[int, ...]:
    parts = text.split(",")
    if not all(p.strip().isdigit() for p in parts):
        raise _cli.BadConfig(f"--cc {text!r} is not comma-separated numbers")
    return tuple(int(p) for p in parts)


def build_parser() -> _cli.Parser:
    parser = _cli.Parser(prog=PROG, description=DESCRIPTION, epilog=EPILOG)
    out = parser.add_argument_group("output (one of)").add_mutually_exclusive_group()
    out.add_argument("--port", metavar="NAME", help="an existing output port (see --list-ports)")
    out.add_argument(
        "--virtual",
        metavar="NAME",
        help=f'create a port other programs connect to (default: "{DEFAULT_VIRTUAL}")',
    )
    out.add_argument("--record", type=Path, metavar="FILE", help="write a .mid file on exit")
    out.add_argument("--list-ports", action="store_true", help="print the output ports and exit")
    mapping = parser.add_argument_group("mapping")
    mapping.add_argument(
        "--channel",
        type=int,
        default=DEFAULT_CHANNEL,
        metavar="1-16",
        help=f"MIDI channel (default {DEFAULT_CHANNEL}, General MIDI drums)",
    )
    mapping.add_argument(
        "--note",
        action="append",
        metavar="SOURCE=NOTE",
        help="a source's note number; repeat for several",
    )
    mapping.add_argument(
        "--default-note",
        type=int,
        metavar="NOTE",
        default=DEFAULT_NOTE,
        help=f"note of sources without --note (default {DEFAULT_NOTE})",
    )
    mapping.add_argument(
        "--cc",
        default=",".join(map(str, DEFAULT_CCS)),
        metavar="N,N,N,N,N,N,N",
        help=f"controller numbers in descriptor order (default {','.join(map(str, DEFAULT_CCS))})",
    )
    mapping.add_argument(
        "--floor-db",
        type=float,
        metavar="DBFS",
        default=DEFAULT_FLOOR_DB,
        help=f"peak level of velocity 1 (default {DEFAULT_FLOOR_DB:g} dBFS)",
    )
    mapping.add_argument(
        "--gate-ms",
        type=float,
        metavar="MS",
        default=DEFAULT_GATE_MS,
        help=f"note length (default {DEFAULT_GATE_MS:g})",
    )
    mapping.add_argument(
        "--provisional",
        action="store_true",
        help="also send early timbre estimates (the final one for the hit follows)",
    )
    _cli.add_subscriber_args(parser)
    return parser


def open_output(args: argparse.Namespace) -> Output:
    """The port or file the arguments name; ``Unavailable`` when there is no MIDI system."""
    _cli.require("mido", "mido")
    if args.record is not None:
        if not args.record.parent.is_dir():
            raise _cli.BadConfig(f"--record: no folder {args.record.parent}")
        return FileRecorder(args.record)
    _cli.require("rtmidi", "python-rtmidi")
    import mido

    try:
        names = mido.get_output_names()
        if args.port is None:
            return PortOutput(mido.open_output(args.virtual or DEFAULT_VIRTUAL, virtual=True))
    except OSError as exc:
        raise _cli.Unavailable(f"no MIDI system: {exc}") from exc
    if args.port not in names:
        raise _cli.BadConfig(f"no output port {args.port!r}; there are: {names or 'none'}")
    return PortOutput(mido.open_output(args.port))


def list_ports() -> int:
    _cli.require("rtmidi", "python-rtmidi")
    import mido

    try:
        names = mido.get_output_names()
    except OSError as exc:
        raise _cli.Unavailable(f"no MIDI system: {exc}") from exc
    print("\n".join(names) if names else "no output ports")
    return _cli.OK


def bridge(args: argparse.Namespace) -> int:
    """Forward until stopped (SIGINT, SIGTERM), ``--count`` events came or the stream
    ended; then close the output (``--record`` writes its file then)."""
    if args.list_ports:
        return list_ports()
    try:
        settings = MidiSettings(
            channel=args.channel,
            notes=parse_notes(args.note),
            default_note=args.default_note,
            ccs=parse_ccs(args.cc),
            floor_db=args.floor_db,
            gate_s=args.gate_ms / 1000,
            provisional=args.provisional,
        )
    except ValueError as exc:
        raise _cli.BadConfig(str(exc)) from exc
    stop = _cli.stop_on_signals()
    with _cli.open_subscriber(args, kinds=["onset", "timbre"]) as subscriber:
        output = open_output(args)
        forward = MidiBridge(output, settings)
        try:
            while _cli.going(subscriber, stop, args.count):
                due = output.flush()
                item = subscriber.recv(0.1 if due is None else min(due, 0.1))
                if item is not None:
                    forward(item)
        finally:
            output.close()
    return _cli.OK


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return _cli.run(PROG, lambda: bridge(args))


if __name__ == "__main__":
    sys.exit(main())
