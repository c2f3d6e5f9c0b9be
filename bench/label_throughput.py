"""Teacher labelling throughput: seconds per clip on one core, and the speed-up on all.

Labels the teacher-parity clips (40 real and synthetic one-shots) with a fresh
cache, once with one worker (the reference run) and once with every core, and
prints both side by side with their ratio.

    python bench/label_throughput.py [--clips DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_CLIPS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "teacher-parity"


def run(clips: Path, jobs: int) -> float:
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "timbrecast.trainer.cli",
                "label",
                str(clips),
                "--out",
                f"{scratch}/labels.csv",
                "--cache",
                f"{scratch}/cache.sqlite",
                "--jobs",
                str(jobs),
                "--quiet",
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=Path, default=DEFAULT_CLIPS)
    args = parser.parse_args()
    count = sum(1 for p in args.clips.iterdir() if p.suffix == ".wav")
    cores = os.cpu_count() or 1
    one = run(args.clips, 1)
    every = run(args.clips, cores)
    print(f"{count} clips, wall time including worker start-up")
    print(f"{'workers':>8} {'total s':>8} {'s/clip':>8} {'clips/s':>8} {'speed-up':>9}")
    for jobs, seconds in ((1, one), (cores, every)):
        print(
            f"{jobs:>8} {seconds:8.1f} {seconds / count:8.3f} {count / seconds:8.2f} "
            f"{one / seconds:8.2f}x"
        )


if __name__ == "__main__":
    main()
