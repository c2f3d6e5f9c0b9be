"""Fixtures the trainer's tests share."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from timbrecast.trainer import augment, hydrogen, machines, synth

#: Parity clips that label quickly and span the classes: kick, hat, snare, tonal.
SAMPLE = ("synth-kick-0.wav", "synth-hat-3.wav", "gmrockkit-Snare-Hard.wav", "synth-tonal-1.wav")


@pytest.fixture(autouse=True)
def no_collection_named() -> Iterator[None]:
    """``trainer dataset`` names the drum-machine collection in the environment (for
    its workers); no test sees the collection an earlier test named."""
    os.environ.pop(machines.ROOT_VARIABLE, None)
    yield
    os.environ.pop(machines.ROOT_VARIABLE, None)


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
