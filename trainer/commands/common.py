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


#: Where ``trainer train`` puts its run folders; ``runs/latest`` is what export takes.
RUNS = Path("runs")

SCHEDULER_HELP = (
    "run the teacher on the Dask cluster whose scheduler is at ADDRESS "
    "(tcp://host:8786) instead of --jobs local processes; its workers need "
    "timbrecast[train] installed, this machine timbrecast[cluster]. Labels are cached "
    "here as they arrive, so a stopped run resumes"
)
