"""Flags and settings shared by several commands: model, detection, input."""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path
from typing import Any

from timbrecast.daemon import bundled, config, runtime
from timbrecast.daemon.config import ConfigError, Settings
from timbrecast.daemon.inference import Model
from timbrecast.daemon.inputs import PCM_FORMATS
from timbrecast.daemon.onset import METHODS, DetectorSettings
from timbrecast.daemon.protocol import DEFAULT_ENDPOINT


def load_early(
    spec: str | None, runtime_name: str | None, threads: int | None
) -> tuple[Model, ...]:
    """The early-estimate models: files or bundled names separated by
    commas (``early-10ms-int8.tflite,early-25ms-int8.tflite``: two provisional
    estimates per hit), ``none``, or (empty) the bundled default if it ships."""
    text = (spec or "").strip()
    if text == "none":
        return ()
    names: list[str | None] = [name.strip() for name in text.split(",")] if text else [None]
    if "" in names or "none" in names:
        raise ConfigError(f"early model {spec!r}: an empty name or none in a list of models")
    models = []
    for name in names:
        path = bundled.resolve(name, bundled.EARLY_MODEL)
        if path is None:
            continue
        model = Model(path, runtime_name=runtime_name or None, threads=threads or 1)
        if model.contract.early_ms is None:
            raise ConfigError(f"early model {path}: not an early-estimate model (no early_ms)")
        models.append(model)
    heard = [m.contract.early_ms for m in models]
    if len(set(heard)) < len(heard):
        raise ConfigError(f"early models {spec!r}: two read the same ms after the attack")
    return tuple(models)


def detector_settings(args: argparse.Namespace) -> DetectorSettings:
    """``analyze``'s detection settings: its flags over the defaults."""
    given = {
        "threshold": args.threshold,
        "floor_db": args.floor_db,
        "min_interval": args.min_interval,
        "activation": args.activation,
        "method": args.detector,
    }
    try:
        return DetectorSettings(**{k: v for k, v in given.items() if v is not None})
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def run_settings(args: argparse.Namespace) -> Settings:
    """``run``'s settings: the configuration file, overridden by the flags given."""
    overrides: dict[str, Any] = {
        "device": args.device,
        "channels": parse_channels(args.input_channels),
        "rate": args.rate,
        "sources": tuple(args.sources.split(",")) if args.sources else None,
        "block": args.block,
        "threshold": args.threshold,
        "floor_db": args.floor_db,
        "min_interval": args.min_interval,
        "activation": args.activation,
        "method": args.detector,
        "full_second": args.full_second or None,
        "model": str(args.model) if args.model else None,
        "early_model": args.early_model,
        "runtime": args.runtime,
        "threads": args.threads,
        "endpoint": args.connect or args.endpoint,
        "connect": True if args.connect else None,
        "hwm": args.hwm,
        "allow_network": args.allow_network or None,
    }
    return config.resolve(args.config, overrides)


def stop_on_signals() -> threading.Event:
    """SIGTERM or Ctrl-C: finish the file at hand, write it, and stop there; a second
    Ctrl-C interrupts at once."""
    stop = threading.Event()

    def asked(signum: int, _: object) -> None:
        stop.set()
        if signum == signal.SIGINT:
            signal.signal(signal.SIGINT, signal.default_int_handler)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, asked)
    return stop


def parse_channels(text: str | None) -> tuple[int, ...] | None:
    """``1,3``: channels as on an interface's front panel, counted from 1."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--input-channels {text!r}: expected numbers like 1,2") from exc


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument(
        "--model",
        help="a .tflite exported by `trainer export`, or a bundled model's name "
        f"(default {bundled.DEFAULT_MODEL}; {bundled.MEL_MODEL}: more accurate, slower)",
    )
    group.add_argument(
        "--runtime",
        choices=runtime.NAMES,
        help="TFLite runtime (default: the best installed)",
    )
    group.add_argument("--threads", type=int, help="inference threads (default 1)")


def add_early_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--early-model",
        metavar="FILE[,FILE]|none",
        help="early-estimate model(s) for provisional timbre messages a few ms after each "
        "attack, one message per model, shortest first (default: the bundled "
        f"{bundled.EARLY_MODEL}; none: off)",
    )


def add_detector_flags(parser: argparse.ArgumentParser) -> None:
    defaults = DetectorSettings()
    group = parser.add_argument_group("onset detection")
    group.add_argument(
        "--detector",
        choices=METHODS,
        help=f"learned: a small network over spectral frames; flux: spectral flux "
        f"(default {defaults.method}; docs/benchmarks.md compares them)",
    )
    group.add_argument(
        "--activation",
        type=float,
        help=f"learned detector: activation (0-1) for a hit; lower is more sensitive "
        f"(default {defaults.activation})",
    )
    group.add_argument(
        "--threshold",
        type=float,
        help=f"flux detector: flux above the adaptive median for a hit; lower is more "
        f"sensitive (default {defaults.threshold})",
    )
    group.add_argument(
        "--floor-db",
        type=float,
        help=f"quieter frames never start a hit, and hits end when they decay to it "
        f"(default {defaults.floor_db} dBFS)",
    )
    group.add_argument(
        "--min-interval",
        type=float,
        help=f"retrigger guard in seconds (default {defaults.min_interval})",
    )
    group.add_argument(
        "--full-second",
        action="store_true",
        help="always cut 1 s per hit, overlapping the next (the seed's behaviour)",
    )


def add_run_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        help=f"settings file (default {config.DEFAULT_PATH} when it exists)",
    )
    source = parser.add_argument_group("input (default: the configured device)")
    source.add_argument("--device", help="capture device: index or (part of) its name")
    source.add_argument("--input-channels", help="device channels, from 1 (default 1), e.g. 1,2")
    source.add_argument("--file", type=Path, help="an audio file, paced in real time")
    source.add_argument("--fast", action="store_true", help="with --file: as fast as possible")
    source.add_argument("--stdin", action="store_true", help="raw interleaved PCM on stdin")
    source.add_argument(
        "--rate", type=int, help="--device: default the device's; --stdin: default 48000"
    )
    source.add_argument("--channels", type=int, default=1, help="with --stdin (default 1)")
    source.add_argument("--format", choices=sorted(PCM_FORMATS), default="s16le")
    source.add_argument("--sources", help="comma-separated source names, one per channel")
    source.add_argument("--block", type=int, help="frames per audio block (default 128)")
    publish = parser.add_argument_group("publishing")
    publish.add_argument("--endpoint", help=f"bind and publish here (default {DEFAULT_ENDPOINT})")
    publish.add_argument(
        "--connect",
        metavar="ENDPOINT",
        help="publish into a broker's XSUB side instead of binding, e.g. tcp://stage-hub:5559",
    )
    publish.add_argument("--hwm", type=int, help="send high-water mark (default 1000 messages)")
    publish.add_argument(
        "--wait-subscriber",
        action="store_true",
        help="open the input only once a subscriber (or, with --connect, a broker with one) "
        "has subscribed: nothing published before it arrives is lost, e.g. with --file --fast",
    )
    publish.add_argument(
        "--allow-network",
        action="store_true",
        help="allow an endpoint that is not loopback (publishing to the network is a choice)",
    )
    add_model_flags(parser)
    add_early_flag(parser)
    add_detector_flags(parser)
