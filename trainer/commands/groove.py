"""``trainer groove``: a synthetic groove with its ground-truth onsets."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from timbrecast.daemon import exitcodes


def cmd_groove(args: argparse.Namespace) -> int:
    """Render a synthetic groove and the list of its onsets (a CSV beside it)."""
    import numpy as np
    import soundfile

    from timbrecast.trainer.synth import groove

    audio, notes = groove(args.seed, bars=args.bars, bpm=args.bpm, sample_rate=args.rate)
    lead = round(args.lead_in * args.rate)
    audio = np.concatenate([np.zeros(lead, dtype=audio.dtype), audio])
    notes = [(t + lead / args.rate, kind) for t, kind in notes]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(args.out, audio, args.rate, subtype="PCM_16")
    onsets = args.out.with_suffix(".onsets.csv")
    with onsets.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["onset_s", "kind"])
        writer.writerows((f"{t:.6f}", kind) for t, kind in notes)
    print(
        f"wrote {args.out} ({audio.size / args.rate:.1f} s, {len(notes)} notes) and {onsets}",
        file=sys.stderr,
    )
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
