"""What several trainer commands share: where the corpus and the runs live, and
the error for options that cannot go together."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


class Misused(ValueError):
    """Options that cannot go together; the message says what to do instead."""


def default_store() -> Path:
    from timbrecast.trainer.labelcache import default_path

    return default_path().parent / "corpus"


def add_jobs(parser: argparse.ArgumentParser, work: str) -> None:
    """``--jobs``: how many local processes do ``work`` (default: every core)."""
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help=f"processes that {work} (default: all cores)",
    )


#: Where the drum-machine collection sits, from a checkout with ``../shared`` beside it.
DRUM_MACHINES = Path("../shared/data/drum-machines")


def add_drum_machines(parser: argparse.ArgumentParser) -> None:
    """``--drum-machines``: the collection's folder. Not given, the command looks
    for it where a checkout has it and goes on without it (counted); named, it
    must be there."""
    parser.add_argument(
        "--drum-machines",
        type=Path,
        metavar="DIR",
        help="the drum-machine collection (default: "
        f"{DRUM_MACHINES} from the current directory, used if it is there)",
    )


def drum_machines(args: argparse.Namespace) -> Path:
    """The collection ``--drum-machines`` names (it must exist), or the default."""
    from timbrecast.daemon.audiofile import InputMissing

    if args.drum_machines is None:
        return DRUM_MACHINES
    if not args.drum_machines.is_dir():
        raise InputMissing(f"{args.drum_machines}: no such directory (--drum-machines)")
    return args.drum_machines


#: Where ``trainer train`` puts its run folders; ``runs/latest`` is what export takes.
RUNS = Path("runs")

SCHEDULER_HELP = (
    "run the teacher on the Dask cluster whose scheduler is at ADDRESS "
    "(tcp://host:8786) instead of --jobs local processes; its workers need "
    "timbrecast[train] installed, this machine timbrecast[cluster]. Labels are cached "
    "here as they arrive, so a stopped run resumes"
)
