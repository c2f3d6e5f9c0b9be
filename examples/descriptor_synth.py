"""A drum voice shaped by timbrecast's descriptors: the loop closed, end to end.

Listens to a daemon (or a broker) and, for every hit, synthesises a drum sound
from its seven descriptors, placed at the hit's time, into a WAV file:

- depth lowers the body's pitch, boominess lengthens its decay;
- hardness bends the body's pitch down from above and sets the attack click;
- roughness frequency-modulates the body (inharmonic sidebands, a rattle);
- brightness opens the noise layer's low-pass filter;
- sharpness lifts the noise layer and its highs;
- warmth raises a low shelf under everything.

    timbrecastd run --file take.wav &
    python examples/descriptor_synth.py --out hits.wav

It listens until Ctrl-C (or SIGTERM), ``--hits N`` hits, or ``--idle`` seconds
without a hit, then writes what it heard. ``--provisional`` uses each hit's
first early estimate (25 ms after the attack by default) instead of the final one: what a live
synth shaping the sound a hit triggers would use. numpy is the only dependency
besides the clients' subscriber.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
import wave
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from timbrecast.clients import Subscriber, Timbre
from timbrecast.daemon.protocol import DESCRIPTORS

RATE = 44_100
#: Silence before the first hit, so that a player does not start on an attack.
LEAD_S = 0.1
#: Zero padding for the frequency-domain filters: their (zero-phase) ringing
#: before an attack falls in it rather than wrapping onto the tail.
PAD = 4096


def _filtered(audio: np.ndarray, gain: np.ndarray) -> np.ndarray:
    """``audio`` through a zero-phase filter of magnitude ``gain`` (on ``_frequencies``).

    Filtering in the frequency domain keeps the voice a few vectorised numpy
    calls, with no per-sample loop and no scipy.
    """
    size = _fft_size(audio.size)
    return np.fft.irfft(np.fft.rfft(audio, size) * gain, size)[: audio.size]


def _fft_size(length: int) -> int:
    """At least ``PAD`` longer, and a power of two: FFTs of prime sizes are slow."""
    return 1 << (length + PAD - 1).bit_length()


def _frequencies(length: int) -> np.ndarray:
    """The bin frequencies (Hz) ``_filtered`` uses for a signal of ``length`` samples."""
    return np.fft.rfftfreq(_fft_size(length), 1.0 / RATE)


def voice(descriptors: Mapping[str, float], velocity: float = 1.0, seed: int = 0) -> np.ndarray:
    """One drum hit (float64, peak ``velocity``) from the seven descriptors on the 0-100 scale."""
    d = {name: min(100.0, max(0.0, float(descriptors[name]))) / 100.0 for name in DESCRIPTORS}
    t = np.arange(round((0.15 + 0.85 * d["boominess"]) * RATE)) / RATE
    f = _frequencies(t.size)

    pitch = 240.0 / 6.0 ** d["depth"]  # 240 Hz for a shallow hit down to 40 Hz for a deep one
    sweep = pitch * (1.0 + 2.0 * d["hardness"] * np.exp(-t * 40.0))
    phase = 2.0 * np.pi * np.cumsum(sweep) / RATE
    # A membrane's inharmonic mode ratio, so that the sidebands sit above the pitch.
    modulator = 2.0 * d["roughness"] * np.sin(2.3 * phase)
    body = np.sin(phase + modulator) * np.exp(-t / (0.04 + 0.4 * d["boominess"]))

    lowpass = 1.0 / (1.0 + (f / (400.0 * 40.0 ** d["brightness"])) ** 2)  # 400 Hz to 16 kHz
    presence = 1.0 + 3.0 * d["sharpness"] * f**2 / (f**2 + 4000.0**2)
    noise = _filtered(np.random.default_rng(seed).standard_normal(t.size), lowpass * presence)
    noise *= (0.1 + 0.5 * d["sharpness"]) * np.exp(-t / 0.06) / max(1e-9, float(noise.std()))

    click = np.zeros_like(t)
    width = round(0.002 * RATE)
    click[:width] = 3.0 * d["hardness"] * np.hanning(2 * width)[width:]

    shelf = 1.0 + 3.0 * d["warmth"] / (1.0 + (f / 150.0) ** 2)
    out = _filtered(body + noise + click, shelf)
    return velocity * out / max(1e-9, float(np.abs(out).max()))


def velocity_of(peak_dbfs: float, floor_db: float = -60.0) -> float:
    """The hit's peak level as a gain, linear in dB as in the OSC and MIDI bridges (>= 0.05)."""
    return min(1.0, max(0.05, (peak_dbfs - floor_db) / -floor_db))


def render(hits: list[Timbre]) -> np.ndarray:
    """Every hit's voice at its time, ``LEAD_S`` after the first, peak-limited to 1.

    Placed by ``unix_ns``, not ``stream_time_s``: hits of several daemons
    through a broker share the UNIX clock, not one stream's.
    """
    if not hits:
        return np.zeros(0)
    first = min(h.unix_ns for h in hits)
    placed = [
        (
            round(((h.unix_ns - first) / 1e9 + LEAD_S) * RATE),
            voice(h.descriptors, velocity_of(h.peak_dbfs), h.seq),
        )
        for h in hits
    ]
    out = np.zeros(max(at + v.size for at, v in placed))
    for at, v in placed:
        out[at : at + v.size] += v
    return out / max(1.0, float(np.abs(out).max()))


def write_wav(path: Path, audio: np.ndarray) -> None:
    """16-bit mono, with the standard library's ``wave``: no soundfile needed."""
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(np.round(audio * 32767.0).astype("<i2").tobytes())


def listen(
    subscriber: Subscriber,
    stop: threading.Event,
    provisional: bool,
    count: int | None,
    idle_s: float | None,
) -> list[Timbre]:
    """The hits heard until ``stop``, the end of the stream, ``count`` hits, or ``idle_s``
    seconds after the last one."""
    hits: list[Timbre] = []
    # A daemon with two early models sends two provisional estimates per hit: the
    # synth plays the first.
    heard: set[tuple[str, int, int]] = set()
    last = time.monotonic()
    while not stop.is_set() and not subscriber.finished and (count is None or len(hits) < count):
        item = subscriber.recv(timeout_s=0.1)
        if isinstance(item, Timbre) and item.provisional == provisional:
            key = (item.source, item.seq, item.unix_ns)
            if key in heard:
                continue
            heard.add(key)
            hits.append(item)
            last = time.monotonic()
        elif idle_s is not None and hits and time.monotonic() - last > idle_s:
            break
    return hits


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
        "  python examples/descriptor_synth.py --out hits.wav\n"
        "  python examples/descriptor_synth.py --connect tcp://broker.local:5557 "
        "--out hits.wav --hits 48\n"
        "  python examples/descriptor_synth.py --out early.wav --provisional --idle 5",
    )
    parser.add_argument(
        "--connect",
        default="tcp://127.0.0.1:5556",
        metavar="ENDPOINT",
        help="daemon or broker (default %(default)s)",
    )
    parser.add_argument("--out", type=Path, required=True, help="WAV file to write")
    parser.add_argument("--hits", type=int, metavar="N", help="stop after N hits")
    parser.add_argument("--idle", type=float, metavar="SECONDS", help="stop this long after a hit")
    parser.add_argument(
        "--provisional", action="store_true", help="use the early estimates, not the final ones"
    )
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with Subscriber(args.connect, kinds=["timbre"], silence_s=None) as subscriber:
        print(f"listening to {args.connect}; Ctrl-C writes {args.out}", file=sys.stderr, flush=True)
        hits = listen(subscriber, stop, args.provisional, args.hits, args.idle)
    audio = render(hits)
    write_wav(args.out, audio)
    print(f"rendered {len(hits)} hits into {args.out} ({audio.size / RATE:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
