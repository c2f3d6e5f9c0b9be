"""Fixtures the trainer's tests share."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from timbrecast.trainer import augment, hydrogen, synth

#: Parity clips that label quickly and span the classes: kick, hat, snare, tonal.
SAMPLE = ("synth-kick-0.wav", "synth-hat-3.wav", "gmrockkit-Snare-Hard.wav", "synth-tonal-1.wav")


@pytest.fixture(scope="module")
def small_hits() -> list:
    """A few hits of every kind a corpus holds: real, augmented, synthetic."""
    real = hydrogen.listing().hits[:3]
    return real + augment.augmented_hits(real[:1], 2, seed=0) + synth.hits(2, seed=0)


@pytest.fixture
def clips(parity_dir: Path, tmp_path: Path) -> Path:
    """A folder of ``SAMPLE``'s parity clips."""
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in SAMPLE:
        shutil.copy(parity_dir / name, folder / name)
    return folder
