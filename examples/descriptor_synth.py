"""A drum voice shaped by timbrecast's descriptors: the loop end to end.

Listens to a daemon (or a broker), and for every hit synthesises a drum sound
from its seven descriptors, placed at the hit's time, into a WAV file:

- depth and boominess lower the body's pitch and lengthen its decay;
- warmth adds a sub-octave under the body;
- brightness opens the noise layer's filter, sharpness makes it louder;
- hardness sets the click at the attack;
- roughness modulates the amplitude (a rattle).

    timbrecastd run --file take.wav &
    python examples/descriptor_synth.py --out resynth.wav

It stops after ``--hits`` hits, after ``--idle`` seconds without one, or on
Ctrl-C, and writes what it has. ``--provisional`` uses each hit's early
estimate (25 ms after the attack) instead of waiting for the final one: what a
live synth would do to shape the sound the hit triggers.
"""

from __future__ import annotations

import argparse
import time
import wave
from pathlib import Path

import numpy as np

from timbrecast.clients.subscriber import Subscriber, Timbre

RATE = 44_100


def voice(descriptors: dict[str, float], velocity: float = 1.0, seed: int = 0) -> np.ndarray:
    """One drum hit (float, -1..1) from the seven descriptors on the 0-100 scale."""
    d = {k: float(np.clip(v, 0.0, 100.0)) / 100.0 for k, v in descriptors.items()}
    low = 0.5 * (d["depth"] + d["boominess"])
    length = 0.15 + 0.85 * low
    t = np.arange(int(length * RATE)) / RATE
    pitch = 220.0 * 2.0 ** (-3.0 * low)
    sweep = pitch * (1.0 + 1.5 * d["hardness"] * np.exp(-t * 60.0))
    phase = 2.0 * np.pi * np.cumsum(sweep) / RATE
    body = np.sin(phase) + 0.8 * d["warmth"] * np.sin(phase / 2.0)
    body *= np.exp(-t / (0.05 + 0.35 * low))

    noise = np.random.default_rng(seed).standard_normal(t.size)
    alpha = np.exp(-2.0 * np.pi * (500.0 + 12_000.0 * d["brightness"]) / RATE)
    filtered = np.empty_like(noise)
    state = 0.0
    for i, x in enumerate(noise):
        state = alpha * state + (1.0 - alpha) * x
        filtered[i] = state
    bright = noise - filtered if d["brightness"] > 0.5 else filtered
    hiss = 0.6 * d["sharpness"] * bright * np.exp(-t / (0.02 + 0.1 * d["sharpness"]))

    click = np.zeros_like(t)
    width = int(0.002 * RATE)
    click[:width] = d["hardness"] * np.hanning(2 * width)[width:]
    rattle = 1.0 - 0.5 * d["roughness"] * (0.5 + 0.5 * np.sin(2 * np.pi * 45.0 * t))
    out = (body + hiss + click) * rattle
    return velocity * out / max(1e-9, float(np.abs(out).max()))


def velocity_of(peak_dbfs: float, floor_db: float = -60.0) -> float:
    return float(np.clip((peak_dbfs - floor_db) / -floor_db, 0.05, 1.0))


def render(hits: list[Timbre]) -> np.ndarray:
    """Every hit's voice at its time on the stream clock, the first hit at 0.1 s."""
    if not hits:
        return np.zeros(0, dtype=np.float32)
    start = min(h.stream_time_s for h in hits) - 0.1
    voices = [
        (
            round((h.stream_time_s - start) * RATE),
            voice(h.descriptors, velocity_of(h.peak_dbfs), h.seq),
        )
        for h in hits
    ]
    out = np.zeros(max(at + v.size for at, v in voices), dtype=np.float32)
    for at, v in voices:
        out[at : at + v.size] += v
    return out / max(1.0, float(np.abs(out).max()))


def write_wav(path: Path, audio: np.ndarray) -> None:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes((audio * 32767.0).astype("<i2").tobytes())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python examples/descriptor_synth.py --out resynth.wav --hits 48",
    )
    parser.add_argument("--connect", default="tcp://127.0.0.1:5556", help="daemon or broker")
    parser.add_argument("--out", type=Path, required=True, help="WAV file to write")
    parser.add_argument("--hits", type=int, help="stop after this many hits")
    parser.add_argument(
        "--idle", type=float, default=5.0, help="stop this long after the last hit (seconds)"
    )
    parser.add_argument("--provisional", action="store_true", help="use the early estimates")
    args = parser.parse_args(argv)

    hits: list[Timbre] = []
    last = time.monotonic()
    with Subscriber(args.connect, kinds=["timbre"], silence_s=None) as subscriber:
        try:
            while args.hits is None or len(hits) < args.hits:
                item = subscriber.recv(timeout_s=0.2)
                if isinstance(item, Timbre) and item.provisional == args.provisional:
                    hits.append(item)
                    last = time.monotonic()
                elif time.monotonic() - last > args.idle and hits:
                    break
        except KeyboardInterrupt:
            pass
    audio = render(hits)
    write_wav(args.out, audio)
    print(f"rendered {len(hits)} hits into {args.out} ({audio.size / RATE:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
