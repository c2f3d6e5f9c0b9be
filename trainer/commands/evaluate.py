"""``trainer evaluate``: a model against the held-out kits, as a report with plots."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.trainer import quiet
from timbrecast.trainer.commands.common import default_store


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Per-descriptor figures on the held-out kits, with plots and a Markdown report."""
    from timbrecast.trainer.dataset import load_split
    from timbrecast.trainer.evaluate import report

    for path in (args.model, *args.early):
        if not path.exists():
            raise InputMissing(f"{path}: no such model")
    out = args.out or args.model.parent / f"evaluation-{args.model.stem}"
    with quiet.tensorflow_output(args.verbose):
        text = report(args.model, load_split(args.store), out, args.early, args.curve)
    print(text)
    print(f"wrote {out / 'report.md'}", file=sys.stderr)
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    evaluate = commands.add_parser(
        "evaluate",
        help="figures of a model (.keras or .tflite) on the held-out kits",
        epilog="examples:\n  trainer evaluate runs/latest/model.keras\n"
        "  trainer evaluate daemon/models/seven-filters-int8.tflite --early "
        "daemon/models/early-25ms-int8.tflite",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    evaluate.add_argument("model", type=Path, metavar="MODEL")
    evaluate.add_argument(
        "--curve",
        action="store_true",
        help="also MAE against the ms heard after the attack (10 to 1000), the model fed "
        "truncated zero-padded clips",
    )
    evaluate.add_argument(
        "--early",
        type=Path,
        nargs="*",
        default=[],
        metavar="EARLY",
        help="early-estimate models to add to that curve (implies --curve)",
    )
    evaluate.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    evaluate.add_argument("--out", type=Path, help="report directory")
    evaluate.set_defaults(func=cmd_evaluate)
