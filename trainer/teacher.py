"""The AudioCommons timbral models as the teacher, on today's numpy and librosa.

``timbral_models`` 0.4.0 (2019) is unmaintained and breaks on a current stack in
four places. This module bridges exactly those, and nothing else, so that its
labels match the ones it gave in its own era (``shared/fixtures/teacher-parity``):

1. librosa >= 0.10 made the audio and rate arguments keyword-only; the package
   passes them positionally (``onset_strength``, ``onset_detect``, ``resample``).
2. librosa >= 0.10 resamples with soxr by default; librosa 0.9 used resampy's
   ``kaiser_best``. The package upsamples everything below 44.1 kHz before
   analysis, so the resampler moves labels by up to ~10 points (warmth,
   hardness). We resample with ``kaiser_best`` as the original did.
3. numpy 2 removed ``np.lib.pad``; ``np.pad`` is the same function.
4. scipy >= 1.15's ``ndimage.median_filter`` is wrong along an axis two elements
   long when the kernel is longer (it reads memory it never wrote, so the result
   changes from run to run and is often NaN). librosa's ``hpss`` filters along
   time with a 31-frame kernel, so a clip of 512-1023 samples at 44.1 kHz (two
   STFT frames, 12-23 ms: a stick, a click) got a NaN or arbitrary hardness. We
   hand ``hpss`` the spectrogram already reflected out by half a kernel on each
   side and keep the middle: the same medians scipy's own reflect mode means, on
   an axis long enough that the fault cannot arise.

The bridge is a per-module replacement of the ``librosa`` and ``np`` names inside
the package's own modules, never a patch of the real libraries, so nothing else
in the process sees a changed librosa or numpy.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
import types
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon.contract import DESCRIPTORS, SAMPLE_RATE

#: The resampler librosa 0.9 used by default, and so the one the labels assume.
ORIGINAL_RESAMPLER = "kaiser_best"
#: librosa's default ``hpss`` kernel, the one the package uses (frames and bins).
HPSS_KERNEL = 31


class TeacherError(ValueError):
    """The teacher could not give a finite label for a clip; the message says why."""


@dataclass(frozen=True)
class TeacherLabel:
    """The seven descriptors the teacher gives one clip, in contract order."""

    hardness: float
    depth: float
    brightness: float
    roughness: float
    warmth: float
    sharpness: float
    boominess: float

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(getattr(self, name) for name in DESCRIPTORS)


def _librosa_bridge(librosa: types.ModuleType) -> types.SimpleNamespace:
    """A stand-in for ``librosa`` with the 0.9 call forms that the package uses."""

    def onset_strength(y, sr=22050, **kwargs):
        return librosa.onset.onset_strength(y=y, sr=sr, **kwargs)

    def onset_detect(y=None, sr=22050, **kwargs):
        return librosa.onset.onset_detect(y=y, sr=sr, **kwargs)

    def resample(y, orig_sr, target_sr, res_type=ORIGINAL_RESAMPLER, **kwargs):
        return librosa.resample(
            y, orig_sr=orig_sr, target_sr=target_sr, res_type=res_type, **kwargs
        )

    def hpss(spectrogram):
        half = HPSS_KERNEL // 2
        # numpy's "symmetric" is scipy's "reflect" (d c b a | a b c d), repeated as
        # often as a short axis needs; no median window reaches the padded edges.
        padded = np.pad(spectrogram, ((0, 0), (half, half)), mode="symmetric")
        harmonic, percussive = librosa.decompose.hpss(padded, kernel_size=HPSS_KERNEL)
        return harmonic[:, half:-half], percussive[:, half:-half]

    core = types.SimpleNamespace(stft=librosa.stft, istft=librosa.istft, resample=resample)
    onset = types.SimpleNamespace(onset_strength=onset_strength, onset_detect=onset_detect)
    decompose = types.SimpleNamespace(hpss=hpss)
    return types.SimpleNamespace(core=core, onset=onset, decompose=decompose)


def _numpy_bridge() -> types.ModuleType:
    """``numpy`` as the package expects it: with ``np.lib.pad`` still there."""
    bridged = types.ModuleType("numpy")
    bridged.__dict__.update(np.__dict__)
    lib = types.ModuleType("numpy.lib")
    lib.__dict__.update(np.lib.__dict__)
    lib.pad = np.pad
    bridged.lib = lib
    return bridged


@functools.lru_cache(maxsize=1)
def _timbral_models() -> types.ModuleType:
    """Import ``timbral_models`` once and fit the bridge into its modules."""
    try:
        import librosa
        import timbral_models
    except ImportError as exc:
        raise ImportError(
            f"the teacher needs the trainer's extra ({exc.name} is missing): "
            "pip install 'timbrecast[train]'"
        ) from exc
    import importlib

    librosa_bridge = _librosa_bridge(librosa)
    numpy_bridge = _numpy_bridge()
    for name in ("timbral_util", "Timbral_Hardness"):
        module = importlib.import_module(f"timbral_models.{name}")
        module.librosa = librosa_bridge
    for name in ("Timbral_Hardness", "Timbral_Roughness"):
        importlib.import_module(f"timbral_models.{name}").np = numpy_bridge
    with _compile_lock():
        _describe(timbral_models, _warm_up_hit(), SAMPLE_RATE)
    return timbral_models


def compile_lock_path() -> Path:
    """The lock file every process of this user shares (numba's cache is shared too)."""
    return Path(tempfile.gettempdir()) / f"timbrecast-numba-{os.getuid()}.lock"


@contextlib.contextmanager
def _compile_lock() -> Iterator[None]:
    """Hold the lock under which one process at a time fills numba's cache."""
    try:
        import fcntl
    except ImportError:  # Windows: nothing runs the trainer there (README)
        yield
        return
    with compile_lock_path().open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _warm_up_hit() -> np.ndarray:
    """A decaying noise burst that takes every model through all of its kernels."""
    rng = np.random.default_rng(0)
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    hit = rng.standard_normal(t.size) * np.exp(-t / 0.05)
    hit[: SAMPLE_RATE // 20] = 0.0
    return hit / np.max(np.abs(hit))


def label(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> TeacherLabel:
    """Label one mono clip with the seven descriptors, as ``timbral_extractor`` does.

    The steps are the extractor's own (channel reduction, upsampling below 44.1
    kHz, then each model with default arguments and no clipping), minus the
    reverb model, which we do not use and which costs as much as two others.
    A NaN or infinite descriptor, or a model that fails, raises ``TeacherError``.
    """
    samples = np.asarray(audio, dtype=np.float64)
    if samples.ndim != 1 or samples.size == 0:
        raise TeacherError(f"expected a non-empty mono clip, got shape {samples.shape}")
    if not np.all(np.isfinite(samples)):
        raise TeacherError("clip contains NaN or infinite samples")
    return _describe(_timbral_models(), samples, sample_rate)


def _describe(tm: types.ModuleType, samples: np.ndarray, sample_rate: int) -> TeacherLabel:
    """The extractor's steps on a checked clip, with ``tm`` already bridged."""
    samples = tm.timbral_util.channel_reduction(samples)
    samples, fs = tm.timbral_util.check_upsampling(samples, sample_rate)
    models = {
        "hardness": tm.timbral_hardness,
        "depth": tm.timbral_depth,
        "brightness": tm.timbral_brightness,
        "roughness": tm.timbral_roughness,
        "warmth": tm.timbral_warmth,
        "sharpness": tm.timbral_sharpness,
        "boominess": tm.timbral_booming,
    }
    values: dict[str, float] = {}
    with np.errstate(all="ignore"), warnings.catch_warnings():
        # pyloudnorm warns of clipping after its -24 LUFS gain; the models expect it.
        warnings.simplefilter("ignore")
        for name in DESCRIPTORS:
            try:
                value = float(models[name](samples, fs=fs))
            except Exception as exc:  # the package raises bare Exceptions and worse
                raise TeacherError(f"{name}: {type(exc).__name__}: {exc}") from exc
            if not np.isfinite(value):
                raise TeacherError(f"{name} is {value} (the teacher gave no finite value)")
            values[name] = value
    return TeacherLabel(**values)
