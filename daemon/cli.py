"""``timbrecastd``: the daemon's command line. Each command lives in ``commands/``;
this module assembles the parser and maps errors to exit statuses."""

from __future__ import annotations

import argparse
import sys
import traceback
from typing import NoReturn

from timbrecast.daemon import audiofile, exitcodes, runtime
from timbrecast.daemon.commands import analyze, check, demo, devices, info, keygen, run
from timbrecast.daemon.config import ConfigError
from timbrecast.daemon.contract import ModelContractError
from timbrecast.daemon.live import DeviceMissing, LiveInputError
from timbrecast.daemon.pipeline import InferenceFailed
from timbrecast.daemon.publisher import (
    PublisherError,
    PublisherFailed,
)

DESCRIPTION = """\
timbrecast daemon: hears each drum hit in a live audio stream, estimates seven
AudioCommons timbral descriptors (hardness, depth, brightness, roughness,
warmth, sharpness, boominess; 0-100) with a small TFLite model, and publishes
every hit over ZeroMQ.
"""


EPILOG = """\
examples:
  timbrecastd info                          what is installed: runtimes, model, demo
  timbrecastd analyze take1.wav --jsonl hits.jsonl
  timbrecastd analyze --oneshot samples/*.wav --jsonl tags.jsonl
  timbrecastd devices                       list capture devices
  timbrecastd run --device "USB Audio" --input-channels 1,2 --sources snare,kick
  timbrecastd run --file take1.wav          publish a file's hits in real time
  arecord -f S16_LE -r 48000 -c 2 | timbrecastd run --stdin --rate 48000 --channels 2

exit statuses: 0 ok, 65 some inputs failed, 66 input missing,
69 something needed is not installed, 70 internal error, 73 an output cannot
be written, 78 configuration.
"""


class Parser(argparse.ArgumentParser):
    """Usage errors are configuration errors: exit status 78, like a bad setting."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(exitcodes.CONFIG, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="timbrecastd",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {info.version()}")
    parser.add_argument(
        "--verbose", action="store_true", help="print tracebacks with errors (for bug reports)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in (info, analyze, run, check, demo, devices, keygen):
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return exitcodes.OK
    failures: list[tuple[tuple[type[BaseException], ...], int]] = [
        ((DeviceMissing,), exitcodes.UNAVAILABLE),
        ((ConfigError, ModelContractError, PublisherError, LiveInputError), exitcodes.CONFIG),
        ((runtime.RuntimeUnavailable, ImportError), exitcodes.UNAVAILABLE),
        ((audiofile.InputMissing, audiofile.AudioFileError), exitcodes.NO_INPUT),
        ((exitcodes.OutputError,), exitcodes.CANT_CREATE),
        ((Exception,), exitcodes.SOFTWARE),
    ]
    try:
        return args.func(args)
    except BrokenPipeError:
        return exitcodes.stdout_closed()
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        status = next(code for kinds, code in failures if isinstance(exc, kinds))
        failed = (InferenceFailed, PublisherFailed)
        internal = status == exitcodes.SOFTWARE and not isinstance(exc, failed)
        prefix = "internal error: " if internal else ""
        print(f"timbrecastd: {prefix}{exc}", file=sys.stderr)
        return status


if __name__ == "__main__":
    sys.exit(main())
