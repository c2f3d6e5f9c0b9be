"""``trainer selftest``: give an exported model (timbre or onset) the self-test the
daemon runs at load, or renew it; for models exported before self-tests existed."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.daemon.contract import ModelContractError


def cmd_selftest(args: argparse.Namespace) -> int:
    from timbrecast.trainer.export import with_self_test

    if not args.model.is_file():
        raise InputMissing(f"{args.model}: no such model")
    out = args.out or args.model
    try:
        content = with_self_test(args.model.read_bytes())
    except ModelContractError as exc:
        print(f"trainer: {args.model}: {exc}", file=sys.stderr)
        return exitcodes.DATA
    out.write_bytes(content)
    print(f"wrote {out} with its self-test", file=sys.stderr)
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    command = commands.add_parser(
        "selftest",
        help="embed the self-test the daemon runs when it loads a model",
        description="Run the probe inputs (daemon/selftest.py) through an exported model "
        "with this machine's builtin TFLite kernels and store the outputs in the model's "
        "contract. The daemon runs the same probes at every load and refuses the model "
        "if a runtime gives other outputs (after a retry without XNNPACK). `trainer "
        "export` and `trainer onsets train` do this already; this command is for models "
        "exported before, or to renew the expectations.",
        epilog="example: trainer selftest old-model.tflite --out model.tflite",
    )
    command.add_argument("model", type=Path, metavar="MODEL", help="an exported .tflite")
    command.add_argument("--out", type=Path, help="where to write it (default: in place)")
    command.set_defaults(func=cmd_selftest)
