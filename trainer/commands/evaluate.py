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
    from timbrecast.trainer.evaluate import (
        curve_plot,
        curve_table,
        early_curve,
        metrics,
        predict,
        scatter,
        table,
    )

    if not args.model.exists():
        raise InputMissing(f"{args.model}: no such model")
    parts = load_split(args.store)
    out = args.out or args.model.parent / f"evaluation-{args.model.stem}"
    out.mkdir(parents=True, exist_ok=True)
    rows = {}
    for name, part in (
        ("test kits, real hits", parts["test"].real()),
        ("test kits, all clips", parts["test"]),
        ("validation kits, all clips", parts["validation"]),
    ):
        with quiet.tensorflow_output(args.verbose):
            predicted = predict(args.model, part.clips)
        rows[name] = metrics(predicted, part, parts["train"].targets)
        if name == "test kits, real hits":
            scatter(
                predicted,
                part,
                out / "predicted-vs-teacher.png",
                f"{args.model.name}: held-out kits, real hits",
            )
    report = (
        f"# Evaluation of `{args.model}`\n\n"
        "MAE on the seed's normalised scale (Freesound min-max ranges), in 0-100 points, "
        "Pearson r, and the MAE of always predicting the training median.\n\n"
        + table(rows)
        + "\n\n![predicted against teacher](predicted-vs-teacher.png)\n"
    )
    if args.curve or args.early:
        for path in args.early:
            if not path.exists():
                raise InputMissing(f"{path}: no such model")
        with quiet.tensorflow_output(args.verbose):
            curves = early_curve(args.model, args.early, parts["test"], parts["train"].targets)
        curve_plot(curves, out / "mae-vs-ms.png")
        report += (
            "\n## MAE against the audio heard (test kits, all clips)\n\n"
            "The full model fed the first N ms after the attack, zero-padded to 1 s, and "
            "each early-estimate model at its own N.\n\n"
            + curve_table(curves)
            + "\n\n![MAE against N](mae-vs-ms.png)\n"
        )
    (out / "report.md").write_text(report)
    print(report)
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
