"""``timbrecastd demo``: the bundled recording through the daemon, as a subscriber sees it."""

from __future__ import annotations

import argparse

from timbrecast.daemon import bundled, exitcodes
from timbrecast.daemon.analysis import load_model
from timbrecast.daemon.commands.flags import (
    add_early_flag,
    add_model_flags,
    load_early,
)
from timbrecast.daemon.config import ConfigError
from timbrecast.daemon.contract import PREROLL_S
from timbrecast.daemon.inputs import FileInput
from timbrecast.daemon.pipeline import Health, Pipeline
from timbrecast.daemon.protocol import End, Event, Onset, Timbre
from timbrecast.daemon.publisher import Publisher


def event_line(event: Event) -> str:
    """One line per message, as the demo's subscriber prints them."""
    if isinstance(event, Onset):
        return (
            f"onset  {event.source} #{event.seq:<3d} at {event.stream_time_s:7.3f} s  "
            f"peak {event.peak_dbfs:6.1f} dBFS"
        )
    if isinstance(event, Timbre):
        values = "  ".join(f"{k[:5]} {v:5.1f}" for k, v in event.descriptors.items())
        if event.provisional:  # several early models: how much of the hit each heard
            kind, heard = "early ", f", {(event.audio_s - PREROLL_S) * 1e3:.0f} ms of the hit"
        else:
            kind, heard = "timbre", ""
        return (
            f"{kind} {event.source} #{event.seq:<3d} {values}  ({event.latency_ms:.0f} ms{heard})"
        )
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
    early_models = load_early(args.early_model, args.runtime, args.threads)
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
        early_models=early_models,
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


def add_parser(commands: argparse._SubParsersAction) -> None:
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
