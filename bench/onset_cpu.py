"""CPU of onset detection alone, per 48 kHz channel: each of our methods beside
aubio's specflux (online, hop 128), on the same audio, in one run.

Why: the detector runs on every sample of every channel, so its cost sets how
many microphones a core can serve; aubio's C implementation is the yardstick
(issue 19 asks for ours within 2x of it). The audio is the bundled demo
resampled to 48 kHz, repeated ``--repeat`` times, fed in the daemon's
128-frame blocks; each detector runs ``--rounds`` times and the fastest round
counts (the least disturbed by whatever else the machine does). Ratios are
against aubio in the same run.

``--live`` paces the blocks in real time, each detector sleeping until its next
block is due, as the daemon's audio thread does between a device's blocks. That
is the figure a live box pays: on a virtual machine, work done in short bursts
between sleeps costs several times what the same work costs back to back, and
a detector of many small numpy calls pays more of that than aubio's C loop.
The row "one numpy call per block" is no detector: it shows what the machine
charges for a wake-up and a first touch of numpy, the floor under every row.
``--live`` leaves out the row of the learned activation alone, which is timed
on frames cut beforehand and has no blocks to wait for.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator

import numpy as np
import soxr

from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.activation import Activation
from timbrecast.daemon.inputs import BLOCK_FRAMES
from timbrecast.daemon.onset import FRAME_S, HOP_S, METHODS, DetectorSettings, Framer, OnsetDetector
from timbrecast.daemon.preprocess import to_mono

RATE = 48_000


def blocks(audio: np.ndarray, live: bool) -> Iterator[np.ndarray]:
    """The audio in the daemon's blocks, each one at its time in the stream if ``live``."""
    start = time.monotonic()
    for i in range(0, audio.size - audio.size % BLOCK_FRAMES, BLOCK_FRAMES):
        if live:
            time.sleep(max(0.0, start + (i + BLOCK_FRAMES) / RATE - time.monotonic()))
        yield audio[i : i + BLOCK_FRAMES]


def ours(method: str) -> Callable[[np.ndarray, bool], int]:
    def run(audio: np.ndarray, live: bool) -> int:
        detector = OnsetDetector(RATE, DetectorSettings(method=method))
        return sum(len(detector.process(block)) for block in blocks(audio, live))

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


def one_numpy_call(audio: np.ndarray, live: bool) -> None:
    """Not a detector: one numpy call per block, the least any Python detector does.
    Beside the others it shows what the machine charges for waking up at all."""
    for block in blocks(audio, live):
        block.sum()


def aubio_specflux(audio: np.ndarray, live: bool) -> int:
    import aubio

    onset = aubio.onset("specflux", 1024, BLOCK_FRAMES, RATE)
    return sum(bool(onset(block)[0]) for block in blocks(audio, live))


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/onset_cpu.py",
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/onset_cpu.py --repeat 5",
    )
    parser.add_argument("--repeat", type=int, default=5, help="demo repeats (11.1 s each)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per detector (fastest counts)")
    parser.add_argument(
        "--live",
        action="store_true",
        help="feed each block at its time, sleeping between blocks as a live input does "
        "(takes the audio's duration per detector and round)",
    )
    args = parser.parse_args()
    demo = audiofile.read(bundled.demo_recordings()[0])
    mono = soxr.resample(to_mono(demo.frames), demo.sample_rate, RATE).astype(np.float32)
    audio = np.tile(mono, args.repeat)
    seconds = audio.size / RATE
    detectors: dict[str, Callable[[np.ndarray, bool], int | None]] = {
        "aubio specflux, hop 128": aubio_specflux
    }
    detectors |= {f"ours, {method}": ours(method) for method in METHODS}
    detectors["one numpy call per block (not a detector)"] = one_numpy_call
    rows = []
    for name, detect in detectors.items():
        best, found = float("inf"), None
        for _ in range(args.rounds):
            start = time.process_time()
            found = detect(audio, args.live)
            best = min(best, time.process_time() - start)
        rows.append((name, best * 1000 / seconds, found))
    if not args.live:
        alone = min(activation_alone(audio) for _ in range(args.rounds))
        rows.append(
            ("learned activation alone (features, memory, network)", alone * 1000 / seconds, None)
        )
    reference = rows[0][1]
    fed = "paced in real time" if args.live else "back to back"
    print(f"{seconds:.1f} s of audio at {RATE} Hz, {BLOCK_FRAMES}-frame blocks {fed}\n")
    print("| detector | CPU ms per audio s | channels per core | x aubio | onsets |")
    print("|---|---|---|---|---|")
    for name, ms, found in rows:
        # Onsets and channels per core mean something only for a whole detector.
        per_core, onsets = ("-", "-") if found is None else (f"{1000 / ms:.0f}", str(found))
        print(f"| {name} | {ms:.1f} | {per_core} | {ms / reference:.1f} | {onsets} |")


if __name__ == "__main__":
    main()
