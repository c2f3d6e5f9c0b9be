"""The example synth: each descriptor shapes the sound, and every published hit is played."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import wave
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from tests.clients.chain import stop
from tests.conftest import REPO, free_endpoint, script
from timbrecast.daemon.protocol import DESCRIPTORS

EXAMPLE = REPO / "examples" / "descriptor_synth.py"


@pytest.fixture(scope="module")
def synth() -> ModuleType:
    spec = importlib.util.spec_from_file_location("descriptor_synth", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def spectrum(audio: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """Frequencies (Hz) and power."""
    return np.fft.rfftfreq(audio.size, 1 / rate), np.abs(np.fft.rfft(audio)) ** 2


def share(low: float, high: float, below: float = np.inf) -> Callable[[np.ndarray, int], float]:
    """The share of the power under ``below`` Hz that lies in ``low``..``high`` Hz."""

    def measure(audio: np.ndarray, rate: int) -> float:
        freqs, power = spectrum(audio, rate)
        return float(power[(freqs >= low) & (freqs < high)].sum() / power[freqs < below].sum())

    return measure


def attack(audio: np.ndarray, rate: int) -> float:
    """The first 2 ms's share of the first 50 ms's energy."""
    return float(np.sum(audio[: rate // 500] ** 2) / np.sum(audio[: rate // 20] ** 2))


def lowness(audio: np.ndarray, rate: int) -> float:
    """1 / the strongest frequency."""
    freqs, power = spectrum(audio, rate)
    return float(1.0 / freqs[np.argmax(power)])


def centroid(audio: np.ndarray, rate: int) -> float:
    freqs, power = spectrum(audio, rate)
    return float(np.average(freqs, weights=power))


def length(audio: np.ndarray, rate: int) -> float:
    return audio.size / rate


#: For each descriptor, a measure that rises with it, after the example's docstring.
RISES_WITH = {
    "hardness": attack,
    "depth": lowness,
    "brightness": centroid,
    "roughness": share(150.0, 2000.0, below=2000.0),  # partials above the body's pitch
    "warmth": share(0.0, 150.0),
    "sharpness": share(4000.0, np.inf),
    "boominess": length,
}


@pytest.mark.parametrize("name", DESCRIPTORS)
def test_each_descriptor_changes_the_voice_its_way(synth: ModuleType, name: str) -> None:
    middle = dict.fromkeys(DESCRIPTORS, 50.0)
    low = synth.voice({**middle, name: 10.0})
    high = synth.voice({**middle, name: 90.0}, velocity=0.5)
    measure = RISES_WITH[name]
    assert measure(high, synth.RATE) > 1.2 * measure(low, synth.RATE)
    assert (np.abs(low).max(), np.abs(high).max()) == pytest.approx((1.0, 0.5))


@pytest.mark.parametrize(
    ("heard", "early"),
    [
        ([], []),
        # Two early models: two provisional estimates per hit, one note each hit.
        (["--provisional"], ["--early-model", "early-10ms-int8.tflite,early-25ms-int8.tflite"]),
    ],
)
def test_every_published_hit_is_synthesised_at_its_time(
    synth: ModuleType,
    demo: Path,
    demo_onsets: list[float],
    tmp_path: Path,
    heard: list[str],
    early: list[str],
) -> None:
    endpoint, out = free_endpoint(), tmp_path / "hits.wav"
    listener = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLE),
            "--connect",
            endpoint,
            "--out",
            str(out),
            "--idle",
            "1",
            *heard,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        # Subscribed before the daemon starts, which waits for the subscription.
        assert listener.stderr.readline().startswith(f"listening to {endpoint}")
        daemon = [
            script("timbrecastd"),
            "run",
            "--file",
            str(demo),
            "--fast",
            "--wait-subscriber",
            *early,
        ]
        subprocess.run([*daemon, "--endpoint", endpoint], capture_output=True, check=True)
        stdout, _ = listener.communicate(timeout=30)
    finally:
        if listener.poll() is None:
            stop(listener)
    assert listener.returncode == 0
    assert stdout.startswith(f"rendered {len(demo_onsets)} hits into {out}")

    with wave.open(str(out)) as handle:
        assert handle.getframerate() == synth.RATE
        audio = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2") / 32768.0
    onsets = np.array(demo_onsets)
    starts = np.round((onsets - onsets[0] + synth.LEAD_S) * synth.RATE).astype(int)
    assert not np.any(audio[: starts[0] - 1])
    # Each attack (the click, the noise burst) stands out of what still rings before it:
    # slope energy over 2 ms, after against before, a millisecond either side of the
    # hit's time for the rounding of the clocks.
    slope = np.diff(audio, prepend=0.0) ** 2
    guard, window = synth.RATE // 1000, synth.RATE // 500
    for start in starts:
        before = slope[start - guard - window : start - guard].sum()
        after = slope[start - guard : start + window].sum()
        assert after > 4 * before, f"no hit at {start / synth.RATE:.3f} s"
