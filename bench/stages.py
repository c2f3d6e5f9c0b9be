"""Where a live channel's CPU goes: each stage of the daemon's pipeline, per 48 kHz
audio second, in one run.

Why: issue 19 asks for the live pipeline at <= 25 ms of CPU per audio second per
channel and for what each stage costs. This runs the daemon's own ``Pipeline`` (the
one ``run`` and ``analyze`` use) in this process on the bundled demo resampled to
48 kHz, repeated ``--repeat`` times, fed in the live input's 128-frame blocks,
with both models (early and final) and a sink that encodes each message as the
publisher would (msgpack). Each stage's functions are wrapped with a timer of the
CPU time of the thread that calls them (``time.thread_time``), so the inference
worker's stages count too; "the rest" is the process's CPU minus the stages
(block bookkeeping, queues, threads waking). Start-up (imports, loading the
models) is not counted. ZeroMQ's own I/O thread is not in this process's figure
(``bench/realtime.py`` measures the whole daemon process, sockets included).

This machine shares its cores with neighbours, so one run can read 30 % high:
``--rounds`` runs the whole thing several times and keeps each stage's fastest
round (and the fastest whole run).
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import soxr

from timbrecast.daemon import audiofile, bundled, pipeline, protocol
from timbrecast.daemon.analysis import load_model
from timbrecast.daemon.inference import Model
from timbrecast.daemon.inputs import BLOCK_FRAMES, ArrayInput
from timbrecast.daemon.onset import METHODS, DetectorSettings, OnsetDetector
from timbrecast.daemon.preprocess import to_mono
from timbrecast.daemon.segment import Segmenter

RATE = 48_000
SPENT: dict[str, float] = defaultdict(float)


def timed(stage: str, function: Callable[..., Any]) -> Callable[..., Any]:
    def run(*args: Any, **kwargs: Any) -> Any:
        start = time.thread_time()
        try:
            return function(*args, **kwargs)
        finally:
            SPENT[stage] += time.thread_time() - start

    return run


def instrument() -> None:
    """Wrap each stage where the pipeline calls it."""
    OnsetDetector.process_channels = timed("onset detection", OnsetDetector.process_channels)
    Segmenter.process = timed("segmentation (cutting hits)", Segmenter.process)
    pipeline.prepare = timed("preprocessing per hit (resample, align, normalise)", pipeline.prepare)
    pipeline.early = timed("preprocessing per hit (resample, align, normalise)", pipeline.early)
    Model.predict = timed("inference (early and final models)", Model.predict)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/stages.py",
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/stages.py --repeat 5 --rounds 3 --detector learned",
    )
    parser.add_argument("--repeat", type=int, default=5, help="demo repeats (11.1 s each)")
    parser.add_argument("--rounds", type=int, default=3, help="runs; the fastest counts")
    parser.add_argument("--detector", choices=METHODS, default=METHODS[0])
    args = parser.parse_args()
    demo = audiofile.read(bundled.demo_recordings()[0])
    mono = soxr.resample(to_mono(demo.frames), demo.sample_rate, RATE).astype(np.float32)
    audio = np.tile(mono, args.repeat)
    seconds = audio.size / RATE
    model = load_model(None)
    early_model = Model(bundled.early_model())
    messages: dict[str, int] = defaultdict(int)
    encode = timed("encoding messages (msgpack)", protocol.encode)

    def sink(event: Any) -> None:
        encode(event)
        messages[type(event).__name__] += 1

    instrument()
    settings = DetectorSettings(method=args.detector)
    best: dict[str, float] = {}
    fastest = float("inf")
    for _ in range(args.rounds):
        SPENT.clear()
        messages.clear()
        start = time.process_time()
        with pipeline.Pipeline(
            model, RATE, ["demo"], sink, settings, early_models=[early_model], wait_for_model=True
        ) as running:
            running.feed(ArrayInput(audio, RATE, block=BLOCK_FRAMES))
        total = time.process_time() - start
        fastest = min(fastest, total)
        SPENT["the rest (blocks, queues, threads)"] = total - sum(SPENT.values())
        for stage, spent in SPENT.items():
            best[stage] = min(best.get(stage, spent), spent)
    print(
        f"{seconds:.1f} s of audio at {RATE} Hz in {BLOCK_FRAMES}-frame blocks, detector "
        f"{args.detector}, fastest of {args.rounds} rounds; messages: {dict(messages)}\n"
    )
    print("| stage | CPU ms per audio s | share |")
    print("|---|---|---|")
    for stage, spent in sorted(best.items(), key=lambda item: -item[1]):
        print(f"| {stage} | {1000 * spent / seconds:.1f} | {spent / fastest:.0%} |")
    print(f"| **whole pipeline** | **{1000 * fastest / seconds:.1f}** | 100% |")


if __name__ == "__main__":
    main()
