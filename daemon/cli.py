"""``timbrecastd``: the daemon's command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any, NoReturn

from timbrecast.daemon import audiofile, bundled, config, exitcodes, runtime
from timbrecast.daemon.analysis import (
    Hit,
    Tally,
    analyze,
    analyze_files,
    load_model,
    tag_files,
)
from timbrecast.daemon.config import ConfigError, Settings, source_names
from timbrecast.daemon.contract import (
    DESCRIPTORS,
    INPUT_LENGTH,
    NORMALISATION,
    PREPROCESS_VERSION,
    SAMPLE_RATE,
    ModelContractError,
)
from timbrecast.daemon.inference import Model
from timbrecast.daemon.inputs import PCM_FORMATS, FileInput, PcmInput
from timbrecast.daemon.live import DeviceMissing, LiveInput, LiveInputError, devices, find_device
from timbrecast.daemon.onset import DetectorSettings
from timbrecast.daemon.pipeline import Health, InferenceFailed, Pipeline
from timbrecast.daemon.protocol import DEFAULT_ENDPOINT, End, Event, Onset, Timbre
from timbrecast.daemon.publisher import (
    Publisher,
    PublisherError,
    PublisherFailed,
)
from timbrecast.daemon.security import Curve, keygen
from timbrecast.daemon.service import Control, Service, log

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


def load_early(spec: str | None, runtime_name: str | None, threads: int | None) -> Model | None:
    """The early-estimate model: a file, ``none``, or (empty) the bundled one if any."""
    if spec == "none":
        return None
    path = Path(spec) if spec else bundled.early_model()
    if path is None:
        return None
    model = Model(path, runtime_name=runtime_name or None, threads=threads or 1)
    if model.contract.early_ms is None:
        raise ConfigError(f"early model {path}: not an early-estimate model (no early_ms)")
    return model


def detector_settings(args: argparse.Namespace) -> DetectorSettings:
    """``analyze``'s detection settings: its flags over the defaults."""
    given = {
        "threshold": args.threshold,
        "floor_db": args.floor_db,
        "min_interval": args.min_interval,
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


def hit_record(path: Path, hit: Hit) -> dict[str, Any]:
    """One hit as ``analyze`` writes it (one JSON object per line)."""
    return {
        "file": str(path),
        "source": hit.source,
        "seq": hit.seq,
        "onset_s": round(hit.onset_s, 6),
        "peak_dbfs": round(hit.peak_dbfs, 2),
        "rms_dbfs": round(hit.rms_dbfs, 2),
        "audio_s": round(hit.audio_s, 4),
        "descriptors": {k: round(v, 3) for k, v in hit.descriptors.items()},
        "model_id": hit.model_id,
    }


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


def cmd_analyze(args: argparse.Namespace) -> int:
    """Hits of files as JSON lines: onset, level, the seven descriptors.

    Each file's records are written and flushed as soon as it is done, so a
    stopped run (SIGTERM, Ctrl-C: the file at hand is finished first) or a
    killed one keeps every file that was finished.
    """
    model = load_model(args.model, args.runtime, args.threads)
    settings = detector_settings(args)
    expansion = audiofile.expand(args.files)
    paths = expansion.files
    tally = Tally()
    stop = stop_on_signals()
    out = exitcodes.open_output(args.jsonl) if args.jsonl else sys.stdout
    hits = 0
    names = args.sources.split(",") if args.sources else None

    def analyse(path: Path) -> list[Hit]:
        return analyze(
            path,
            model=model,
            settings=settings,
            full_second=args.full_second,
            mix=args.mix,
            sources=names,
        )

    if args.oneshot:
        batches = tag_files(paths, model, tally, stop)
    else:
        batches = analyze_files(paths, analyse, tally, stop)
    try:
        for batch in batches:
            for path, hit in batch:
                out.write(json.dumps(hit_record(path, hit)) + "\n")
                hits += 1
            out.flush()
    finally:
        if args.jsonl:
            out.close()
    for line in [f"folder {entry}" for entry in expansion.unreadable] + tally.skipped:
        print(f"skipped {line}", file=sys.stderr)
    left = len(paths) - tally.done - len(tally.skipped)
    stopped = f"; stopped by a signal, {left} files not read" if stop.is_set() else ""
    folders = f", {len(expansion.unreadable)} folders not read" if expansion.unreadable else ""
    print(
        f"{hits} hits from {tally.done} of {len(paths)} files, "
        f"{len(tally.skipped)} skipped{folders}{stopped} (model {model.model_id})",
        file=sys.stderr,
    )
    return exitcodes.DATA if tally.skipped or expansion.unreadable else exitcodes.OK


#: Interleaved channels on stdin: a 64-input interface is the most anyone has.
MAX_STDIN_CHANNELS = 64


def open_input(args: argparse.Namespace, settings: Settings) -> FileInput | PcmInput | LiveInput:
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


def cmd_run(args: argparse.Namespace) -> int:
    """Listen and publish until the input ends or SIGTERM/SIGINT."""
    settings = run_settings(args)
    model = load_model(settings.model, settings.runtime, settings.threads)
    early_model = load_early(settings.early_model, settings.runtime, settings.threads)
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
        return serve(args, settings, model, early_model, publisher, control)
    finally:
        publisher.close()


def serve(
    args: argparse.Namespace,
    settings: Settings,
    model: Model,
    early_model: Model | None,
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
        early_model=early_model,
        wait_for_model=args.file is not None and args.fast,
        health=Health(drops=lambda: publisher.drops, overruns=lambda: source.overruns),
    )
    early_note = f" (+ {early_model.model_id} provisional)" if early_model else ""
    log(
        f"{model.model_id}{early_note} on {model.runtime.name}, {len(names)} source(s) at "
        f"{source.sample_rate} Hz, publishing {'to' if settings.connect else 'on'} "
        f"{settings.endpoint}{' (CURVE)' if settings.curve else ''}"
    )
    with pipeline:
        Service(pipeline, source, settings, lambda: run_settings(args), control=control).run()
    return exitcodes.OK


def cmd_check(args: argparse.Namespace) -> int:
    """Validate configuration, model, device and endpoint; say what is wrong.

    Exits as ``run`` would: 69 if something needed is missing (an extra, a runtime,
    the device), else 78 for any configuration problem.
    """
    statuses: list[int] = []

    def report(what: str, check: Callable[[], str]) -> None:
        try:
            print(f"ok       {what}: {check()}")
        except (DeviceMissing, runtime.RuntimeUnavailable, ImportError) as exc:
            statuses.append(exitcodes.UNAVAILABLE)
            print(f"MISSING  {what}: {exc}")
        except (ConfigError, ModelContractError, LiveInputError, PublisherError) as exc:
            statuses.append(exitcodes.CONFIG)
            print(f"PROBLEM  {what}: {exc}")

    settings = run_settings(args)
    where = args.config or (config.DEFAULT_PATH if config.DEFAULT_PATH.is_file() else None)
    print(f"ok       configuration: {where or 'defaults (no file)'}")
    report("model", lambda: describe_model(settings))
    report("early model", lambda: describe_early_model(settings))
    if not args.file and not args.stdin:
        report("device", lambda: describe_device(settings))
    report("endpoint", lambda: describe_endpoint(settings))
    if exitcodes.CONFIG in statuses:
        return exitcodes.CONFIG
    return exitcodes.UNAVAILABLE if statuses else exitcodes.OK


def describe_model(settings: Settings) -> str:
    model = load_model(settings.model, settings.runtime, settings.threads)
    return f"{model.model_id} ({model.path}) on {model.runtime.name}"


def describe_early_model(settings: Settings) -> str:
    model = load_early(settings.early_model, settings.runtime, settings.threads)
    if model is None:
        return "none (no provisional timbre messages)"
    return f"{model.model_id} ({model.path}), {model.contract.early_ms:g} ms after each attack"


def describe_device(settings: Settings) -> str:
    device = find_device(settings.device or None)
    wanted = max(settings.channels)
    if wanted > device.channels:
        raise ConfigError(
            f"{device.name!r} has {device.channels} inputs; [input] channels asks for {wanted}"
        )
    return f"{device.index}: {device.name} ({device.channels} in, {device.default_rate} Hz)"


def describe_endpoint(settings: Settings) -> str:
    curve = Curve(Path(settings.secret_key), Path(settings.clients)) if settings.curve else None
    publisher = Publisher(settings.endpoint, settings.hwm, connect=settings.connect, curve=curve)
    publisher.close()
    return f"{settings.endpoint} {'reachable' if settings.connect else 'free'}" + (
        ", CURVE keys readable" if curve else ""
    )


def cmd_keygen(args: argparse.Namespace) -> int:
    """A CURVE key pair for the daemon (server) or a client."""
    public, secret = keygen(args.out, args.name, args.force)
    print(f"public key {public} (share), secret key {secret} (keep private, mode 600)")
    return exitcodes.OK


def parse_channels(text: str | None) -> tuple[int, ...] | None:
    """``1,3``: channels as on an interface's front panel, counted from 1."""
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise ConfigError(f"--input-channels {text!r}: expected numbers like 1,2") from exc


def cmd_devices(_: argparse.Namespace) -> int:
    """Input devices, as ``--device`` takes them."""
    for device in devices():
        print(f"{device.index:3d}  {device.name}  ({device.channels} in, {device.default_rate} Hz)")
    return exitcodes.OK


def event_line(event: Event) -> str:
    """One line per message, as the demo's subscriber prints them."""
    if isinstance(event, Onset):
        return (
            f"onset  {event.source} #{event.seq:<3d} at {event.stream_time_s:7.3f} s  "
            f"peak {event.peak_dbfs:6.1f} dBFS"
        )
    if isinstance(event, Timbre):
        values = "  ".join(f"{k[:5]} {v:5.1f}" for k, v in event.descriptors.items())
        kind = "early " if event.provisional else "timbre"
        return f"{kind} {event.source} #{event.seq:<3d} {values}  ({event.latency_ms:.0f} ms)"
    if isinstance(event, End):
        return f"end    {event.source} {event.reason} after {event.hits} hits"
    return (
        f"status {event.source} hits {event.hits} drops {event.drops} "
        f"overruns {event.overruns} model {event.model_id}"
    )


def cmd_demo(args: argparse.Namespace) -> int:
    """The bundled recording through the daemon, printed as a subscriber receives it."""
    import zmq

    from timbrecast.daemon.protocol import decode

    recordings = bundled.demo_recordings()
    if not recordings:
        raise ConfigError("no demo recording bundled")
    model = load_model(args.model, args.runtime, args.threads)
    early_model = load_early(args.early_model, args.runtime, args.threads)
    source = FileInput(recordings[0], realtime=not args.fast)
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"")
    subscriber.setsockopt(zmq.RCVHWM, 100_000)
    subscriber.connect(args.endpoint)
    publisher = Publisher(args.endpoint)
    pipeline = Pipeline(
        model,
        source.sample_rate,
        ["demo"],
        publisher,
        early_model=early_model,
        wait_for_model=args.fast,
        health=Health(drops=lambda: publisher.drops),
    )
    print(
        f"{recordings[0].name}: {model.model_id} on {model.runtime.name}; "
        f"subscribed to {args.endpoint}"
    )

    def drain(wait_ms: int = 0) -> bool:
        while subscriber.poll(wait_ms):
            print(event_line(decode(subscriber.recv_multipart())), flush=True)
            wait_ms = 0
        return True

    with pipeline:
        for _ in range(250):
            pipeline.publish_status()
            if subscriber.poll(20):
                break
        else:
            raise ConfigError(f"the demo's subscriber never connected to {args.endpoint}")
        drain()
        pipeline.feed(source, drain)
    publisher.close()
    drain(500)
    subscriber.close(linger=0)
    return exitcodes.OK


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", type=Path, help="a .tflite exported by `trainer export`")
    group.add_argument(
        "--runtime",
        choices=runtime.NAMES,
        help="TFLite runtime (default: the best installed)",
    )
    group.add_argument("--threads", type=int, help="inference threads (default 1)")


def add_early_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--early-model",
        metavar="FILE|none",
        help="early-estimate model for provisional timbre messages a few ms after each "
        "attack (default: the bundled one, if any; none: off)",
    )


def add_detector_flags(parser: argparse.ArgumentParser) -> None:
    defaults = DetectorSettings()
    group = parser.add_argument_group("onset detection")
    group.add_argument(
        "--threshold",
        type=float,
        help=f"flux above the adaptive median for a hit; lower is more sensitive "
        f"(default {defaults.threshold})",
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
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    parser.add_argument(
        "--verbose", action="store_true", help="print tracebacks with errors (for bug reports)"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = commands.add_parser(
        "info", help="show the contract, installed runtimes, bundled model and demo"
    )
    info.set_defaults(func=cmd_info)

    analyze = commands.add_parser(
        "analyze",
        help="hits of audio files as JSON lines (the live pipeline, as fast as it goes)",
        description="Run the daemon's own pipeline over files as fast as possible and "
        "write one JSON object per hit: file, source, onset_s, peak_dbfs, rms_dbfs, "
        "descriptors. Each channel is a source, as in `run`: named by --sources, else in1, "
        "in2, ...; a mono file's one source is named after the file.",
        epilog="examples:\n  timbrecastd analyze take1.wav --jsonl hits.jsonl\n"
        "  timbrecastd analyze overheads.wav --mix\n"
        "  timbrecastd analyze kit.wav --sources snare,kick\n"
        "  timbrecastd analyze --oneshot ~/samples --jsonl tags.jsonl",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    analyze.add_argument("files", nargs="+", type=Path, metavar="FILE", help="files or folders")
    analyze.add_argument("--jsonl", type=Path, help="write here instead of standard output")
    analyze.add_argument(
        "--oneshot",
        action="store_true",
        help="each file is one hit, no onset detection (tagging a sample library)",
    )
    sources = analyze.add_mutually_exclusive_group()
    sources.add_argument("--mix", action="store_true", help="average the channels to one source")
    sources.add_argument(
        "--sources", metavar="NAMES", help="comma-separated names, one per channel"
    )
    add_model_flags(analyze)
    add_detector_flags(analyze)
    analyze.set_defaults(func=cmd_analyze)

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

    check = commands.add_parser(
        "check",
        help="validate configuration, model, device and endpoint, and say what is wrong",
        description="Resolve the settings as `run` would (file, then flags), then load the "
        "model, find the device and try the endpoint, one line per check. Exit 78 if "
        "anything is wrong.",
        epilog="example: timbrecastd check --config /etc/timbrecast/timbrecast.toml",
    )
    add_run_flags(check)
    check.set_defaults(func=cmd_check)

    keys = commands.add_parser(
        "keygen",
        help="create a CURVE key pair (the daemon's, or a client's)",
        description="Writes NAME.key (public: give it to the other side) and "
        "NAME.key_secret (private, mode 600). The daemon uses server.key_secret "
        "([security] secret_key); each client's NAME.key goes into [security] clients.",
        epilog="examples:\n  timbrecastd keygen --out /etc/timbrecast/keys\n"
        "  timbrecastd keygen --out ~/.config/timbrecast --name laptop",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.add_argument("--out", type=Path, required=True, help="folder for the key files")
    keys.add_argument("--name", default="server", help="file name stem (default server)")
    keys.add_argument(
        "--force",
        action="store_true",
        help="replace existing keys (every client must then get the new public key)",
    )
    keys.set_defaults(func=cmd_keygen)

    demo = commands.add_parser(
        "demo",
        help="the bundled recording through the daemon, shown as a subscriber sees it",
        epilog="example: timbrecastd demo --fast",
    )
    demo.add_argument("--fast", action="store_true", help="do not pace in real time")
    demo.add_argument(
        "--endpoint",
        default="tcp://127.0.0.1:5599",
        help="loopback endpoint for the demo (default tcp://127.0.0.1:5599)",
    )
    add_model_flags(demo)
    add_early_flag(demo)
    demo.set_defaults(func=cmd_demo)

    listing = commands.add_parser(
        "devices",
        help="list audio input devices (needs the live extra)",
        epilog="example: timbrecastd devices; then timbrecastd run --device 'USB Audio'",
    )
    listing.set_defaults(func=cmd_devices)
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
