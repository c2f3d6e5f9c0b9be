"""Any audio in, the model's input out: the one preprocessing path.

The trainer (labelling, training, evaluation) and the daemon (live and offline)
all call ``prepare``; nothing else turns audio into model input, so a model
always sees what it was trained on and the teacher labels what the model sees.

Steps, in order, and why:

1. Reject empty or non-finite input: a NaN sample would become a NaN label or
   a NaN prediction downstream, silently.
2. Mix down to mono by averaging channels (a summed stereo pair would clip).
3. Remove a DC offset: a one-shot ends at rest, so the median of its last
   ``REST_S`` is its offset; it is subtracted when it exceeds ``DC_FRACTION`` of
   the peak. Smaller ones are left alone: they cannot be told from a low tail
   still ringing, and the teacher hears the difference (subtracting the mean, or
   a 5 Hz high-pass, moved its labels of clean kicks by 0.4 to 5 points).
4. Resample to 16 kHz with soxr (HQ), the resampler the live stream also uses.
5. Reject silence (peak below -100 dBFS): nothing to describe, and the teacher
   refuses it too.
6. Align on the attack: the first sample that reaches ``ATTACK_FRACTION`` of the
   peak lands at ``PREROLL_S`` into the clip (cutting what comes before, or
   zero-padding a clip that starts right on its attack), so leading silence or
   noise never shifts what the convolutional front end sees.
7. Cut or zero-pad to ``INPUT_LENGTH`` samples (1 s), as the seed did.
8. Peak-normalise to ``PEAK`` (0.99), as the Freesound one-shot set was. The
   level is reported separately (peak and RMS dBFS) by the daemon.
"""

from __future__ import annotations

import numpy as np
import soxr

from timbrecast.daemon.contract import INPUT_LENGTH, PREROLL_S, SAMPLE_RATE, early_length

REST_S = 0.05
DC_FRACTION = 0.01
ATTACK_FRACTION = 0.1
PEAK = 0.99
SILENCE_PEAK = 1e-5
MIN_RATE = 1_000
MAX_RATE = 768_000


class PreprocessError(ValueError):
    """Audio that cannot become a model input; the message names the problem."""


def to_float(audio: np.ndarray) -> np.ndarray:
    """Samples as float64 in [-1, 1], whatever integer or float type they came in."""
    samples = np.asarray(audio)
    if samples.dtype == np.uint8:
        return (samples.astype(np.float64) - 128.0) / 128.0
    if np.issubdtype(samples.dtype, np.integer):
        return samples.astype(np.float64) / float(-np.iinfo(samples.dtype).min)
    if np.issubdtype(samples.dtype, np.floating):
        return samples.astype(np.float64, copy=False)
    raise PreprocessError(f"unsupported sample type {samples.dtype}")


def to_mono(audio: np.ndarray) -> np.ndarray:
    """Average the channels of a (frames,) or (frames, channels) array."""
    samples = to_float(audio)
    if samples.ndim == 1:
        return samples
    if samples.ndim == 2:
        return samples.mean(axis=1)
    raise PreprocessError(f"expected (frames,) or (frames, channels) audio, got {samples.shape}")


def check_rate(sample_rate: int) -> None:
    if not MIN_RATE <= sample_rate <= MAX_RATE:
        raise PreprocessError(f"sample rate {sample_rate} Hz is outside {MIN_RATE}..{MAX_RATE} Hz")


def resample(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mono audio at ``SAMPLE_RATE``."""
    check_rate(sample_rate)
    if sample_rate == SAMPLE_RATE:
        return audio
    return soxr.resample(audio, sample_rate, SAMPLE_RATE, quality="HQ")


def remove_dc(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """The clip less its resting level, when that is a real offset (see step 3)."""
    rest = float(np.median(audio[-max(1, round(REST_S * sample_rate)) :]))
    if abs(rest) <= DC_FRACTION * float(np.abs(audio).max()):
        return audio
    return audio - rest


def attack_index(audio: np.ndarray) -> int:
    """Index of the first sample that reaches ``ATTACK_FRACTION`` of the peak."""
    magnitude = np.abs(audio)
    return int(np.argmax(magnitude >= ATTACK_FRACTION * magnitude.max()))


def checked_mono(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Steps 1 and 2: mono float64 audio, or a ``PreprocessError`` naming the problem."""
    samples = np.asarray(audio)
    if samples.size == 0:
        raise PreprocessError("audio is empty")
    mono = to_mono(samples)
    if not np.all(np.isfinite(mono)):
        raise PreprocessError("audio contains NaN or infinite samples")
    check_rate(sample_rate)
    return mono


def prepare(audio: np.ndarray, sample_rate: int, sounding: bool = False) -> np.ndarray:
    """The model input for one one-shot: float32, shape (``INPUT_LENGTH``,).

    ``sounding``: the hit is still ringing (an early estimate), so its resting
    level is not known yet and no DC offset is removed.
    """
    mono = checked_mono(audio, sample_rate)
    mono = resample(mono if sounding else remove_dc(mono, sample_rate), sample_rate)
    peak = float(np.abs(mono).max(initial=0.0))
    if peak < SILENCE_PEAK:
        raise PreprocessError("audio is silent (peak below -100 dBFS)")
    start = attack_index(mono) - round(PREROLL_S * SAMPLE_RATE)
    offset = max(0, -start)
    segment = mono[max(0, start) : start + INPUT_LENGTH]
    clip = np.zeros(INPUT_LENGTH, dtype=np.float32)
    clip[offset : offset + segment.size] = segment * (PEAK / np.abs(segment).max())
    return clip


def early(clip: np.ndarray, early_ms: float) -> np.ndarray:
    """An early-estimate input from prepared clip(s): what was heard ``early_ms`` after
    the attack, peak-normalised again, since the rest of the hit was not heard yet.

    The trainer applies it to stored clips, the daemon to a hit still sounding, so
    both feed the model the same thing.
    """
    head = np.asarray(clip, dtype=np.float32)[..., : early_length(early_ms)]
    peak = np.abs(head).max(axis=-1, keepdims=True)
    return head * (PEAK / np.maximum(peak, SILENCE_PEAK))


def zero_padded(head: np.ndarray) -> np.ndarray:
    """A truncated input padded with zeros to the full model's length (for comparison)."""
    out = np.zeros((*head.shape[:-1], INPUT_LENGTH), dtype=np.float32)
    out[..., : head.shape[-1]] = head
    return out
