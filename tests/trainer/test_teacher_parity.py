"""Our teacher on today's stack gives the labels timbral_models gave in 2019."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.trainer.teacher import TeacherError, _compile_lock, compile_lock_path, label

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
