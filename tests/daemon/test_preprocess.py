"""The preprocessing contract on odd input: every case the daemon or trainer may meet."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
from hypothesis import given, settings
from hypothesis import strategies as st

from timbrecast.daemon import audiofile
from timbrecast.daemon.contract import INPUT_LENGTH, SAMPLE_RATE
from timbrecast.daemon.preprocess import PEAK, PREROLL_S, PreprocessError, prepare

PREROLL = round(PREROLL_S * SAMPLE_RATE)


def drum(rate: int, seconds: float = 0.6, delay_s: float = 0.0) -> np.ndarray:
    """A tom-like hit, the same band-limited signal at every rate: a decaying
    120 Hz body and a 2.5 kHz stick transient behind a 2 ms raised-cosine attack."""
    t = np.arange(int(seconds * rate)) / rate
    body = np.cos(2 * np.pi * 120 * t) * np.exp(-t / 0.15)
    click = np.cos(2 * np.pi * 2500 * t) * np.exp(-t / 0.004)
    attack = 0.5 - 0.5 * np.cos(np.pi * np.clip(t / 0.002, 0.0, 1.0))
    hit = attack * (0.6 * body + 0.3 * click)
    return np.concatenate([np.zeros(int(delay_s * rate)), hit]).astype(np.float32)


def aligned_error(clip: np.ndarray, reference: np.ndarray, start: int) -> float:
    """Largest difference after the best shift of up to 2 samples (a resampler's
    pre-ringing may move the 10 % crossing by a sample)."""
    return min(
        float(np.abs(np.roll(clip, shift)[start:-start] - reference[start:-start]).max())
        for shift in range(-2, 3)
    )


def attack_position(clip: np.ndarray) -> int:
    return int(np.argmax(np.abs(clip) >= 0.1 * np.abs(clip).max()))


def test_output_shape_type_and_peak() -> None:
    clip = prepare(drum(SAMPLE_RATE), SAMPLE_RATE)
    assert clip.shape == (INPUT_LENGTH,)
    assert clip.dtype == np.float32
    assert np.abs(clip).max() == pytest.approx(PEAK, abs=1e-6)


def test_attack_is_aligned_whatever_the_leading_silence() -> None:
    prompt = prepare(drum(SAMPLE_RATE), SAMPLE_RATE)
    late = prepare(drum(SAMPLE_RATE, delay_s=0.3), SAMPLE_RATE)
    assert attack_position(late) == PREROLL
    np.testing.assert_allclose(late, prompt, atol=1e-6)


def test_long_input_is_cut_and_short_input_zero_padded() -> None:
    long = prepare(drum(SAMPLE_RATE, seconds=3.0), SAMPLE_RATE)
    short = prepare(drum(SAMPLE_RATE, seconds=0.2), SAMPLE_RATE)
    assert long.shape == short.shape == (INPUT_LENGTH,)
    assert np.all(short[int(0.21 * SAMPLE_RATE) :] == 0.0)
    assert np.abs(long[-100:]).max() > 0.0


@pytest.mark.parametrize(
    "rate", [8000, 11025, 16000, 22050, 32000, 44100, 48000, 88200, 96000, 192000]
)
def test_any_rate_gives_the_same_clip(rate: int) -> None:
    reference = prepare(drum(SAMPLE_RATE), SAMPLE_RATE)
    clip = prepare(drum(rate), rate)
    assert clip.shape == (INPUT_LENGTH,)
    assert abs(attack_position(clip) - PREROLL) <= 2
    assert attack_position(reference) == PREROLL
    assert aligned_error(clip, reference, PREROLL) < 0.02


@pytest.mark.parametrize("channels", [2, 3, 6, 8])
def test_multichannel_is_averaged(channels: int) -> None:
    mono = drum(SAMPLE_RATE)
    frames = np.stack([mono * (k + 1) / channels for k in range(channels)], axis=1)
    np.testing.assert_allclose(prepare(frames, SAMPLE_RATE), prepare(mono, SAMPLE_RATE), atol=1e-5)


def test_opposite_phase_stereo_is_silent_and_refused() -> None:
    mono = drum(SAMPLE_RATE)
    with pytest.raises(PreprocessError, match="silent"):
        prepare(np.stack([mono, -mono], axis=1), SAMPLE_RATE)


@pytest.mark.parametrize(
    "subtype", ["PCM_U8", "PCM_S8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE"]
)
def test_every_bit_depth_through_a_real_file(tmp_path, subtype: str) -> None:
    fmt = "AIFF" if subtype == "PCM_S8" else "WAV"
    path = tmp_path / f"hit.{fmt.lower()}"
    soundfile.write(path, drum(44100), 44100, subtype=subtype, format=fmt)
    audio = audiofile.read(path)
    clip = prepare(audio.frames, audio.sample_rate)
    reference = prepare(drum(44100), 44100)
    tolerance = {"PCM_U8": 0.05, "PCM_S8": 0.05}.get(subtype, 2e-3)
    assert aligned_error(clip, reference, PREROLL) < tolerance


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint8, np.float64])
def test_integer_arrays_are_scaled(dtype) -> None:
    x = drum(SAMPLE_RATE)
    if dtype == np.uint8:
        raw = np.round(x * 127 + 128).astype(np.uint8)
    elif np.issubdtype(dtype, np.integer):
        raw = np.round(x * np.iinfo(dtype).max).astype(dtype)
    else:
        raw = x.astype(dtype)
    assert aligned_error(prepare(raw, SAMPLE_RATE), prepare(x, SAMPLE_RATE), PREROLL) < 0.02


def test_dc_offset_is_removed() -> None:
    clean = prepare(drum(SAMPLE_RATE), SAMPLE_RATE)
    offset = prepare(drum(SAMPLE_RATE) + 0.2, SAMPLE_RATE)
    assert np.abs(offset - clean).max() < 1e-4


def test_clipped_input_is_accepted_and_normalised() -> None:
    clipped = np.clip(drum(SAMPLE_RATE) * 8.0, -1.0, 1.0)
    clip = prepare(clipped, SAMPLE_RATE)
    assert np.abs(clip).max() == pytest.approx(PEAK, abs=1e-6)
    assert np.all(np.isfinite(clip))


@pytest.mark.parametrize(
    ("audio", "message"),
    [
        (np.zeros(0, dtype=np.float32), "empty"),
        (np.zeros((0, 2), dtype=np.float32), "empty"),
        (np.zeros(16000, dtype=np.float32), "silent"),
        (np.full(16000, 1e-7, dtype=np.float32), "silent"),
        (np.array([0.1, np.nan, 0.2], dtype=np.float32), "NaN or infinite"),
        (np.array([0.1, np.inf, 0.2]), "NaN or infinite"),
        (np.array([-np.inf, 0.5]), "NaN or infinite"),
    ],
)
def test_bad_input_is_refused_with_a_reason(audio: np.ndarray, message: str) -> None:
    with pytest.raises(PreprocessError, match=message):
        prepare(audio, SAMPLE_RATE)


@pytest.mark.parametrize("rate", [0, -44100, 500, 10_000_000])
def test_absurd_rates_are_refused(rate: int) -> None:
    with pytest.raises(PreprocessError, match="sample rate"):
        prepare(drum(16000), rate)


def test_three_dimensional_input_is_refused() -> None:
    with pytest.raises(PreprocessError, match="channels"):
        prepare(np.ones((10, 2, 2), dtype=np.float32), SAMPLE_RATE)


def test_empty_and_missing_files_name_the_problem(tmp_path) -> None:
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros((0, 1), dtype=np.float32), 44100)
    audio = audiofile.read(empty)
    with pytest.raises(PreprocessError, match="empty"):
        prepare(audio.frames, audio.sample_rate)
    with pytest.raises(audiofile.AudioFileError, match="no such file"):
        audiofile.read(tmp_path / "absent.wav")
    text = tmp_path / "notes.wav"
    text.write_text("not audio")
    with pytest.raises(audiofile.AudioFileError, match="not readable as audio"):
        audiofile.read(text)


def test_prepare_is_idempotent_on_its_own_output() -> None:
    once = prepare(drum(44100, delay_s=0.1), 44100)
    np.testing.assert_allclose(prepare(once, SAMPLE_RATE), once, atol=1e-6)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-4.0, 4.0, allow_nan=False, width=32), min_size=1, max_size=3000),
    st.sampled_from([8000, 16000, 44100, 48000]),
)
def test_any_finite_audible_input_gives_a_valid_clip(samples: list[float], rate: int) -> None:
    audio = np.asarray(samples, dtype=np.float32)
    try:
        clip = prepare(audio, rate)
    except PreprocessError as exc:
        assert "silent" in str(exc)
        return
    assert clip.shape == (INPUT_LENGTH,)
    assert np.all(np.isfinite(clip))
    assert np.abs(clip).max() == pytest.approx(PEAK, abs=1e-5)
