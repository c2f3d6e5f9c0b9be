"""The timbre model as a user tags one-shots: its estimate against the teacher on each file.

A sample-library builder points ``timbrecastd analyze --oneshot`` at files it never
saw; what counts is how close the estimate comes to what the teacher says of each
file as it is (its own rate, its whole length), not of the model's prepared clip.
By default the files are the one-shots of the drum machines held out for testing
(``trainer/data/split.json``), which no model trains on. Prints MAE (normalised
scale) and Pearson r per descriptor for the shipped model and, side by side, a
reference model of the same contract (say, the previous release; an early model
reads the first milliseconds its contract names:
``git show HEAD~1:daemon/models/seven-filters-int8.tflite > previous.tflite``).

    python bench/oneshots.py --reference previous.tflite
"""

from __future__ import annotations

import argparse
import json
import sys
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from timbrecast.daemon import audiofile, bundled, exitcodes
from timbrecast.daemon.contract import DESCRIPTORS, LABEL_SCALE
from timbrecast.daemon.inference import Model
from timbrecast.daemon.preprocess import early, prepare, to_mono
from timbrecast.trainer.split import MACHINES, SPLIT_FILE
from timbrecast.trainer.teacher import TeacherError, label

REPO = Path(__file__).resolve().parents[1]
#: The drum-machine collection beside a checkout.
COLLECTION = REPO.parent / "shared" / "data" / "drum-machines"


def normalised(audio: np.ndarray, rate: int) -> np.ndarray | None:
    """The teacher's labels of mono ``audio`` on the trainer's scale; None without one."""
    try:
        return LABEL_SCALE.normalise(np.array(label(audio, rate).as_tuple()))
    except TeacherError:
        return None


def teacher(path: Path) -> np.ndarray | None:
    """The teacher on the file as it is."""
    audio = audiofile.read(path)
    return normalised(to_mono(audio.frames), audio.sample_rate)


def held_out_machines(root: Path) -> list[Path]:
    names = [k.removeprefix(MACHINES) for k in json.loads(SPLIT_FILE.read_text())["test"]]
    return sorted(p for name in names for p in (root / name).glob("*/*.flac"))


def row(name: str, predicted: np.ndarray, truth: np.ndarray) -> str:
    error = np.abs(predicted - truth).mean(axis=0)
    r = [np.corrcoef(predicted[:, i], truth[:, i])[0, 1] for i in range(len(DESCRIPTORS))]
    cells = " | ".join(f"{e:.4f} ({c:.2f})" for e, c in zip(error, r, strict=True))
    return f"| {name} | **{error.mean():.4f}** | {cells} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("paths", nargs="*", type=Path, help="one-shot files or folders")
    parser.add_argument("--machines", type=Path, default=COLLECTION)
    parser.add_argument("--model", type=Path, help="default: the shipped one")
    parser.add_argument(
        "--reference",
        type=Path,
        action="append",
        default=[],
        help="another model of this contract (repeatable)",
    )
    parser.add_argument("--limit", type=int, help="the first N files only")
    parser.add_argument("--jobs", type=int, default=2, help="processes running the teacher")
    args = parser.parse_args()
    files = audiofile.expand(args.paths).files if args.paths else held_out_machines(args.machines)
    files = files[: args.limit]
    if not files:
        print(f"no one-shots in {args.paths or args.machines} (--machines DIR)", file=sys.stderr)
        sys.exit(exitcodes.NO_INPUT)
    with Pool(args.jobs) as pool:
        truths = pool.map(teacher, files)
    kept = [(f, t) for f, t in zip(files, truths, strict=True) if t is not None]
    truth = np.array([t for _, t in kept])
    clips = np.stack(
        [prepare(a.frames, a.sample_rate) for a in (audiofile.read(f) for f, _ in kept)]
    )
    print(f"{len(kept)} one-shots ({len(files) - len(kept)} the teacher gave no label)\n")
    print("| model | MAE | " + " | ".join(f"{d} MAE (r)" for d in DESCRIPTORS) + " |")
    print("|---" * (len(DESCRIPTORS) + 2) + "|")
    for path in (args.model or bundled.model(), *args.reference):
        model = Model(path)
        ms = model.contract.early_ms
        heard = clips if ms is None else early(clips, ms)
        print(row(model.model_id, LABEL_SCALE.normalise(model.predict(heard)), truth))
    spread = np.abs(truth - np.median(truth, axis=0)).mean(axis=0)
    cells = " | ".join(f"{e:.4f}" for e in spread)
    print(f"| the teacher's median (baseline) | {spread.mean():.4f} | {cells} |")


if __name__ == "__main__":
    main()
