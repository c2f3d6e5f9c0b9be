"""Training data of the learned onset detector: targets where the attacks are, and
the augmentation a live kit meets."""

from __future__ import annotations

import numpy as np
import pytest

from timbrecast.daemon.activation import BANDS, CONTEXT, ROWS
from timbrecast.daemon.onset import Framer
from timbrecast.trainer.onsets import TARGET_HOPS, compress, eq, frames_of, windows

RATE = 48_000


def test_the_frames_just_after_each_attack_are_the_targets() -> None:
    audio = np.zeros(RATE, dtype=np.float32)
    onsets = [0.25, 0.6]
    for onset in onsets:
        start = round(onset * RATE)
        audio[start : start + 2000] = np.random.default_rng(0).normal(size=2000) * 0.5
    values, targets = frames_of(audio, RATE, onsets)
    framer = Framer(RATE)
    ends = framer.push(audio).ends
    assert values.shape == (ends.size, BANDS) and targets.sum() == 2 * TARGET_HOPS
    for onset in onsets:
        first = int(np.flatnonzero(ends > round(onset * RATE))[0])
        assert targets[first : first + TARGET_HOPS].all() and not targets[first - 1]


def test_training_keeps_every_target_and_the_frames_around_it() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5000, BANDS)).astype(np.float32)
    targets = np.zeros(5000, dtype=np.float32)
    targets[[100, 101, 102, 3000, 3001, 3002]] = 1.0
    kept = windows(values, targets, rng)
    assert kept.inputs.shape[1:] == (ROWS, BANDS) and kept.targets.sum() == 6
    assert len(kept.targets) < 0.3 * len(targets)
    every = windows(values, targets, None)
    assert len(every.targets) == 5000
    assert np.array_equal(every.inputs[200, CONTEXT - 1], values[200])
    assert np.array_equal(every.inputs[200, 0], values[200 - CONTEXT + 1])
    assert np.allclose(every.inputs[200, CONTEXT], values[:200].max(axis=0), atol=200 * 0.016)


@pytest.mark.parametrize("seed", range(4))
def test_eq_and_compression_keep_the_groove_in_place(seed: int) -> None:
    rng = np.random.default_rng(seed)
    audio = np.zeros(RATE)
    audio[1000:3000] = rng.normal(size=2000) * 0.8
    audio[20_000:22_000] = rng.normal(size=2000) * 0.05
    for changed in (eq(audio, RATE, rng), compress(audio, RATE, rng)):
        assert changed.shape == audio.shape and np.isfinite(changed).all()
        assert np.abs(changed[:1000]).max() < 1e-3  # nothing before the first hit
    squeezed = compress(audio, RATE, np.random.default_rng(seed))

    def spread(x: np.ndarray) -> float:  # loud burst's RMS over the quiet one's
        return float(np.std(x[1000:3000]) / np.std(x[20_000:22_000]))

    assert spread(squeezed) < spread(audio)
