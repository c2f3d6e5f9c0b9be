"""How far a label of a one-shot is from what the teacher says of the file.

A user wants what the teacher says of the file as it is. This labels each file
as it is, after each step that turns it into the model input (peak
normalisation, resampling to 16 kHz, keeping the first second, the cut: what
the corpus labelled before ``heard``), and as the teacher's view that the
corpus labels now (``timbrecast.trainer.heard``), and prints each step's MAE on
the normalised scale, per descriptor. By default the files are a sample of the
held-out drum machines' one-shots.

    python bench/label_gap.py --files 100     # about 5 minutes on 2 cores
"""

from __future__ import annotations

import argparse
import random
from dataclasses import astuple
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from oneshots import COLLECTION, held_out_machines, normalised  # bench/: this folder

from timbrecast.daemon import audiofile
from timbrecast.daemon import preprocess as pp
from timbrecast.daemon.contract import DESCRIPTORS, INPUT_LENGTH, SAMPLE_RATE
from timbrecast.trainer.heard import heard

#: Each step's audio, from the file as it is to the model input.
STEPS = (
    "file",
    "peak-normalised",
    "at 16 kHz",
    "its first second",
    "the model input",
    "the teacher's view",
)
ROWS = (
    ("peak-normalising the file (level)", 0, 1),
    ("resampling it to 16 kHz (rate)", 1, 2),
    ("keeping its first second (length)", 2, 3),
    ("the attack 5 ms in, zero-padded (cut)", 3, 4),
    ("all: the file against the model input", 0, 4),
    ("the file against the teacher's view (what the corpus labels)", 0, 5),
)


def peak(audio: np.ndarray) -> np.ndarray:
    return audio * (pp.PEAK / np.abs(audio).max())


def steps(path: Path) -> list[np.ndarray | None]:
    """The teacher's labels of one file at each of ``STEPS``."""
    audio = audiofile.read(path)
    mono = pp.to_mono(audio.frames)
    at_16k = pp.resample(mono, audio.sample_rate)
    return [
        normalised(mono, audio.sample_rate),
        normalised(peak(mono), audio.sample_rate),
        normalised(peak(at_16k), SAMPLE_RATE),
        normalised(peak(at_16k[:INPUT_LENGTH]), SAMPLE_RATE),
        normalised(pp.prepare(audio.frames, audio.sample_rate), SAMPLE_RATE),
        normalised(*astuple(heard(audio.frames, audio.sample_rate))),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="one-shot files or folders")
    parser.add_argument("--machines", type=Path, default=COLLECTION)
    parser.add_argument("--files", type=int, default=100, help="a random sample of this many")
    parser.add_argument("--jobs", type=int, default=2, help="processes running the teacher")
    args = parser.parse_args()
    files = audiofile.expand(args.paths).files if args.paths else held_out_machines(args.machines)
    random.Random(0).shuffle(files)
    with Pool(args.jobs) as pool:
        results = [r for r in pool.map(steps, files[: args.files]) if all(x is not None for x in r)]
    labels = np.array(results)
    print(f"{len(results)} one-shots the teacher labelled at every step\n")
    print("| step | MAE | " + " | ".join(DESCRIPTORS) + " |")
    print("|---" * (len(DESCRIPTORS) + 2) + "|")
    for name, before, after in ROWS:
        error = np.abs(labels[:, after] - labels[:, before]).mean(axis=0)
        cells = " | ".join(f"{e:.3f}" for e in error)
        print(f"| {name} | **{error.mean():.4f}** | {cells} |")


if __name__ == "__main__":
    main()
