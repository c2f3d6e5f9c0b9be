"""Grooves with exact onsets, on real kits, in the listening conditions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from timbrecast.daemon.preprocess import attack_index
from timbrecast.trainer import grooves
from timbrecast.trainer.grooves import KINDS, RATE, Note, SynthKit, condition, pattern, render


def test_patterns_hold_every_kind_and_soft_notes() -> None:
    notes = [n for seed in range(12) for n in pattern(np.random.default_rng(seed), 120.0)]
    assert {n.kind for n in notes} == set(KINDS)
    assert min(n.velocity for n in notes) == 20 and max(n.velocity for n in notes) <= 127
    times = [n.time_s for n in pattern(np.random.default_rng(3), 150.0)]
    assert times == sorted(times) and times[0] > 0.4


@pytest.mark.parametrize("velocity", [20, 127])
def test_a_note_is_placed_on_its_attack_at_its_loudness(velocity: int) -> None:
    kit = SynthKit(np.random.default_rng(0))
    alone = [Note(0.7, "snare", velocity, "stroke"), Note(1.5, "kick", 127, "stroke")]
    mix, truth = render(alone, kit)
    assert truth == [round(0.7 * RATE) / RATE, round(1.5 * RATE) / RATE]
    assert abs(attack_index(mix[: round(1.4 * RATE)]) - round(0.7 * RATE)) <= 1
    snare = np.abs(mix[round(0.7 * RATE) : round(0.9 * RATE)]).max()
    kick = np.abs(mix[round(1.5 * RATE) : round(1.7 * RATE)]).max()
    ratio_db = 20 * np.log10(snare / kick)
    assert ratio_db == pytest.approx(-24.0 if velocity == 20 else 0.0, abs=1.0)


def test_conditions_stay_in_their_ranges() -> None:
    rng = np.random.default_rng(1)
    clean, _ = render(pattern(rng, 100.0), SynthKit(rng))
    for seed in range(6):
        noisy, _ = condition("noise", clean, np.random.default_rng(seed))
        floor = 10 * np.log10(np.mean((noisy - clean) ** 2))
        assert -65.5 <= floor <= -39.5
        quiet, what = condition("quiet", clean, np.random.default_rng(seed))
        level = 20 * np.log10(np.abs(quiet).max() / np.abs(clean).max())
        assert -36.5 <= level <= -11.5 and what.endswith("dB")
        wet, what = condition("room", clean, np.random.default_rng(seed))
        assert np.abs(wet).max() == pytest.approx(10 ** (-1 / 20)) and "RT60" in what


def test_a_note_can_be_followed_alone_down_a_condition() -> None:
    """The mix's parts add up to the mix, and a condition's linear path (room, level)
    makes of the clean groove what it delivered, less its noise: what
    bench/onset_snr.py sends one note down."""
    rng = np.random.default_rng(2)
    notes = pattern(rng, 120.0)
    mix = grooves.mixed(notes, SynthKit(rng))
    summed = np.zeros_like(mix.audio)
    for part in mix.parts:
        summed[part.start : part.start + part.sound.size] += part.gain * part.sound
    np.testing.assert_allclose(summed, mix.audio, atol=1e-9)
    for seed in range(4):
        for name in ("clean", "room", "quiet"):
            heard = grooves.conditioned(name, mix.audio, np.random.default_rng(seed))
            np.testing.assert_allclose(heard.of(mix.audio), heard.audio, atol=1e-9)
        live = grooves.conditioned("live", mix.audio, np.random.default_rng(seed))
        floor = 10 * np.log10(np.mean((live.audio - live.of(mix.audio)) ** 2))
        assert -65.5 <= floor <= -39.5 and live.what.endswith("dBFS")


def test_a_hydrogen_kit_plays_its_velocity_layers() -> None:
    """Soft and hard notes of a layered Debian kit come from different samples."""
    layered = grooves.hydrogen_kits()
    assert layered, "no Hydrogen kit installed (apt-get install hydrogen-drumkits)"
    for maker in layered:
        kit = maker.make(np.random.default_rng(0), {})
        if len(kit.layers["snare"]) > 1:
            soft, hard = kit.sound("snare", 20)[0], kit.sound("snare", 127)[0]
            assert soft.size != hard.size or not np.allclose(soft, hard)
            return
    pytest.fail("no installed Hydrogen kit has a snare with velocity layers")


def test_kits_of_a_part_are_the_splits() -> None:
    """A learned detector is scored only on kits it never trained on: the parts
    are disjoint, and synthetic kits (drawn anew per groove) are in each."""
    parts = {
        part: {
            m.name
            for makers in grooves.all_kits(Path("/nonexistent"), part).values()
            for m in makers
        }
        for part in ("train", "validation", "test")
    }
    assert "TR808EmulationKit" in parts["test"] and "freepats-GM" in parts["test"]
    for a, b in (("train", "validation"), ("train", "test"), ("validation", "test")):
        assert parts[a] & parts[b] == {grooves.SYNTHETIC}
