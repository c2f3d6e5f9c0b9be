"""Our teacher on today's stack gives the labels timbral_models gave in 2019."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
from scipy.ndimage import median_filter

from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.trainer.teacher import (
    HPSS_KERNEL,
    TeacherError,
    _compile_lock,
    _librosa_bridge,
    compile_lock_path,
    label,
)

TOLERANCE = 0.01


def reference_labels(parity_dir: Path) -> dict[str, tuple[float, ...]]:
    with (parity_dir / "labels.csv").open() as handle:
        return {
            row["path"]: tuple(float(row[d]) for d in DESCRIPTORS) for row in csv.DictReader(handle)
        }


def test_every_fixture_label_matches(parity_dir: Path) -> None:
    reference = reference_labels(parity_dir)
    assert len(reference) == 40
    worst = 0.0
    for name, expected in reference.items():
        samples, rate = soundfile.read(parity_dir / name)
        got = label(samples, rate).as_tuple()
        diff = np.abs(np.subtract(got, expected))
        per_descriptor = dict(zip(DESCRIPTORS, diff.round(4), strict=True))
        assert diff.max() <= TOLERANCE, f"{name}: {per_descriptor}"
        worst = max(worst, float(diff.max()))
    print(f"worst difference {worst:.5f}")


def test_the_bridge_is_needed() -> None:
    """Without the bridge, librosa's own resampler gives other labels: the
    fixture's README says soxr moves warmth and hardness by up to ~10 points."""
    import librosa

    rate = 16000
    t = np.arange(rate) / rate
    kick = np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.2)
    kaiser = librosa.resample(kick, orig_sr=rate, target_sr=44100, res_type="kaiser_best")
    soxr_hq = librosa.resample(kick, orig_sr=rate, target_sr=44100)
    assert np.abs(kaiser - soxr_hq).max() > 1e-4


def reflect_median(magnitude: np.ndarray) -> np.ndarray:
    """The harmonic median ``hpss`` means, by numpy alone: each frame's median over
    ``HPSS_KERNEL`` frames of scipy's reflect extension (d c b a | a b c d | d c b a)."""
    half, frames = HPSS_KERNEL // 2, magnitude.shape[1]
    period = np.mod(np.arange(-half, frames + half), 2 * frames)
    extended = magnitude[:, np.where(period < frames, period, 2 * frames - 1 - period)]
    windows = np.lib.stride_tricks.sliding_window_view(extended, HPSS_KERNEL, axis=1)
    return np.median(windows, axis=-1)


@pytest.mark.parametrize("frames", [1, 2, 3, 40])
def test_hpss_is_right_on_spectrograms_of_any_length(frames: int) -> None:
    """scipy >= 1.15 gets the median wrong along an axis of two (NaN, or whatever was
    in memory): a stick of 12-23 ms got a NaN or arbitrary hardness. The bridged
    ``hpss`` matches a median taken by numpy alone, and equals librosa's own where
    scipy is right."""
    import librosa

    magnitude = np.abs(np.random.default_rng(frames).standard_normal((257, frames)))
    percussive_median = median_filter(magnitude, size=(HPSS_KERNEL, 1), mode="reflect")
    want = librosa.util.softmask(reflect_median(magnitude), percussive_median, power=2.0)
    harmonic, percussive = _librosa_bridge(librosa).decompose.hpss(magnitude)
    np.testing.assert_allclose(harmonic, want * magnitude, rtol=1e-12)
    np.testing.assert_allclose(harmonic + percussive, magnitude, rtol=1e-12)
    if frames != 2:
        np.testing.assert_array_equal(harmonic, librosa.decompose.hpss(magnitude)[0])


def test_a_stick_of_two_frames_gets_the_same_finite_label_every_time() -> None:
    """755 samples at 44.1 kHz, as Hydrogen's Audiophob stick: before the bridge
    mended ``hpss``, its hardness was NaN in about half the runs."""
    rate = 44100
    t = np.arange(755) / rate
    stick = np.random.default_rng(0).standard_normal(t.size) * np.exp(-t / 0.004)
    labels = {label(stick, rate).as_tuple() for _ in range(8)}
    assert len(labels) == 1
    assert np.all(np.isfinite(next(iter(labels))))


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0), "non-empty mono"),
        (np.zeros((100, 2)), "non-empty mono"),
        (np.array([0.1, np.nan] * 8000), "NaN or infinite"),
    ],
)
def test_bad_clips_raise_a_teacher_error(audio: np.ndarray, message: str) -> None:
    with pytest.raises(TeacherError, match=message):
        label(audio)


def test_silence_is_a_teacher_error_not_a_crash() -> None:
    with pytest.raises(TeacherError):
        label(np.zeros(16000))


LOCK_PROBE = """
import fcntl, sys
handle = open(sys.argv[1], "a")
try:
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    sys.exit(3)
"""


def test_first_use_fills_numba_cache_under_one_lock_for_all_processes() -> None:
    """numba/numba#10128: two processes compiling librosa's gufuncs at once can leave a
    mismatched cache pair that segfaults every later process. While one process
    warms the teacher up, another cannot take the lock (so it waits, then reads)."""
    probe = [sys.executable, "-c", LOCK_PROBE, str(compile_lock_path())]
    with _compile_lock():
        held = subprocess.run(probe, check=False)
    free = subprocess.run(probe, check=False)
    assert (held.returncode, free.returncode) == (3, 0)
