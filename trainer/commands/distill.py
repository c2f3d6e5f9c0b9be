"""``trainer distill``: new augmented copies of the training hits, labelled by a network."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.trainer import quiet
from timbrecast.trainer.commands.common import (
    Misused,
    add_drum_machines,
    add_jobs,
    default_store,
    drum_machines,
)


def cmd_distill(args: argparse.Namespace) -> int:
    """Render the copies, label them with the network, write the set."""
    import numpy as np
    from tqdm import tqdm

    from timbrecast.daemon.contract import INPUT_LENGTH, ModelContractError
    from timbrecast.trainer import distill, machines
    from timbrecast.trainer.evaluate import predict

    if not (args.store / "manifest.jsonl").is_file():
        raise InputMissing(f"{args.store}: no built corpus (run `trainer dataset build`)")
    if not args.network.exists():
        raise InputMissing(f"{args.network}: no such model")
    if args.copies < 1:
        raise Misused(f"--copies {args.copies}: at least 1")
    if args.seed == 0:
        raise Misused(
            "--seed 0 draws the corpus's own copies (labelled by the teacher); use 1 or more"
        )
    # Tried before rendering (a minute or more), and refused outside the hush, which
    # would print TensorFlow's held-back log under the one-line error.
    problem = None
    with quiet.tensorflow_output(args.verbose):
        try:
            predict(args.network, np.zeros((1, INPUT_LENGTH), dtype=np.float32))
        except (ValueError, OSError, ModelContractError) as exc:
            problem = exc
    if problem is not None:
        raise Misused(f"--network {args.network}: cannot label with it ({problem})")

    def bar(total: int, label: str) -> tqdm:
        return tqdm(total=total, unit="clip", desc=label, disable=args.quiet)

    machines.use(drum_machines(args))
    out = args.out or args.store.parent / "pseudo"
    report = distill.build(
        args.store,
        args.network,
        out,
        args.copies,
        args.seed,
        args.jobs,
        bar,
        labelling=lambda: quiet.tensorflow_output(args.verbose),
    )
    if report.without_collection:
        print(
            f"left out {report.without_collection} drum-machine hits: no collection at "
            f"{drum_machines(args)} (--drum-machines)",
            file=sys.stderr,
        )
    print(
        f"wrote {report.made} pseudo-labelled copies to {out} ({len(report.failed)} could not "
        f"be rendered, listed in {out / 'failures.txt'}); train with "
        f"`trainer train --pseudo {out}`",
        file=sys.stderr,
    )
    return exitcodes.DATA if report.failed else exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    distill = commands.add_parser(
        "distill",
        help="pseudo-label new augmented copies of the training hits with a network",
        description=textwrap.fill(
            "The teacher costs about 0.4 s of CPU a clip; a network that already comes "
            "close to it (the mel-cnn) labels a clip in about a millisecond. This renders "
            "COPIES new augmented copies of every real hit on the training side of the "
            "split (never of validation or test kits), labels them with NETWORK, and "
            "writes them where `trainer train --pseudo` reads them. Exit 65 if some "
            "copies could not be rendered (the rest are written)."
        ),
        epilog="examples:\n"
        "  trainer train --arch mel-cnn --out runs/mel-cnn-seed0\n"
        "  trainer distill --network runs/mel-cnn-seed0/model.keras --copies 8\n"
        "  trainer train --pseudo ~/.cache/timbrecast/pseudo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    distill.add_argument(
        "--network", type=Path, required=True, help="the labelling model (.keras or .tflite)"
    )
    distill.add_argument("--copies", type=int, default=8, help="per real hit (default 8)")
    distill.add_argument(
        "--seed", type=int, default=1, help="augmentation seed, not the corpus's 0 (default 1)"
    )
    distill.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    distill.add_argument(
        "--out", type=Path, help="where the set goes (default: `pseudo` beside the corpus)"
    )
    add_drum_machines(distill)
    add_jobs(distill, "render copies")
    distill.add_argument("--quiet", action="store_true", help="no progress bar")
    distill.set_defaults(func=cmd_distill)
