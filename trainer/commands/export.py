"""``trainer export``: the trained model as the daemon's int8 .tflite, contract inside."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timbrecast.daemon import exitcodes
from timbrecast.daemon.audiofile import InputMissing
from timbrecast.trainer import quiet
from timbrecast.trainer.commands.common import RUNS, Misused, default_store
from timbrecast.trainer.export import CALIBRATION_CLIPS, CALIBRATION_DRAWS


def cmd_export(args: argparse.Namespace) -> int:
    """Keras -> .tflite with its contract; refuses a quantisation that costs accuracy."""
    from timbrecast.daemon.contract import ModelContractError
    from timbrecast.trainer.export import ExportError, export

    if not args.model.exists():
        raise InputMissing(f"{args.model}: no such model")
    if args.calibration_draws < 1:
        raise Misused(f"--calibration-draws {args.calibration_draws}: at least 1")
    try:
        with quiet.tensorflow_output(args.verbose, stdout=True):
            report = export(
                args.model,
                args.out,
                args.quantize,
                args.store,
                args.tolerance,
                draws=args.calibration_draws,
            )
    except ExportError as exc:
        print(f"trainer: export refused: {exc}", file=sys.stderr)
        return exitcodes.DATA
    except ModelContractError as exc:
        print(f"trainer: {args.model}: {exc}", file=sys.stderr)
        return exitcodes.DATA
    print(report, file=sys.stderr)
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser(
        "export",
        help="export a trained model for the daemon",
        description="Convert to TFLite (full-integer int8 by default, calibrated on training "
        "clips), embed the contract, and check the quantised model against the float one on "
        "the validation kits: export fails if it is worse by more than --tolerance.",
        epilog="examples:\n  trainer export --tflite --out model.tflite\n"
        "  trainer export --tflite daemon/models/seven-filters-int8.tflite --quantize int8 "
        "--out int8.tflite\n    (the default model, whose weights are int8 and activations "
        "float,\n    as full-integer int8: for a board whose integer kernels are faster)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    export.add_argument(
        "--tflite",
        action="store_true",
        required=True,
        help="the only format (kept for the documented command line)",
    )
    export.add_argument(
        "model",
        type=Path,
        nargs="?",
        default=RUNS / "latest" / "model.keras",
        metavar="MODEL",
        help="a trained Keras model (default runs/latest/model.keras), or an exported "
        ".tflite of a seed architecture, whose weights (int8 ones dequantised) are "
        "exported again: the bundled model with other quantisation, no Keras file needed",
    )
    export.add_argument(
        "--quantize",
        choices=["int8", "float16", "dynamic", "none"],
        default="int8",
        help="int8 (default): int8 weights and activations, fastest where the runtime's "
        "integer kernels are; dynamic: int8 weights, float activations (the bundled "
        "default model; on x86 faster and closer to float); float16; none: float32",
    )
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--store", type=Path, default=default_store(), help="built corpus")
    export.add_argument(
        "--tolerance",
        type=float,
        default=0.005,
        help="allowed validation MAE loss against float (default 0.005)",
    )
    export.add_argument(
        "--calibration-draws",
        type=int,
        default=CALIBRATION_DRAWS,
        metavar="N",
        help=f"int8: calibrate on N draws of {CALIBRATION_CLIPS} training clips and keep the "
        f"one the validation kits score best (default {CALIBRATION_DRAWS}; about 10 s each for "
        "seven-filters; 1 is the first draw alone)",
    )
    export.set_defaults(func=cmd_export)
