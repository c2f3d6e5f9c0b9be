"""Augmentation: each step does what it says, chains are reproducible and safe,
and augmented hits stay in their base's kit."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timbrecast.daemon.audiofile import Audio
from timbrecast.daemon.preprocess import attack_index, prepare
from timbrecast.trainer import augment, synth
from timbrecast.trainer.sources import Hit

RATE = 44_100


def tom() -> np.ndarray:
    """A tonal hit with its energy well below 10 kHz, so that a pitch change
    moves its whole spectrum (a flat noise spectrum would not move)."""
    voice = synth.Voice(
        seed=1,
        body_level=1.0,
        body_hz=180.0,
        body_sweep=0.3,
        body_sweep_s=0.02,
        body_decay_s=0.5,
        body_modes=0.4,
        click_level=0.2,
        click_hz=2500.0,
        tone_hz=6000.0,
    )
    return synth.render_voice(voice, RATE)


def tick() -> np.ndarray:
    """A short rim-like hit, 40 ms long, to hear a room on."""
    voice = synth.Voice(seed=2, body_level=1.0, body_hz=900.0, body_decay_s=0.03, body_tri=0.5)
    return synth.render_voice(voice, RATE)


def snare() -> np.ndarray:
    """A shell and its wires: power spread from 200 Hz to 10 kHz, for the filters."""
    voice = synth.Voice(
        seed=3,
        body_level=1.0,
        body_hz=200.0,
        body_decay_s=0.2,
        noise_level=1.0,
        noise_lo_hz=1000.0,
        noise_hi_hz=10000.0,
        noise_decay_s=0.3,
    )
    return synth.render_voice(voice, RATE)


def noise() -> np.ndarray:
    return np.random.default_rng(0).uniform(-0.5, 0.5, RATE).astype(np.float32)


def run(audio: np.ndarray, step: str, seed: int = 0, **params: float | None) -> np.ndarray:
    return augment.apply(audio, RATE, [{"step": step, **params}], seed)


def centroid(audio: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    return float((power * np.fft.rfftfreq(audio.size, 1 / RATE)).sum() / power.sum())


def band_energy(audio: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(audio.size, 1 / RATE)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def last_loud_s(audio: np.ndarray, below_db: float = -40.0) -> float:
    """When the clip last reaches ``below_db`` of its peak."""
    loud = np.nonzero(np.abs(audio) >= np.abs(audio).max() * 10 ** (below_db / 20))[0]
    return float(loud[-1] / RATE)


def test_steps_are_the_documented_ones() -> None:
    assert set(augment.STEPS) == {
        "pitch",
        "lowpass",
        "highpass",
        "peak_eq",
        "attack",
        "decay",
        "reverb",
        "truncate",
        "offset",
        "noise",
    }


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_random_chain_has_one_to_three_distinct_steps_in_order_and_is_json(seed: int) -> None:
    chain = augment.random_chain(np.random.default_rng(seed))
    names = [step["step"] for step in chain]
    assert 1 <= len(chain) <= 3
    assert len(set(names)) == len(names)
    assert names == sorted(names, key=augment.STEPS.index)
    assert json.loads(json.dumps(chain)) == chain
    assert chain == augment.random_chain(np.random.default_rng(seed))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    channels=st.sampled_from([0, 1, 2]),
    rate=st.sampled_from([16_000, 44_100, 48_000]),
    kind=st.sampled_from(synth.KINDS),
)
def test_any_chain_gives_finite_limited_audio_in_the_same_layout(
    seed: int, channels: int, rate: int, kind: str
) -> None:
    mono = synth.render(kind, synth.random_params(kind, np.random.default_rng(seed)), rate)
    frames = mono if channels == 0 else np.repeat(mono[:, None], channels, axis=1) * 1.2
    chain = augment.random_chain(np.random.default_rng(seed))
    out = augment.apply(frames, rate, chain, seed)
    assert out.dtype == np.float32
    assert out.ndim == frames.ndim
    if channels:
        assert out.shape[1] == channels
    assert np.all(np.isfinite(out))
    assert 0 < np.abs(out).max() <= 1.0
    assert out.tobytes() == augment.apply(frames, rate, chain, seed).tobytes()
    prepare(out, rate)


def test_non_finite_or_empty_input_and_unknown_steps_are_refused() -> None:
    bad = tom().copy()
    bad[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        augment.apply(bad, RATE, [], 0)
    with pytest.raises(ValueError, match="non-empty"):
        augment.apply(np.zeros(0, np.float32), RATE, [], 0)
    with pytest.raises(ValueError, match="unknown augmentation step"):
        run(tom(), "chorus")


def test_an_empty_chain_only_limits() -> None:
    audio = tom()
    assert augment.apply(audio, RATE, [], 0).tobytes() == audio.tobytes()
    loud = augment.apply(audio * 3.0, RATE, [], 0)
    np.testing.assert_allclose(loud, audio / np.abs(audio).max(), atol=1e-6)


def test_pitch_up_raises_and_down_lowers_the_spectrum_and_changes_the_length() -> None:
    audio = tom()
    up = run(audio, "pitch", semitones=5.0)
    down = run(audio, "pitch", semitones=-5.0)
    ratio = 2 ** (5 / 12)
    assert centroid(up) > 1.2 * centroid(audio)
    assert centroid(down) < centroid(audio) / 1.2
    assert up.size == pytest.approx(audio.size / ratio, abs=2)
    assert down.size == pytest.approx(audio.size * ratio, abs=2)


def test_lowpass_lowers_and_highpass_raises_the_centroid() -> None:
    audio = snare()
    assert centroid(run(audio, "lowpass", cutoff_hz=2000.0)) < 0.7 * centroid(audio)
    assert centroid(run(audio, "highpass", cutoff_hz=500.0)) > 1.1 * centroid(audio)


def test_peak_eq_boosts_and_cuts_around_its_frequency_only() -> None:
    audio = noise()
    boosted = run(audio, "peak_eq", freq_hz=1000.0, gain_db=12.0, q=2.0)
    cut = run(audio, "peak_eq", freq_hz=1000.0, gain_db=-12.0, q=2.0)
    gain = 10 * np.log10(band_energy(boosted, 950, 1050) / band_energy(audio, 950, 1050))
    loss = 10 * np.log10(band_energy(cut, 950, 1050) / band_energy(audio, 950, 1050))
    far = 10 * np.log10(band_energy(boosted, 8000, 12000) / band_energy(audio, 8000, 12000))
    assert gain == pytest.approx(12.0, abs=1.5)
    assert loss == pytest.approx(-12.0, abs=1.5)
    assert abs(far) < 0.5


def test_attack_softens_the_onset() -> None:
    audio = tom()
    soft = run(audio, "attack", rise_s=0.02)
    assert attack_index(soft) - attack_index(audio) > 0.003 * RATE
    running = np.maximum.accumulate(np.abs(soft))
    rise = np.argmax(running >= 0.9 * running[-1]) - np.argmax(running >= 0.1 * running[-1])
    assert rise > 0.008 * RATE
    np.testing.assert_array_equal(soft[round(0.05 * RATE) :], audio[round(0.05 * RATE) :])


def test_decay_shortens_the_tail_but_keeps_the_attack() -> None:
    audio = tom()
    damped = run(audio, "decay", t60_s=0.1)
    assert last_loud_s(damped) < 0.1
    assert last_loud_s(audio) > 0.25
    onset = attack_index(audio)
    np.testing.assert_allclose(damped[: onset + 1], audio[: onset + 1], atol=1e-6)


def test_reverb_lengthens_the_decay_and_keeps_the_attack_in_place() -> None:
    audio = tick()
    wet = run(audio, "reverb", rt60_s=0.5, mix=0.4, predelay_s=0.005, damping_hz=8000.0)
    assert wet.size > audio.size + 0.5 * RATE
    assert last_loud_s(audio) < 0.05
    assert last_loud_s(wet) > 0.2
    assert abs(attack_index(wet) - attack_index(audio)) <= 0.001 * RATE


def test_reverb_decorrelates_the_channels_of_a_stereo_clip() -> None:
    stereo = np.repeat(tick()[:, None], 2, axis=1)
    wet = augment.apply(
        stereo,
        RATE,
        [{"step": "reverb", "rt60_s": 0.4, "mix": 0.5, "predelay_s": 0.0, "damping_hz": 9000.0}],
        3,
    )
    assert wet.shape[1] == 2
    tail = slice(round(0.1 * RATE), None)
    assert abs(np.corrcoef(wet[tail, 0], wet[tail, 1])[0, 1]) < 0.5


def test_truncate_cuts_after_the_onset_with_a_short_fade() -> None:
    audio = tom()
    onset = attack_index(audio)
    cut = run(audio, "truncate", at_s=0.1)
    assert cut.size == onset + round(0.1 * RATE)
    assert abs(cut[-1]) < 1e-3 * np.abs(audio).max()
    fade = round(augment.FADE_S * RATE)
    np.testing.assert_array_equal(cut[: cut.size - fade], audio[: cut.size - fade])
    assert run(audio, "truncate", at_s=5.0).tobytes() == audio.tobytes()


@pytest.mark.parametrize("lead_db", [None, -70.0])
@pytest.mark.parametrize("delay_s", [0.0, 0.0031, 0.0124])
def test_offset_delays_the_attack_by_its_amount(delay_s: float, lead_db: float | None) -> None:
    audio = tom()
    late = run(audio, "offset", delay_s=delay_s, lead_db=lead_db)
    shift = attack_index(late) - attack_index(audio)
    assert abs(shift - delay_s * RATE) <= 0.001 * RATE
    lead = late[: round(delay_s * RATE)]
    if lead_db is None:
        assert not lead.any()
    elif lead.size:
        level = 20 * np.log10(np.sqrt(np.mean(lead.astype(np.float64) ** 2)))
        assert level == pytest.approx(lead_db + 20 * np.log10(np.abs(audio).max()), abs=3)


def test_noise_floor_is_at_its_level_below_the_peak() -> None:
    audio = tom()
    noisy = run(audio, "noise", level_db=-50.0)
    added = noisy.astype(np.float64) - audio
    level = 20 * np.log10(np.sqrt(np.mean(added**2)) / np.abs(audio).max())
    assert level == pytest.approx(-50.0, abs=0.5)
    assert noisy.size == audio.size


def test_noise_and_reverb_depend_on_the_seed_and_nothing_else() -> None:
    audio = tom()
    chain = [
        {"step": "reverb", "rt60_s": 0.3, "mix": 0.3, "predelay_s": 0.0, "damping_hz": 6000.0},
        {"step": "noise", "level_db": -45.0},
    ]
    one = augment.apply(audio, RATE, chain, 1)
    assert augment.apply(audio, RATE, chain, 1).tobytes() == one.tobytes()
    assert augment.apply(audio, RATE, chain, 2).tobytes() != one.tobytes()


def base_hits() -> list[Hit]:
    return synth.hits(2 * synth.KIT_SIZE + 7, seed=5)[::9]


def test_augmented_hits_stay_in_their_base_kit_and_class() -> None:
    base = base_hits()
    copies = augment.augmented_hits(base, copies=3, seed=0)
    assert len(copies) == 3 * len(base)
    for i, hit in enumerate(copies):
        original = base[i // 3]
        fields = hit.recipe_fields()
        assert hit.source == "synthetic+aug"
        assert hit.kit == original.kit
        assert hit.instrument == original.instrument
        assert hit.instrument_class == original.instrument_class
        assert fields["base"] == original.recipe
        assert fields["base_source"] == original.source
        assert 1 <= len(fields["chain"]) <= 3
        assert augment.base_hit(hit) == original
    assert {h.kit for h in copies} == {h.kit for h in base}
    assert len({h.recipe for h in copies}) == len(copies)


def test_augmented_hits_do_not_depend_on_the_order_or_the_other_base_hits() -> None:
    base = base_hits()
    forward = augment.augmented_hits(base, copies=2, seed=4)
    backward = augment.augmented_hits(base_hits()[::-1], copies=2, seed=4)
    alone = augment.augmented_hits(base_hits()[:1], copies=2, seed=4)
    assert set(forward) == set(backward)
    assert forward[:2] == alone
    assert augment.augmented_hits(base, copies=2, seed=5) != forward


def test_render_augmented_is_reproducible_and_prepares() -> None:
    base = base_hits()
    copies = augment.augmented_hits(base, copies=2, seed=1)
    renders = []
    for hit in copies:
        audio = augment.render_augmented(hit, synth.render_hit)
        again = augment.render_augmented(hit, synth.render_hit)
        assert audio.sample_rate == synth.SAMPLE_RATE
        assert audio.frames.ndim == 2 and audio.frames.shape[1] == 1
        assert audio.frames.tobytes() == again.frames.tobytes()
        prepare(audio.frames, audio.sample_rate)
        renders.append(audio.frames.tobytes())
    assert len(set(renders)) == len(renders)


def test_render_augmented_passes_the_base_to_its_source() -> None:
    base = Hit("folder", "kit-a", "snare 1", "snare", Hit.make_recipe(path="snare.wav"))
    (hit,) = augment.augmented_hits([base], copies=1, seed=0)
    seen: list[Hit] = []

    def render_base(requested: Hit) -> Audio:
        seen.append(requested)
        return Audio(frames=np.repeat(tom()[:, None], 2, axis=1), sample_rate=RATE)

    audio = augment.render_augmented(hit, render_base)
    assert seen == [base]
    assert audio.frames.shape[1] == 2
    stale = Hit(
        hit.source,
        hit.kit,
        hit.instrument,
        hit.instrument_class,
        Hit.make_recipe(**hit.recipe_fields() | {"version": 0}),
    )
    with pytest.raises(ValueError, match="version"):
        augment.render_augmented(stale, render_base)
