"""``trainer train``: one architecture on the built corpus, into a run folder."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.trainer import quiet
from timbrecast.trainer.commands.common import RUNS, Misused, default_store


def cmd_train(args: argparse.Namespace) -> int:
    """Train one architecture; the run directory gets the model, log, plot, summary."""
    from timbrecast.trainer import corpus
    from timbrecast.trainer.architectures import DEFAULT
    from timbrecast.trainer.dataset import load_split
    from timbrecast.trainer.train import TrainSettings, mark_latest, run_folder, train

    if args.early_ms and args.arch:
        raise Misused("--arch does not apply with --early-ms: the early-estimate net is its own")
    parts = load_split(args.store)
    pending = sum(e.pending for e in corpus.load(args.store)[0])
    if pending:
        print(
            f"{pending} clips of the corpus await labels (a build stopped by --stop-after) "
            "and are left out: run `trainer dataset build` again to label them",
            file=sys.stderr,
        )
    without = tuple(args.without.split(",")) if args.without else ()
    made_by = None
    if args.pseudo:
        from timbrecast.trainer import distill

        if "augmented" in without:
            raise Misused(
                "--without augmented would drop the --pseudo copies: use one or the other"
            )
        if not args.pseudo.is_dir():
            raise InputMissing(
                f"{args.pseudo}: no such folder (--pseudo; `trainer distill` makes it)"
            )
        pseudo, made_by = distill.load(args.pseudo)
        parts["train"] = parts["train"].joined(pseudo)
        print(
            f"{len(pseudo)} pseudo-labelled copies from {args.pseudo} ({made_by})", file=sys.stderr
        )
        del pseudo  # joined holds its own copy; this one is 1.4 GB at the documented size
    if without:
        parts["train"] = parts["train"].without(without)
    settings = TrainSettings(
        arch=args.arch or DEFAULT,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        patience=args.patience,
        seed=args.seed,
        early_ms=args.early_ms,
        pseudo=str(args.pseudo) if args.pseudo else None,
        pseudo_network=made_by,
    )
    run_dir = args.out or run_folder(RUNS, settings, without)
    what = f"the early-estimate net ({args.early_ms:g} ms)" if args.early_ms else settings.arch
    print(
        f"training {what} on {len(parts['train'])} clips, validating on "
        f"{len(parts['validation'])}; run directory {run_dir}",
        file=sys.stderr,
    )
    with quiet.tensorflow_output(args.verbose):
        result = train(parts["train"], parts["validation"], settings, run_dir)
    if run_dir.parent == RUNS and not without and not args.early_ms and not args.pseudo:
        mark_latest(run_dir)
    print(
        f"best validation MAE {result.best_val_mae:.4f} at epoch {result.best_epoch} of "
        f"{result.epochs_run} ({result.seconds / 60:.1f} min, {result.parameters:,} "
        f"parameters); model {run_dir / 'model.keras'}",
        file=sys.stderr,
    )
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    from timbrecast.trainer.architectures import ARCHITECTURES, DEFAULT

    train = commands.add_parser(
        "train",
        help="train an architecture on the built corpus",
        description=textwrap.fill(
            "Deterministic for a seed; early stopping on validation MAE; writes model.keras "
            "(best epoch), history.csv, loss.png and summary.json to the run directory."
        ),
        epilog="examples:\n  trainer train\n  trainer train --arch seven-filters-avg --seed 1\n"
        "  trainer train --early-ms 25\n"
        "  trainer train --pseudo ~/.cache/timbrecast/pseudo   # after `trainer distill`",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument(
        "--arch", choices=list(ARCHITECTURES), help=f"the network (default {DEFAULT})"
    )
    train.add_argument("--epochs", type=int, default=60, help="at most (default 60)")
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--patience", type=int, default=8, help="early-stopping patience")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--early-ms",
        type=float,
        help="train an early-estimate model on each hit's first N ms (e.g. 25); "
        "the labels stay those of the whole hit",
    )
    train.add_argument(
        "--without",
        choices=["augmented", "synthetic", "augmented,synthetic"],
        metavar="PART[,PART]",
        help="leave parts out of the training set (augmented, synthetic or "
        "augmented,synthetic), to measure what each adds (validation is unchanged; "
        "runs/latest is not moved)",
    )
    train.add_argument(
        "--pseudo",
        type=Path,
        metavar="DIR",
        help="add a pseudo-labelled set (`trainer distill`) to the training side",
    )
    train.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    train.add_argument("--out", type=Path, help="run directory (default runs/ARCH-seedN[-pseudo])")
    train.set_defaults(func=cmd_train)
