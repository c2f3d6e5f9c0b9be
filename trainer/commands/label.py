"""``trainer label``: the teacher's labels for any clips, cached and resumable."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from timbrecast.daemon import audiofile, exitcodes
from timbrecast.trainer.commands.common import SCHEDULER_HELP, add_jobs


def cmd_label(args: argparse.Namespace) -> int:
    """Label every clip with the teacher, as the file sounds."""
    from tqdm import tqdm

    from timbrecast.trainer.labelcache import LabelCache, default_path
    from timbrecast.trainer.labeler import label_files

    expansion = audiofile.expand(args.paths)
    progress = tqdm(total=len(expansion.files), unit="clip", desc="labelling", disable=args.quiet)
    cache = LabelCache(args.cache or default_path())
    with progress:
        run = label_files(
            expansion, args.out, cache, args.jobs, lambda: progress.update(1), args.scheduler
        )
    cache.close()
    for name, reason in run.skipped:
        print(f"skipped {name}: {reason}", file=sys.stderr)
    print(
        f"labelled {run.labelled} of {run.files} clips ({run.from_cache} from the cache), "
        f"{len(run.skipped)} skipped; wrote {args.out}",
        file=sys.stderr,
    )
    return exitcodes.DATA if run.skipped else exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    label = commands.add_parser(
        "label",
        help="label one-shots with the AudioCommons teacher",
        description=textwrap.fill(
            "Label each file with timbral_models 0.4.0 as the file sounds: mono, at "
            "its own rate, its first second from the moment it sounds (silence a "
            "recording put before the hit is cut: the model cannot see it). These are "
            "the labels the models "
            "learn to estimate. Results are cached by content, so a killed run resumes "
            "and a repeated one is instant. Clips the teacher cannot label are listed "
            "with the reason and left out."
        ),
        epilog=(
            "examples:\n  trainer label ~/samples --out labels.csv --jobs 2\n"
            "  trainer label ~/library --out labels.csv --scheduler tcp://10.0.0.5:8786\n"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    label.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders")
    label.add_argument("--out", type=Path, required=True, help="CSV to write")
    add_jobs(label, "label")
    label.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER_HELP)
    label.add_argument("--cache", type=Path, help="label cache (default: ~/.cache/timbrecast)")
    label.add_argument("--quiet", action="store_true", help="no progress bar")
    label.set_defaults(func=cmd_label)
