"""``timbrecastd``: the daemon's command line."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from timbrecast.daemon import audiofile, bundled, exitcodes, runtime
from timbrecast.daemon.contract import (
    DESCRIPTORS,
    INPUT_LENGTH,
    NORMALISATION,
    PREPROCESS_VERSION,
    SAMPLE_RATE,
)
from timbrecast.daemon.inputs import PCM_FORMATS, FileInput, PcmInput
from timbrecast.daemon.live import LiveInput, LiveInputError, devices
from timbrecast.daemon.model import Model
from timbrecast.daemon.modelfile import ModelContractError
from timbrecast.daemon.onset import DetectorSettings
from timbrecast.daemon.pipeline import Pipeline, levels
from timbrecast.daemon.preprocess import PreprocessError, attack_index, prepare, to_mono
from timbrecast.daemon.progress import Progress
from timbrecast.daemon.protocol import Event, Onset, Timbre
from timbrecast.daemon.publisher import DEFAULT_ENDPOINT, Publisher, PublisherError

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


class ConfigError(ValueError):
    """A flag or setting the daemon cannot use (exit status 78)."""


def load_model(args: argparse.Namespace) -> Model:
    """The model named by ``--model``, or the bundled default."""
    path = args.model
    if path is None:
        models = bundled.models()
        if not models:
            raise ConfigError("no model given and none bundled: pass --model FILE.tflite")
        path = models[0]
    return Model(path, runtime_name=args.runtime, threads=args.threads)


def detector_settings(args: argparse.Namespace) -> DetectorSettings:
    try:
        return DetectorSettings(args.threshold, args.floor_db, args.min_interval)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def hit_record(name: str, event: Timbre) -> dict[str, Any]:
    """One hit as ``analyze`` writes it (one JSON object per line)."""
    return {
        "file": name,
        "seq": event.seq,
        "onset_s": round(event.stream_time_s, 6),
        "peak_dbfs": round(event.peak_dbfs, 2),
        "rms_dbfs": round(event.rms_dbfs, 2),
        "audio_s": round(event.audio_s, 4),
        "descriptors": {k: round(v, 3) for k, v in event.descriptors.items()},
        "model_id": event.model_id,
    }


def analyze_file(
    path: Path, model: Model, settings: DetectorSettings, full_second: bool
) -> list[dict[str, Any]]:
    """Every hit in a file, through the live pipeline fed as fast as it goes."""
    source = FileInput(path, realtime=False, block=4096)
    described: list[Timbre] = []
    lock = threading.Lock()

    def sink(event: Event) -> None:
        if isinstance(event, Timbre):
            with lock:
                described.append(event)

    pipeline = Pipeline(model, source.sample_rate, [path.stem], sink, settings, full_second)
    for block in source:
        pipeline.process(block.frames.mean(axis=1, keepdims=True), block.unix_ns)
    pipeline.finish()
    return [hit_record(str(path), e) for e in sorted(described, key=lambda e: e.seq)]


def oneshot_records(paths: list[Path], model: Model, skipped: list[str]) -> list[dict[str, Any]]:
    """Each file as one hit: the fast way to tag a sample library."""
    records: list[dict[str, Any]] = []
    progress = Progress(len(paths), "tagging")
    batch: list[tuple[Path, np.ndarray, dict[str, Any]]] = []

    def run_batch() -> None:
        values = model.predict(np.stack([clip for _, clip, _ in batch]))
        for (_, _, record), row in zip(batch, values, strict=True):
            record["descriptors"] = {
                k: round(float(v), 3) for k, v in zip(DESCRIPTORS, row, strict=True)
            }
            records.append(record)
        batch.clear()

    for path in paths:
        try:
            audio = audiofile.read(path)
            clip = prepare(audio.frames, audio.sample_rate)
        except (audiofile.AudioFileError, PreprocessError) as exc:
            skipped.append(f"{path}: {exc}")
            progress.update()
            continue
        mono = to_mono(audio.frames)
        peak, rms = levels(mono)
        record = {
            "file": str(path),
            "onset_s": round(attack_index(mono) / audio.sample_rate, 6),
            "peak_dbfs": round(peak, 2),
            "rms_dbfs": round(rms, 2),
            "audio_s": round(min(mono.size / audio.sample_rate, 1.0), 4),
        }
        batch.append((path, clip, record))
        if len(batch) == model.batch:
            run_batch()
        progress.update()
    if batch:
        run_batch()
    progress.close()
    return records


def cmd_analyze(args: argparse.Namespace) -> int:
    """Hits of files as JSON lines: onset, level, the seven descriptors."""
    model = load_model(args)
    settings = detector_settings(args)
    paths = audiofile.expand(args.files)
    skipped: list[str] = []
    out: TextIO = args.jsonl.open("w") if args.jsonl else sys.stdout
    hits = 0
    try:
        if args.oneshot:
            records = oneshot_records(paths, model, skipped)
        else:
            records = []
            progress = Progress(len(paths), "analysing")
            for path in paths:
                try:
                    records += analyze_file(path, model, settings, args.full_second)
                except (audiofile.AudioFileError, OSError) as exc:
                    skipped.append(f"{path}: {exc}")
                progress.update()
            progress.close()
        for record in records:
            out.write(json.dumps(record) + "\n")
            hits += 1
    finally:
        if args.jsonl:
            out.close()
    for line in skipped:
        print(f"skipped {line}", file=sys.stderr)
    print(
        f"{hits} hits from {len(paths) - len(skipped)} of {len(paths)} files, "
        f"{len(skipped)} skipped (model {model.model_id})",
        file=sys.stderr,
    )
    return exitcodes.DATA if skipped else exitcodes.OK


def cmd_run(args: argparse.Namespace) -> int:
    """Listen and publish until the input ends or SIGTERM/SIGINT."""
    model = load_model(args)
    settings = detector_settings(args)
    if sum(x is not None and x is not False for x in (args.file, args.stdin, args.device)) != 1:
        raise ConfigError("choose one input: --device NAME, --file PATH or --stdin")
    if args.file is not None:
        source: FileInput | PcmInput | LiveInput = FileInput(args.file, realtime=not args.fast)
    elif args.stdin:
        source = PcmInput(args.rate or 48000, args.channels, args.format)
    else:
        source = LiveInput(args.device, args.rate, parse_channels(args.input_channels))
        source.open()
    names = (
        args.sources.split(",") if args.sources else [f"in{i + 1}" for i in range(source.channels)]
    )
    if len(names) != source.channels:
        raise ConfigError(f"--sources names {len(names)} sources for {source.channels} channels")
    endpoint = args.connect or args.endpoint
    publisher = Publisher(endpoint, hwm=args.hwm, connect=args.connect is not None)
    pipeline = Pipeline(model, source.sample_rate, names, publisher, settings, args.full_second)
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    print(
        f"timbrecastd: {model.model_id} on {model.runtime.name}, {len(names)} source(s) "
        f"at {source.sample_rate} Hz, publishing {'to' if args.connect else 'on'} {endpoint}",
        file=sys.stderr,
    )
    for block in source:
        pipeline.process(block.frames, block.unix_ns)
        if stop.is_set():
            break
    if isinstance(source, LiveInput):
        source.close()
        pipeline.overruns = source.overruns
    pipeline.finish()
    publisher.close()
    return exitcodes.OK


def parse_channels(text: str | None) -> list[int] | None:
    """``1,3`` (1-based, as on an interface's front panel) -> [0, 2]."""
    if text is None:
        return None
    try:
        channels = [int(part) - 1 for part in text.split(",")]
    except ValueError as exc:
        raise ConfigError(f"--input-channels {text!r}: expected numbers like 1,2") from exc
    if min(channels) < 0:
        raise ConfigError(f"--input-channels {text!r}: channels count from 1")
    return channels


def cmd_devices(_: argparse.Namespace) -> int:
    """Input devices, as ``--device`` takes them."""
    for device in devices():
        print(f"{device.index:3d}  {device.name}  ({device.channels} in, {device.default_rate} Hz)")
    return exitcodes.OK


def describe(event: Event) -> str:
    """One line per message, as the demo's subscriber prints them."""
    if isinstance(event, Onset):
        return (
            f"onset  {event.source} #{event.seq:<3d} at {event.stream_time_s:7.3f} s  "
            f"peak {event.peak_dbfs:6.1f} dBFS"
        )
    if isinstance(event, Timbre):
        values = "  ".join(f"{k[:5]} {v:5.1f}" for k, v in event.descriptors.items())
        return f"timbre {event.source} #{event.seq:<3d} {values}  ({event.latency_ms:.0f} ms)"
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
    model = load_model(args)
    source = FileInput(recordings[0], realtime=not args.fast)
    subscriber = zmq.Context.instance().socket(zmq.SUB)
    subscriber.setsockopt(zmq.SUBSCRIBE, b"")
    subscriber.setsockopt(zmq.RCVHWM, 100_000)
    subscriber.connect(args.endpoint)
    publisher = Publisher(args.endpoint)
    pipeline = Pipeline(model, source.sample_rate, ["demo"], publisher)
    print(
        f"{recordings[0].name}: {model.model_id} on {model.runtime.name}; "
        f"subscribed to {args.endpoint}"
    )

    def drain(wait_ms: int) -> None:
        while subscriber.poll(wait_ms):
            print(describe(decode(subscriber.recv_multipart())), flush=True)
            wait_ms = 0

    for block in source:
        pipeline.process(block.frames, block.unix_ns)
        drain(0)
    pipeline.finish()
    publisher.close()
    drain(500)
    subscriber.close(linger=0)
    return exitcodes.OK


def add_model_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("model")
    group.add_argument("--model", type=Path, help="a .tflite exported by `trainer export`")
    group.add_argument(
        "--runtime",
        choices=[name for name, _ in runtime.RUNTIMES],
        help="TFLite runtime (default: the best installed)",
    )
    group.add_argument("--threads", type=int, default=1, help="inference threads (default 1)")


def add_detector_flags(parser: argparse.ArgumentParser) -> None:
    defaults = DetectorSettings()
    group = parser.add_argument_group("onset detection")
    group.add_argument(
        "--threshold",
        type=float,
        default=defaults.threshold,
        help=f"flux above the adaptive median for a hit; lower is more sensitive "
        f"(default {defaults.threshold})",
    )
    group.add_argument(
        "--floor-db",
        type=float,
        default=defaults.floor_db,
        help=f"quieter frames never start a hit, and hits end when they decay to it "
        f"(default {defaults.floor_db} dBFS)",
    )
    group.add_argument(
        "--min-interval",
        type=float,
        default=defaults.min_interval_s,
        help=f"retrigger guard in seconds (default {defaults.min_interval_s})",
    )
    group.add_argument(
        "--full-second",
        action="store_true",
        help="always cut 1 s per hit, overlapping the next (the seed's behaviour)",
    )


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

    analyze = commands.add_parser(
        "analyze",
        help="hits of audio files as JSON lines (the live pipeline, as fast as it goes)",
        description="Run the daemon's own pipeline over files as fast as possible and "
        "write one JSON object per hit: file, onset_s, peak_dbfs, rms_dbfs, descriptors.",
        epilog="examples:\n  timbrecastd analyze take1.wav --jsonl hits.jsonl\n"
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
    add_model_flags(analyze)
    add_detector_flags(analyze)
    analyze.set_defaults(func=cmd_analyze)

    run = commands.add_parser(
        "run",
        help="listen and publish every hit over ZeroMQ",
        description="Listen to an input, detect each hit, describe it, and publish onset, "
        "timbre and status messages (docs/protocol.md) until the input ends or SIGTERM.",
        epilog="examples:\n  timbrecastd run --file take1.wav\n"
        "  arecord -f S16_LE -r 48000 -c 2 | timbrecastd run --stdin --rate 48000 "
        "--channels 2 --sources snare,kick",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = run.add_argument_group("input (one of)")
    source.add_argument("--device", help="capture device: index or (part of) its name")
    source.add_argument(
        "--input-channels", help="with --device: which channels, from 1 (default 1), e.g. 1,2"
    )
    source.add_argument("--file", type=Path, help="an audio file, paced in real time")
    source.add_argument("--fast", action="store_true", help="with --file: as fast as possible")
    source.add_argument("--stdin", action="store_true", help="raw interleaved PCM on stdin")
    source.add_argument(
        "--rate", type=int, help="--device: default the device's; --stdin: default 48000"
    )
    source.add_argument("--channels", type=int, default=1, help="with --stdin (default 1)")
    source.add_argument("--format", choices=sorted(PCM_FORMATS), default="s16le")
    run.add_argument("--sources", help="comma-separated source names, one per channel")
    run.add_argument(
        "--endpoint",
        default=DEFAULT_ENDPOINT,
        help=f"bind and publish here (default {DEFAULT_ENDPOINT})",
    )
    run.add_argument(
        "--connect",
        metavar="ENDPOINT",
        help="publish into a broker's XSUB side instead of binding, e.g. tcp://stage-hub:5559",
    )
    run.add_argument("--hwm", type=int, default=1000, help="send high-water mark (messages)")
    add_model_flags(run)
    add_detector_flags(run)
    run.set_defaults(func=cmd_run)

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
    try:
        return args.func(args)
    except (ConfigError, ModelContractError, PublisherError, LiveInputError) as exc:
        print(f"timbrecastd: {exc}", file=sys.stderr)
        return exitcodes.CONFIG
    except (runtime.RuntimeUnavailable, ImportError) as exc:
        print(f"timbrecastd: {exc}", file=sys.stderr)
        return exitcodes.UNAVAILABLE
    except audiofile.AudioFileError as exc:
        print(f"timbrecastd: {exc}", file=sys.stderr)
        return exitcodes.NO_INPUT


if __name__ == "__main__":
    sys.exit(main())
