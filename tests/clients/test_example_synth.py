"""The example synth: descriptors shape the sound, and every published hit is played."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

from tests.conftest import REPO, free_endpoint, script
from timbrecast.daemon import bundled

EXAMPLE = REPO / "examples" / "descriptor_synth.py"


def load():
    spec = importlib.util.spec_from_file_location("descriptor_synth", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def centroid(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float((np.fft.rfftfreq(audio.size, 1 / rate) * spectrum).sum() / spectrum.sum())


def strongest(audio: np.ndarray, rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(audio))
    return float(np.fft.rfftfreq(audio.size, 1 / rate)[np.argmax(spectrum)])


def test_descriptors_shape_the_voice() -> None:
    synth = load()
    middle = dict.fromkeys(
        ("hardness", "depth", "brightness", "roughness", "warmth", "sharpness", "boominess"), 50.0
    )
    dull = synth.voice({**middle, "brightness": 5.0, "sharpness": 60.0})
    bright = synth.voice({**middle, "brightness": 95.0, "sharpness": 60.0})
    assert centroid(bright, synth.RATE) > 1.5 * centroid(dull, synth.RATE)
    short = synth.voice({**middle, "depth": 5.0, "boominess": 5.0})
    boomy = synth.voice({**middle, "depth": 95.0, "boominess": 95.0})
    assert boomy.size > 3 * short.size
    assert strongest(boomy, synth.RATE) < strongest(short, synth.RATE) / 2


def test_every_published_hit_is_synthesised(tmp_path: Path) -> None:
    endpoint = free_endpoint()
    out = tmp_path / "resynth.wav"
    listener = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--connect", endpoint, "--out", str(out), "--idle", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    daemon = subprocess.run(
        [script("timbrecastd"), "run", "--file", str(bundled.demo_recordings()[0]),
         "--endpoint", endpoint],
        capture_output=True, text=True, timeout=120,
    )
    assert daemon.returncode == 0, daemon.stderr
    analyzed = subprocess.run(
        [script("timbrecastd"), "analyze", str(bundled.demo_recordings()[0])],
        capture_output=True, text=True, check=True,
    )
    hits = len(analyzed.stdout.splitlines())
    stdout, _ = listener.communicate(timeout=30)
    assert listener.returncode == 0
    assert stdout.startswith(f"rendered {hits} hits into {out}")
    with wave.open(str(out)) as handle:
        assert handle.getframerate() == 44_100
        audio = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
    assert np.abs(audio).max() > 10_000
