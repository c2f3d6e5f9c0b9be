"""``timbrecastd info``: what this installation has, so a user knows what will run."""

from __future__ import annotations

import argparse
from importlib import metadata

from timbrecast.daemon import audiofile, bundled, exitcodes, runtime
from timbrecast.daemon.contract import (
    DESCRIPTORS,
    INPUT_LENGTH,
    NORMALISATION,
    PREPROCESS_VERSION,
    SAMPLE_RATE,
    ModelContractError,
)
from timbrecast.daemon.tflitemeta import read_contract


def version() -> str:
    try:
        return metadata.version("timbrecast")
    except metadata.PackageNotFoundError:
        return "unknown"


def cmd_info(_: argparse.Namespace) -> int:
    """Print what this installation has, so a user knows what will run."""
    print(f"timbrecast {version()}")
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
    for path in models:
        try:
            contract = read_contract(path.read_bytes())
        except ModelContractError:
            continue
        labels = contract.training_data.get("labels", "not recorded (exported before they were)")
        print(f"  {path.name}: model {contract.model_id}, labels: {labels}")
    for path in bundled.demo_recordings():
        audio = audiofile.read(path)
        print(
            f"demo recording: {path.name} ({audio.duration_s:.1f} s, "
            f"{audio.sample_rate} Hz, {audio.channels} ch) at {path}"
        )
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    info = commands.add_parser(
        "info", help="show the contract, installed runtimes, bundled model and demo"
    )
    info.set_defaults(func=cmd_info)
