"""``trainer onsets train``: the learned onset detector, from grooves with exact onsets."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.trainer import quiet
from timbrecast.trainer.commands.common import add_drum_machines, drum_machines


def cmd_train(args: argparse.Namespace) -> int:
    """Render grooves of the training kits, train, export with int8 weights and the contract."""
    from timbrecast.trainer.onsets import OnsetTraining, train

    settings = OnsetTraining(
        grooves=args.grooves,
        validation_grooves=args.validation_grooves,
        epochs=args.epochs,
        seed=args.seed,
        members=args.members,
        inaudible_db=args.inaudible_db,
        weak_weight=args.weak_weight,
    )
    with quiet.tensorflow_output(args.verbose, stdout=False):
        metrics = train(settings, drum_machines(args), args.out)
    epochs = ", ".join(map(str, metrics["best_epoch"]))
    losses = ", ".join(map(str, metrics["validation_loss"]))
    print(
        f"wrote {args.out} ({args.out.stat().st_size / 1024:.0f} KiB, int8 weights, "
        f"{settings.members} network(s) averaged): best epoch {epochs}, validation loss "
        f"{losses}, against float {metrics['export_vs_float_mae']} mean activation difference",
        file=sys.stderr,
    )
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    onsets = commands.add_parser(
        "onsets",
        help="train the learned onset detector",
        description="The daemon's default onset detector is a small network over spectral "
        "frames. It trains on grooves rendered from the training kits (trainer/data/split.json "
        "holds the validation and test kits out) with exact onsets, in noise, rooms, levels, "
        "EQ and compression; no labels or corpus needed.",
    )
    steps = onsets.add_subparsers(dest="step", metavar="STEP", required=True)
    train = steps.add_parser(
        "train",
        help="render grooves, train, export TFLite (int8 weights)",
        description="Render grooves of the training kits, train the activation network, and "
        "export it as TFLite with int8 weights and its contract (what the daemon checks "
        "before using it). Ship it by writing daemon/models/onsets-int8.tflite; score it with "
        "`python bench/onsets.py --kits test`.",
        epilog="examples:\n  trainer onsets train --out runs/onsets/onsets-int8.tflite\n"
        "  trainer onsets train --grooves 8 --validation-grooves 2 --epochs 1 --out /tmp/o.tflite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("--out", type=Path, required=True, help="the .tflite to write")
    train.add_argument("--grooves", type=int, default=1600, help="training grooves (default 1600)")
    train.add_argument(
        "--validation-grooves", type=int, default=40, help="validation grooves (default 40)"
    )
    train.add_argument("--epochs", type=int, default=20, help="default 20; the best one is kept")
    train.add_argument(
        "--seed", type=int, default=0, help="the first network's; the next ones take the next"
    )
    train.add_argument(
        "--members",
        type=int,
        default=3,
        choices=range(1, 9),
        metavar="N",
        help="networks (1-8) to train, each on its own grooves, shipped averaged as one "
        "model (default 3: better than one or two on the validation kits, the detector "
        "about 10 %% dearer than with two: docs/benchmarks.md; 1 takes a third of the "
        "training time)",
    )
    train.add_argument(
        "--inaudible-db",
        type=float,
        metavar="DB",
        help="leave out of the loss the targets of notes whose local SNR (each note's own "
        "sound against all else around its attack, trainer/audibility.py) is below DB "
        "(default: none left out)",
    )
    train.add_argument(
        "--weak-weight",
        type=float,
        default=1.0,
        metavar="W",
        help="count the targets of notes below 10 dB local SNR (and not left out) W times "
        "(default 1; 2.5 with --inaudible-db 0 finds more soft notes in rooms, for some F: "
        "docs/benchmarks.md)",
    )
    add_drum_machines(train)
    train.set_defaults(func=cmd_train)
