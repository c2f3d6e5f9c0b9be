"""``timbrecastd run``: the service, from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

from timbrecast.daemon import config, exitcodes
from timbrecast.daemon.analysis import load_model
from timbrecast.daemon.commands.flags import (
    add_run_flags,
    load_early,
    run_settings,
)
from timbrecast.daemon.config import ConfigError, Settings, source_names
from timbrecast.daemon.inference import Model
from timbrecast.daemon.inputs import FileInput, Input, PcmInput
from timbrecast.daemon.live import LiveInput
from timbrecast.daemon.pipeline import Health, Pipeline
from timbrecast.daemon.publisher import Publisher
from timbrecast.daemon.security import Curve
from timbrecast.daemon.service import Control, Service, log


def cmd_run(args: argparse.Namespace) -> int:
    """Listen and publish until the input ends or SIGTERM/SIGINT."""
    settings = run_settings(args)
    model = load_model(settings.model, settings.runtime, settings.threads)
    early_models = load_early(settings.early_model, settings.runtime, settings.threads)
    curve = Curve(Path(settings.secret_key), Path(settings.clients)) if settings.curve else None
    publisher = Publisher(
        settings.endpoint,
        settings.hwm,
        connect=settings.connect,
        curve=curve,
        wait_subscriber=args.wait_subscriber,
        log=log,
    )
    control = Control.install()
    try:
        if args.wait_subscriber:
            log(f"waiting for a subscriber on {settings.endpoint}")
            while not publisher.subscribed.wait(0.1):
                if control.stop.is_set():
                    return exitcodes.OK
        return serve(args, settings, model, early_models, publisher, control)
    finally:
        publisher.close()


#: Interleaved channels on stdin: a 64-input interface is the most anyone has.
MAX_STDIN_CHANNELS = 64


def open_input(args: argparse.Namespace, settings: Settings) -> Input:
    """``--file`` or ``--stdin`` if given, else the configured capture device."""
    if args.file is not None and args.stdin:
        raise ConfigError("choose one input: --device NAME, --file PATH or --stdin")
    if args.file is not None:
        return FileInput(args.file, realtime=not args.fast, block=settings.block)
    if args.stdin:
        if not 1 <= args.channels <= MAX_STDIN_CHANNELS:
            raise ConfigError(f"--channels {args.channels}: 1 to {MAX_STDIN_CHANNELS}")
        return PcmInput(settings.rate or 48000, args.channels, args.format, block=settings.block)
    source = LiveInput(
        settings.device or None,
        settings.rate or None,
        [c - 1 for c in settings.channels],
        block=settings.block,
    )
    source.open()
    return source


def serve(
    args: argparse.Namespace,
    settings: Settings,
    model: Model,
    early_models: tuple[Model, ...],
    publisher: Publisher,
    control: Control,
) -> int:
    """``run`` once the socket is up: open the input and process it to its end."""
    source = open_input(args, settings)
    names = source_names(source.channels, settings.sources)
    pipeline = Pipeline(
        model,
        source.sample_rate,
        names,
        publisher,
        settings.detector,
        settings.full_second,
        early_models=early_models,
        wait_for_model=args.file is not None and args.fast,
        health=Health(drops=lambda: publisher.drops, overruns=lambda: source.overruns),
    )
    early_ids = ", ".join(m.model_id for m in pipeline.early_models)
    early_note = f" (+ {early_ids} provisional)" if early_ids else ""
    detector = pipeline.detector
    proven = [(model.model_id, model.verdict), (detector.model_id, detector.verdict)]
    proven += [(m.model_id, m.verdict) for m in early_models]
    for model_id, verdict in proven:
        if verdict is not None and not verdict.xnnpack:
            log(f"{model_id}: {verdict.describe()}")
    log(
        f"{model.model_id}{early_note} on {model.runtime.name}, {len(names)} source(s) at "
        f"{source.sample_rate} Hz, publishing {'to' if settings.connect else 'on'} "
        f"{settings.endpoint}{' (CURVE)' if settings.curve else ''}"
    )
    with pipeline:
        Service(pipeline, source, settings, lambda: run_settings(args), control=control).run()
    return exitcodes.OK


def add_parser(commands: argparse._SubParsersAction) -> None:
    run = commands.add_parser(
        "run",
        help="listen and publish every hit over ZeroMQ (the service)",
        description="Listen to an input, detect each hit, describe it, and publish onset, "
        "timbre and status messages (docs/protocol.md) until the input ends or SIGTERM. "
        f"Settings come from {config.DEFAULT_PATH} if it exists (or --config; every key is "
        "documented in systemd/timbrecast.toml); flags override it. SIGHUP re-reads the "
        "file and applies the detection settings without reopening anything.",
        epilog="examples:\n  timbrecastd run --config /etc/timbrecast/timbrecast.toml\n"
        "  timbrecastd run --device 'USB Audio' --input-channels 1,2 --sources snare,kick\n"
        "  timbrecastd run --file take1.wav\n"
        "  arecord -f S16_LE -r 48000 -c 2 | timbrecastd run --stdin --rate 48000 "
        "--channels 2 --sources snare,kick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_run_flags(run)
    run.set_defaults(func=cmd_run)
