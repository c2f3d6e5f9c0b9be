"""``timbrecastd``: the daemon's command line."""

from __future__ import annotations

import argparse
import sys
from importlib import metadata

from timbrecast.daemon import audiofile, bundled, exitcodes, runtime
from timbrecast.daemon.contract import (
    DESCRIPTORS,
    INPUT_LENGTH,
    NORMALISATION,
    PREPROCESS_VERSION,
    SAMPLE_RATE,
)

DESCRIPTION = """\
timbrecast daemon: hears each drum hit in a live audio stream, estimates seven
AudioCommons timbral descriptors (hardness, depth, brightness, roughness,
warmth, sharpness, boominess; 0-100) with a small TFLite model, and publishes
every hit over ZeroMQ.
"""

EPILOG = """\
examples:
  timbrecastd info            what is installed: contract, runtimes, model, demo

exit statuses: 0 ok, 65 some inputs failed, 66 input missing,
69 something needed is not installed, 70 internal error, 78 configuration.
"""


def _version() -> str:
    try:
        return metadata.version("timbrecast")
    except metadata.PackageNotFoundError:
        return "unknown"


def cmd_info(_: argparse.Namespace) -> int:
    """Print what this installation has, so a user knows what will run."""
    print(f"timbrecast {_version()}")
    print(
        f"contract: {SAMPLE_RATE} Hz mono, {INPUT_LENGTH} samples, "
        f"preprocessing v{PREPROCESS_VERSION}"
    )
    print("descriptors (model output order, normalisation range):")
    for name in DESCRIPTORS:
        span = NORMALISATION[name]
        print(f"  {name:<11} {span.low:7.3f} .. {span.high:7.3f}")
    runtimes = runtime.installed()
    print(f"TFLite runtimes installed: {', '.join(runtimes) if runtimes else 'none'}")
    models = bundled.models()
    print(f"bundled models: {', '.join(m.name for m in models) if models else 'none yet'}")
    for path in bundled.demo_recordings():
        audio = audiofile.read(path)
        print(
            f"demo recording: {path.name} ({audio.duration_s:.1f} s, "
            f"{audio.sample_rate} Hz, {audio.channels} ch) at {path}"
        )
    return exitcodes.OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="timbrecastd",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser(
        "info", help="show the contract, installed runtimes, bundled model and demo"
    )
    info.set_defaults(func=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return exitcodes.OK
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
