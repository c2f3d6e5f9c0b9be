"""The teacher's view of a one-shot: the file as a user has it, from the moment it sounds."""

from __future__ import annotations

import numpy as np
import pytest

from timbrecast.daemon.preprocess import PreprocessError
from timbrecast.trainer.heard import heard, sound_start

RATE = 44_100


def hit(rate: int = RATE, seconds: float = 0.4) -> np.ndarray:
    """A decaying noise burst, as 16-bit audio, that starts on its first sample."""
    t = np.arange(round(seconds * rate)) / rate
    noise = 0.5 * np.random.default_rng(0).standard_normal(t.size) * np.exp(-t / 0.05)
    return np.round(noise * 32768) / 32768


def test_a_file_that_starts_on_its_hit_is_heard_exactly_as_it_is() -> None:
    """No resampling, no level change, no re-quantisation: the teacher's labels of
    such noise-floor details move by points (see the module's docstring)."""
    audio = hit(32_000)
    view = heard(audio, 32_000)
    assert view.rate == 32_000 and view.samples.dtype == np.float32
    assert np.array_equal(view.samples.astype(np.float64), audio)


def test_silence_before_the_hit_is_cut_unless_it_is_a_few_samples() -> None:
    audio = hit()
    late = np.concatenate([np.zeros(4410), audio])
    assert heard(late, RATE).key == heard(audio, RATE).key
    nearly = np.concatenate([np.zeros(40), audio])  # under 1 ms: the file's own
    assert np.array_equal(heard(nearly, RATE).samples, nearly.astype(np.float32))


def test_quiet_sound_within_5_ms_of_the_attack_is_kept_and_earlier_noise_cut() -> None:
    audio = hit()
    attack = int(np.argmax(np.abs(audio) >= 0.1 * np.abs(audio).max()))
    hum = 1e-3 * np.ones(2000)  # -54 dB of the peak: above the -80 dB floor
    noisy = np.concatenate([hum, audio])
    start = sound_start(noisy, RATE)
    assert start == 2000 + attack - round(0.005 * RATE)
    assert heard(noisy, RATE).samples.size == noisy.size - start


def test_the_view_lasts_a_second_at_most() -> None:
    assert heard(hit(16_000, seconds=3.0), 16_000).samples.size == 16_000
    assert heard(hit(48_000, seconds=0.25), 48_000).samples.size == 12_000


def test_stereo_is_mixed_down_and_the_key_names_content_and_rate() -> None:
    audio = hit()
    stereo = np.stack([audio, audio], axis=1)
    assert heard(stereo, RATE).key == heard(audio, RATE).key
    assert heard(audio[:-1], RATE).key != heard(audio, RATE).key
    assert heard(audio, 48_000).key != heard(audio, RATE).key


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0), "empty"),
        (np.zeros(1000), "silent"),
        (np.array([0.1, np.nan] * 100), "NaN"),
    ],
)
def test_audio_the_teacher_cannot_hear_is_a_preprocess_error(
    audio: np.ndarray, message: str
) -> None:
    with pytest.raises(PreprocessError, match=message):
        heard(audio, RATE)
