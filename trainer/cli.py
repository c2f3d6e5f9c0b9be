"""``trainer``: build the labelled corpus, train, evaluate and export the model. Each
command lives in ``commands/``; this module assembles the parser and maps errors to
exit statuses."""

from __future__ import annotations

import argparse
import sys

from timbrecast.daemon import exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.trainer import labelfile
from timbrecast.trainer.commands import (
    dataset,
    distill,
    evaluate,
    export,
    groove,
    label,
    onsets,
    selftest,
    train,
)
from timbrecast.trainer.commands.common import Misused
from timbrecast.trainer.distill import PseudoError
from timbrecast.trainer.hydrogen import HydrogenError
from timbrecast.trainer.labelcache import LabelCacheError
from timbrecast.trainer.pool import ClusterUnavailable
from timbrecast.trainer.sources import PackageMissing

DESCRIPTION = """\
timbrecast trainer: labels drum one-shots with the AudioCommons timbral models
(the teacher), builds the corpus, trains the seven-descriptor CNN and exports it
for the daemon.
"""


EPILOG = """\
examples:
  trainer label ~/samples/kicks --out kicks.csv
  trainer label a.wav b.flac --out labels.csv --jobs 2

exit statuses: 0 ok, 65 some inputs failed (the rest are written) or an
installed kit's drumkit.xml cannot be read, 66 an input path is missing, 69
the train extra is not installed, a Debian package of the corpus's samples is
missing (the message names it), or a Dask scheduler named by --scheduler
cannot be reached or its workers cannot label.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trainer",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's own log lines (held back unless something fails)",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (label, dataset, groove, train, distill, evaluate, export, selftest, onsets):
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return exitcodes.OK
    failures: list[tuple[tuple[type[Exception], ...], int]] = [
        ((InputMissing,), exitcodes.NO_INPUT),
        ((labelfile.LabelFileError, HydrogenError, PseudoError), exitcodes.DATA),
        ((Misused,), exitcodes.CONFIG),
        ((exitcodes.OutputError, LabelCacheError), exitcodes.CANT_CREATE),
        ((ImportError, ClusterUnavailable, PackageMissing), exitcodes.UNAVAILABLE),
    ]
    try:
        return args.func(args)
    except BrokenPipeError:
        return exitcodes.stdout_closed()
    except tuple(kind for kinds, _ in failures for kind in kinds) as exc:
        print(f"trainer: {exc}", file=sys.stderr)
        return next(code for kinds, code in failures if isinstance(exc, kinds))


if __name__ == "__main__":
    sys.exit(main())
