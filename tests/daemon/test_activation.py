"""The learned onset activation: its features, its contract, and the model that ships."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from timbrecast.daemon import activation, bundled
from timbrecast.daemon.activation import (
    BANDS,
    DECAY,
    ROWS,
    SILENCE,
    Activation,
    ActivationContract,
    features,
    filterbank,
    remembered,
)
from timbrecast.daemon.contract import ModelContractError
from timbrecast.daemon.onset import FRAME_S, HOP_S, DetectorSettings, Framer, OnsetDetector


def shipped() -> ActivationContract:
    return activation._load(activation.onset_model())[1]


def test_the_bundled_onset_model_carries_the_features_it_reads() -> None:
    contract = shipped()
    contract.check(FRAME_S, HOP_S)
    assert contract.model_id.startswith("onsets-int8-")
    assert contract.metrics["export_vs_float_mae"] < 0.02
    assert contract.training_data["quantization"] == "dynamic"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"bands": BANDS + 8}, f"bands {BANDS + 8}"),
        ({"features_version": 99}, "features_version 99"),
        ({"hop_s": 0.005}, "hop_s 0.005"),
    ],
)
def test_a_model_trained_on_other_features_is_refused(change: dict, named: str) -> None:
    with pytest.raises(ModelContractError, match=f"onset model cannot be honoured: {named}"):
        replace(shipped(), **change).check(FRAME_S, HOP_S)


def test_a_timbre_model_is_not_taken_for_an_onset_model() -> None:
    timbre = bundled.model()
    assert timbre is not None
    with pytest.raises(ModelContractError, match="carries no onset contract"):
        Activation(48_000, 576, FRAME_S, HOP_S, timbre)


@pytest.mark.parametrize("rate", [44_100, 48_000])
def test_bands_cover_the_spectrum_alike_at_44_1_and_48_khz(rate: int) -> None:
    framer = Framer(rate)
    bank = filterbank(rate, framer.frame)
    assert bank.shape == (BANDS, framer.frame // 2 + 1)
    assert np.allclose(bank.sum(axis=1), 1.0)
    freqs = np.fft.rfftfreq(framer.frame, 1 / rate)
    centres = bank @ freqs
    assert np.all(np.diff(centres) > 0) and 50 < centres[0] < 200 and centres[-1] > 12_000


def test_bands_above_the_nyquist_frequency_are_empty() -> None:
    """The same bands in Hz at any rate: at 16 kHz the top ones have no bins."""
    bank = filterbank(16_000, Framer(16_000).frame)
    sums = bank.sum(axis=1)
    assert np.allclose(sums[:20], 1.0) and np.all(sums[-4:] == 0.0)
    wide = filterbank(48_000, Framer(48_000).frame)
    centre = bank[:20] @ np.fft.rfftfreq(Framer(16_000).frame, 1 / 16_000)
    assert np.allclose(
        centre, wide[:20] @ np.fft.rfftfreq(Framer(48_000).frame, 1 / 48_000), rtol=0.1
    )


def test_a_level_change_shifts_every_band_by_the_same_amount() -> None:
    """A ratio: a hit 24 dB down reads as the same shape, 1.2 decades lower."""
    rate = 48_000
    framer = Framer(rate)
    noise = np.random.default_rng(0).normal(size=framer.frame * 4).astype(np.float32) * 0.1
    loud = features(Framer(rate).push(noise).magnitudes, filterbank(rate, framer.frame))
    soft = features(Framer(rate).push(noise / 16).magnitudes, filterbank(rate, framer.frame))
    assert np.allclose(loud[-1] - soft[-1], np.log10(16), atol=5e-3)


def test_the_detector_reads_its_stream_as_the_trainer_cuts_it() -> None:
    """Online (128-sample blocks, the context filled frame by frame) and offline (the
    whole groove, windows as ``trainer.onsets`` builds them) give the same activations."""
    onsets = pytest.importorskip("timbrecast.trainer.onsets")
    rate = 44_100
    rng = np.random.default_rng(1)
    audio = np.zeros(rate, dtype=np.float32)
    for start in (0.2, 0.5, 0.55, 0.8):
        audio[round(start * rate) :] += rng.normal(size=audio.size - round(start * rate)) * 0.05
    values, targets, snr = onsets.frames_of(audio, rate, [])
    offline = onsets.windows(values, targets, snr, None).inputs
    live = Activation(rate, Framer(rate).frame, FRAME_S, HOP_S)
    framer = Framer(rate)
    online = []
    for start in range(0, audio.size, 128):
        for magnitude in framer.push(audio[start : start + 128]).magnitudes:
            online.append(live.step(magnitude[None])[0])
    assert offline.shape == (len(online), ROWS, BANDS)
    batch = Activation(rate, Framer(rate).frame, FRAME_S, HOP_S)
    expected = [batch.invoke(window[None])[0] for window in offline]
    assert np.allclose(online, expected, atol=1e-6)


def test_the_memory_is_one_formula_frame_by_frame_and_for_a_whole_groove() -> None:
    rng = np.random.default_rng(2)
    values = rng.uniform(-6, 0, size=(300, BANDS)).astype(np.float32)
    start = np.full(BANDS, SILENCE, dtype=np.float32)
    whole, last = remembered(values, start)
    state, stepped = start, []
    for row in values:
        before, state = remembered(row[None], state)
        stepped.append(before[0])
    assert np.allclose(whole, stepped, atol=1e-4) and np.allclose(last, state, atol=1e-4)
    # Before frame t: the loudest earlier value, less DECAY per frame since.
    t = 250
    ages = t - np.arange(t)[:, None]
    assert np.allclose(whole[t], (values[:t] - DECAY * (ages - 1)).max(axis=0), atol=1e-4)


@pytest.mark.parametrize("method", ["learned", "flux"])
def test_block_size_does_not_change_the_onsets(method: str, parity_dir: Path) -> None:
    from timbrecast.daemon import audiofile

    audio = audiofile.read(parity_dir / "gmrockkit-Snare-Hard.wav").frames[:, 0]
    stream = np.concatenate([np.zeros(3000), audio, audio * 0.3, np.zeros(2000)])
    found = {}
    for block in (64, 128, 4096, stream.size):
        detector = OnsetDetector(16_000, DetectorSettings(method=method))
        found[block] = [
            e.sample
            for start in range(0, stream.size, block)
            for e in detector.process(stream[start : start + block])
        ]
    assert found[64] and all(v == found[64] for v in found.values()), found
