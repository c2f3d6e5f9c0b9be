"""CPU of onset detection alone, per 48 kHz channel: each of our methods beside
aubio's specflux (online, hop 128), on the same audio, in one run.

Why: the detector runs on every sample of every channel, so its cost sets how
many microphones a core can serve; aubio's C implementation is the yardstick
(issue 19 asks for ours within 2x of it). The audio is the bundled demo
resampled to 48 kHz, repeated ``--repeat`` times, fed in the daemon's
128-frame blocks; each detector runs ``--rounds`` times and the fastest round
counts (the least disturbed by whatever else the machine does). Ratios are
against aubio in the same run.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np
import soxr

from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.activation import Activation
from timbrecast.daemon.inputs import BLOCK_FRAMES
from timbrecast.daemon.onset import FRAME_S, HOP_S, METHODS, DetectorSettings, Framer, OnsetDetector
from timbrecast.daemon.preprocess import to_mono

RATE = 48_000


def ours(method: str) -> Callable[[np.ndarray], int]:
    def run(audio: np.ndarray) -> int:
        detector = OnsetDetector(RATE, DetectorSettings(method=method))
        return sum(
            len(detector.process(audio[i : i + BLOCK_FRAMES]))
            for i in range(0, audio.size, BLOCK_FRAMES)
        )

    return run


def activation_alone(audio: np.ndarray) -> float:
    """The learned method's own part: features, memory and the network, per frame
    (the frames cut beforehand, not timed)."""
    framer = Framer(RATE)
    magnitudes = framer.push(audio).magnitudes
    activation = Activation(RATE, framer.frame, FRAME_S, HOP_S)
    start = time.process_time()
    for magnitude in magnitudes:
        activation.step(magnitude[None])
    return time.process_time() - start


def aubio_specflux(audio: np.ndarray) -> int:
    import aubio

    onset = aubio.onset("specflux", 1024, BLOCK_FRAMES, RATE)
    usable = audio[: audio.size - audio.size % BLOCK_FRAMES]
    return sum(
        bool(onset(usable[i : i + BLOCK_FRAMES])[0]) for i in range(0, usable.size, BLOCK_FRAMES)
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/onset_cpu.py",
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/onset_cpu.py --repeat 5",
    )
    parser.add_argument("--repeat", type=int, default=5, help="demo repeats (11.1 s each)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per detector (fastest counts)")
    args = parser.parse_args()
    demo = audiofile.read(bundled.demo_recordings()[0])
    mono = soxr.resample(to_mono(demo.frames), demo.sample_rate, RATE).astype(np.float32)
    audio = np.tile(mono, args.repeat)
    seconds = audio.size / RATE
    detectors = {"aubio specflux, hop 128": aubio_specflux}
    detectors |= {f"ours, {method}": ours(method) for method in METHODS}
    rows = []
    for name, detect in detectors.items():
        best, found = float("inf"), 0
        for _ in range(args.rounds):
            start = time.process_time()
            found = detect(audio)
            best = min(best, time.process_time() - start)
        rows.append((name, best * 1000 / seconds, str(found)))
    alone = min(activation_alone(audio) for _ in range(args.rounds))
    rows.append(
        ("learned activation alone (features, memory, network)", alone * 1000 / seconds, "-")
    )
    reference = rows[0][1]
    print(f"{seconds:.1f} s of audio at {RATE} Hz, {BLOCK_FRAMES}-frame blocks\n")
    print("| detector | CPU ms per audio s | channels per core | x aubio | onsets |")
    print("|---|---|---|---|---|")
    for name, ms, found in rows:
        print(f"| {name} | {ms:.1f} | {1000 / ms:.0f} | {ms / reference:.1f} | {found} |")


if __name__ == "__main__":
    main()
