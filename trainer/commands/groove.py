"""``trainer groove``: a synthetic groove with its ground-truth onsets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timbrecast.daemon import exitcodes


def cmd_groove(args: argparse.Namespace) -> int:
    """Render a synthetic groove and the list of its onsets (a CSV beside it)."""
    from timbrecast.trainer.synth import write_groove

    seconds, notes, onsets = write_groove(
        args.out, args.seed, args.bars, args.bpm, args.rate, args.lead_in
    )
    print(f"wrote {args.out} ({seconds:.1f} s, {len(notes)} notes) and {onsets}", file=sys.stderr)
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    groove = commands.add_parser(
        "groove",
        help="render a synthetic drum groove with its onset times",
        description="A few bars from one random synthetic kit, humanised, with ghost notes "
        "and flams; the onset times go to a CSV beside the audio. Used for the bundled demo "
        "recording and as a test signal.",
        epilog="example: trainer groove --seed 7 --out groove.flac",
    )
    groove.add_argument("--out", type=Path, required=True, help="audio file to write")
    groove.add_argument("--seed", type=int, default=0)
    groove.add_argument("--bars", type=int, default=4)
    groove.add_argument("--bpm", type=float, default=100.0)
    groove.add_argument("--rate", type=int, default=44100)
    groove.add_argument(
        "--lead-in", type=float, default=0.0, help="seconds of silence before the first bar"
    )
    groove.set_defaults(func=cmd_groove)
