"""The synthetic generator: reproducible, every kind a usable hit, and wide in timbre."""

from __future__ import annotations

import hashlib
import itertools
import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from timbrecast.daemon.contract import INPUT_LENGTH
from timbrecast.daemon.preprocess import attack_index, prepare
from timbrecast.trainer import synth
from timbrecast.trainer.sources import INSTRUMENT_CLASSES

RATE = synth.SAMPLE_RATE
SEEDS = range(12)


def params(kind: str, seed: int) -> dict:
    return synth.random_params(kind, np.random.default_rng(seed))


def centroid(audio: np.ndarray, rate: int = RATE) -> float:
    """Power-weighted spectral centroid in Hz."""
    power = np.abs(np.fft.rfft(audio.astype(np.float64))) ** 2
    return float((power * np.fft.rfftfreq(audio.size, 1 / rate)).sum() / power.sum())


def decay_s(audio: np.ndarray, rate: int = RATE) -> float:
    """Time from the peak until the 5 ms envelope stays below -40 dB of it."""
    frame = round(0.005 * rate)
    envelope = np.abs(audio[: audio.size // frame * frame]).reshape(-1, frame).max(axis=1)
    loud = np.nonzero(envelope >= 0.01 * envelope.max())[0]
    return float((loud[-1] - np.argmax(envelope)) * frame / rate)


def rise_s(audio: np.ndarray, rate: int = RATE) -> float:
    """Time from 10 % to 90 % of the peak, on the running maximum of |x|."""
    running = np.maximum.accumulate(np.abs(audio))
    peak = running[-1]
    return float((np.argmax(running >= 0.9 * peak) - np.argmax(running >= 0.1 * peak)) / rate)


def test_every_kind_has_a_known_instrument_class() -> None:
    assert set(synth.KINDS) >= {"kick", "snare", "tom", "hihat_closed", "hihat_open", "clap"}
    assert set(synth.KINDS) >= {"rim", "cowbell", "cymbal", "noise"}
    for kind in synth.KINDS:
        assert synth.CLASS_OF[kind] in INSTRUMENT_CLASSES


@pytest.mark.parametrize("kind", synth.KINDS)
def test_every_kind_renders_a_finite_hit_that_starts_on_its_attack(kind: str) -> None:
    for seed in SEEDS:
        p = params(kind, seed)
        audio = synth.render(kind, p)
        assert audio.dtype == np.float32
        assert audio.ndim == 1
        assert np.all(np.isfinite(audio))
        assert np.abs(audio).max() == pytest.approx(synth.PEAK, abs=1e-6)
        assert attack_index(audio) <= (p.get("attack_s", 0.0) + 0.01) * RATE, (kind, seed)
        assert 0.02 * RATE <= audio.size <= synth.MAX_S * RATE + 1
        assert audio[-1] == 0.0  # ends at rest, no click when cut
        clip = prepare(audio, RATE)
        assert clip.shape == (INPUT_LENGTH,)


@pytest.mark.parametrize("kind", synth.KINDS)
def test_same_params_render_bit_identical_also_after_a_json_round_trip(kind: str) -> None:
    p = params(kind, 5)
    first = synth.render(kind, p)
    again = synth.render(kind, json.loads(json.dumps(p)))
    assert first.tobytes() == again.tobytes()


def test_a_fresh_process_renders_the_same_bytes() -> None:
    """No hidden state (caches, global RNG) may leak into what a recipe renders."""
    hits = synth.hits(len(synth.KINDS) * 2, seed=3)
    here = hashlib.sha256(b"".join(synth.render_hit(h).frames.tobytes() for h in hits))
    code = (
        "import hashlib; from timbrecast.trainer import synth; "
        f"hits = synth.hits({len(hits)}, seed=3); "
        "print(hashlib.sha256(b''.join(synth.render_hit(h).frames.tobytes() for h in hits))"
        ".hexdigest())"
    )
    there = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert there == here.hexdigest()


@settings(max_examples=60, deadline=None)
@given(kind=st.sampled_from(synth.KINDS), seed=st.integers(0, 2**32 - 1))
def test_params_are_plain_json_numbers(kind: str, seed: int) -> None:
    p = params(kind, seed)
    assert json.loads(json.dumps(p)) == p
    assert all(type(value) in (int, float) for value in p.values())
    assert synth.Voice(**p).seed == p["seed"]


@pytest.mark.parametrize("kind", synth.KINDS)
def test_distinct_seeds_give_distinct_audio(kind: str) -> None:
    renders = {synth.render(kind, params(kind, seed)).tobytes() for seed in range(6)}
    assert len(renders) == 6


def test_unknown_kind_or_parameter_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown kind"):
        synth.render("gong", params("kick", 0))
    with pytest.raises(ValueError, match="unknown kind"):
        synth.random_params("gong", np.random.default_rng(0))
    with pytest.raises(TypeError):
        synth.render("kick", params("kick", 0) | {"wobble": 1.0})


def test_render_at_other_rates_keeps_the_band_edges_legal() -> None:
    for rate in (16_000, 22_050, 48_000):
        for kind in synth.KINDS:
            audio = synth.render(kind, params(kind, 1), rate)
            assert np.all(np.isfinite(audio))
            assert np.abs(audio).max() == pytest.approx(synth.PEAK, abs=1e-6)


def test_hits_spread_over_kinds_and_group_into_kits_of_fifty() -> None:
    hits = synth.hits(123, seed=0)
    assert len(hits) == 123
    kinds = Counter(h.recipe_fields()["kind"] for h in hits)
    assert set(kinds) == set(synth.KINDS)
    assert max(kinds.values()) - min(kinds.values()) <= 1
    kits = Counter(h.kit for h in hits)
    assert kits == {"synthetic-00": 50, "synthetic-01": 50, "synthetic-02": 23}
    for hit in hits:
        fields = hit.recipe_fields()
        assert hit.source == "synthetic"
        assert hit.instrument_class == synth.CLASS_OF[fields["kind"]]
        assert {"kind", "params", "seed"} <= set(fields)
    assert len({h.recipe for h in hits}) == len(hits)


def test_hits_are_reproducible_and_a_prefix_does_not_depend_on_the_count() -> None:
    assert synth.hits(40, seed=2) == synth.hits(40, seed=2)
    assert synth.hits(40, seed=2)[:15] == synth.hits(15, seed=2)
    assert synth.hits(15, seed=2) != synth.hits(15, seed=3)


def test_render_hit_is_the_recipe_rendered() -> None:
    for hit in synth.hits(len(synth.KINDS), seed=4):
        fields = hit.recipe_fields()
        audio = synth.render_hit(hit)
        assert audio.sample_rate == RATE
        assert audio.frames.shape == (audio.frames.shape[0], 1)
        expected = synth.render(fields["kind"], fields["params"])
        assert audio.frames[:, 0].tobytes() == expected.tobytes()


def test_the_corpus_spreads_wide_in_brightness_length_attack_and_roughness() -> None:
    """The generator exists to fill the gaps of real kits: its hits must reach the
    extremes, not cluster in the middle."""
    hits = synth.hits(300, seed=11)
    audio = [synth.render_hit(h).frames[:, 0] for h in hits]
    centroids = np.array([centroid(a) for a in audio])
    decays = np.array([decay_s(a) for a in audio])
    rises = np.array([rise_s(a) for a in audio])
    assert centroids.min() < 150 and centroids.max() > 8000
    assert decays.min() < 0.05 and decays.max() > 1.0
    assert rises.min() < 0.0005 and rises.max() > 0.01
    voices = [synth.Voice(**h.recipe_fields()["params"]) for h in hits]
    for feature in ("drive", "ring_mix", "beat_level", "fm_index", "tone_hz", "thin_hz"):
        share = np.mean([getattr(v, feature) > 0 for v in voices])
        assert 0.02 < share < 0.5, feature


def clusters(onsets: list[tuple[float, str]], within_s: float = 0.015) -> list[float]:
    """First onset of each group of notes struck together (a few ms apart)."""
    times = [t for t, _ in onsets]
    return [t for i, t in enumerate(times) if i == 0 or t - times[i - 1] > within_s]


@pytest.mark.parametrize("seed", range(3))
def test_groove_is_a_ten_second_groove_with_ghosts_and_flams(seed: int) -> None:
    audio, onsets = synth.groove(seed)
    assert audio.dtype == np.float32
    assert 8.0 <= audio.size / RATE <= 10.5
    assert np.abs(audio).max() == pytest.approx(10 ** (-1 / 20), abs=1e-6)
    times = [t for t, _ in onsets]
    assert times == sorted(times)
    assert times[0] >= 0.0 and times[-1] < audio.size / RATE
    kinds = Counter(kind for _, kind in onsets)
    assert set(kinds) == {"kick", "snare", "hihat_closed", "hihat_open", "tom", "cymbal"}
    snares = [t for t, kind in onsets if kind == "snare"]
    flams = [b - a for a, b in itertools.pairwise(snares) if b - a < 0.05]
    assert len(flams) == 2 and all(0.015 < gap < 0.05 for gap in flams)
    assert synth.groove(seed)[0].tobytes() == audio.tobytes()


@pytest.mark.parametrize("seed", range(3))
def test_groove_onsets_are_where_the_audio_rises_and_nowhere_else(seed: int) -> None:
    audio, onsets = synth.groove(seed)
    x = audio.astype(np.float64)
    window = round(0.01 * RATE)
    for t in clusters(onsets):
        i = round(t * RATE)
        after = np.mean(x[i : i + window] ** 2)
        before = np.mean(x[i - window : i] ** 2) if i >= window else 0.0
        assert after > 1.3 * before, t
        assert np.mean(x[i - window // 2 : i - 1] ** 2) < after  # not already risen
    frame = round(0.005 * RATE)
    energy = (x[: x.size // frame * frame] ** 2).reshape(-1, frame).mean(axis=1)
    times = np.array([t for t, _ in onsets])
    for j in range(2, energy.size):
        if energy[j] > 4 * max(energy[j - 1], energy[j - 2]) and energy[j] > 1e-6:
            assert np.min(np.abs(times - j * frame / RATE)) < 0.012, j * frame / RATE


def test_groove_ghost_notes_are_quiet() -> None:
    audio, onsets = synth.groove(0)
    x = audio.astype(np.float64)
    window = round(0.02 * RATE)
    snare_peaks = sorted(
        float(np.abs(x[round(t * RATE) : round(t * RATE) + window]).max())
        for t, kind in onsets
        if kind == "snare"
    )
    assert snare_peaks[0] < 0.35 * snare_peaks[-1]
