"""Training data of the learned onset detector: targets where the attacks are, and
the augmentation a live kit meets."""

from __future__ import annotations

import numpy as np
import pytest

from timbrecast.daemon.activation import BANDS, CONTEXT, ROWS
from timbrecast.daemon.onset import Framer
from timbrecast.trainer.audibility import Bands
from timbrecast.trainer.grooves import RATE as GROOVE_RATE
from timbrecast.trainer.grooves import Heard, Mix, Part
from timbrecast.trainer.onsets import (
    TARGET_HOPS,
    OnsetTraining,
    compress,
    eq,
    frames_of,
    snrs,
    windows,
)

RATE = 48_000


def test_the_frames_just_after_each_attack_are_the_targets() -> None:
    audio = np.zeros(RATE, dtype=np.float32)
    onsets = [0.25, 0.6]
    for onset in onsets:
        start = round(onset * RATE)
        audio[start : start + 2000] = np.random.default_rng(0).normal(size=2000) * 0.5
    values, targets, snr = frames_of(audio, RATE, onsets)
    framer = Framer(RATE)
    ends = framer.push(audio).ends
    assert values.shape == (ends.size, BANDS) and targets.sum() == 2 * TARGET_HOPS
    assert np.isinf(snr).all()
    for onset in onsets:
        first = int(np.flatnonzero(ends > round(onset * RATE))[0])
        assert targets[first : first + TARGET_HOPS].all() and not targets[first - 1]


def test_training_keeps_every_target_and_the_frames_around_it() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(5000, BANDS)).astype(np.float32)
    targets = np.zeros(5000, dtype=np.float32)
    targets[[100, 101, 102, 3000, 3001, 3002]] = 1.0
    kept = windows(values, targets, np.where(targets > 0, 3.0, np.inf), rng)
    assert kept.inputs.shape[1:] == (ROWS, BANDS) and kept.targets.sum() == 6
    assert len(kept.targets) < 0.3 * len(targets)
    every = windows(values, targets, np.full(5000, np.inf), None)
    assert len(every.targets) == 5000
    assert np.array_equal(every.inputs[200, CONTEXT - 1], values[200])
    assert np.array_equal(every.inputs[200, 0], values[200 - CONTEXT + 1])
    assert np.allclose(every.inputs[200, CONTEXT], values[:200].max(axis=0), atol=200 * 0.016)


@pytest.mark.parametrize("seed", range(4))
def test_eq_and_compression_keep_the_groove_in_place(seed: int) -> None:
    rng = np.random.default_rng(seed)
    audio = np.zeros(RATE)
    audio[1000:3000] = rng.normal(size=2000) * 0.8
    audio[20_000:22_000] = rng.normal(size=2000) * 0.05
    for changed in (eq(audio, RATE, rng), compress(audio, RATE, rng)):
        assert changed.shape == audio.shape and np.isfinite(changed).all()
        assert np.abs(changed[:1000]).max() < 1e-3  # nothing before the first hit
    squeezed = compress(audio, RATE, np.random.default_rng(seed))

    def spread(x: np.ndarray) -> float:  # loud burst's RMS over the quiet one's
        return float(np.std(x[1000:3000]) / np.std(x[20_000:22_000]))

    assert spread(squeezed) < spread(audio)


def test_each_target_counts_by_how_audible_its_note_is() -> None:
    """Three bursts over a noise floor, loud, soft and under the floor: weighted by
    audibility, the loud one's targets count once, the soft one's more, the inaudible
    one's not at all."""
    rng = np.random.default_rng(0)
    burst = rng.normal(size=4410) * np.exp(-np.arange(4410) / 800)
    audio, parts, truth = np.zeros(GROOVE_RATE), [], []
    for onset, gain in ((0.2, 0.5), (0.5, 0.01), (0.8, 0.003)):
        start = round(onset * GROOVE_RATE)
        audio[start : start + burst.size] += gain * burst
        parts.append(Part(start, gain, burst))
        truth.append(onset)
    heard = Heard(audio + rng.normal(size=audio.size) * 0.003, "white")
    loud, soft, under = snrs(Mix(audio, truth, parts), heard, Bands())
    assert loud > 20 and 0 < soft < 10 and under < 0
    values, targets, snr = frames_of(heard.audio, GROOVE_RATE, truth, [loud, soft, under])
    framed = windows(values, targets, snr, None)
    assert (framed.weights(OnsetTraining()) == 1.0).all()  # the default: every note once
    weights = framed.weights(OnsetTraining(inaudible_db=0.0, weak_weight=2.5))
    assert weights[targets == 0].min() == 1.0
    assert sorted(np.unique(weights[targets > 0])) == [0.0, 1.0, 2.5]
    assert (weights[targets > 0] == 0).sum() == TARGET_HOPS


def test_the_exported_model_is_the_mean_of_its_networks(tmp_path) -> None:
    """Two networks (untrained: the mean does not care) exported as one model with
    int8 weights: the daemon's runtime reads the mean of their activations, within
    the weights' rounding, and the contract records each network's training, the
    target frames and the export."""
    tf = pytest.importorskip("tensorflow")
    from timbrecast.daemon.activation import Activation, ActivationContract
    from timbrecast.daemon.onset import FRAME_S, HOP_S
    from timbrecast.daemon.tflitemeta import metadata
    from timbrecast.trainer.onsets import METADATA_NAME, export, network

    rng = np.random.default_rng(0)
    members = []
    for seed in (0, 1):
        tf.keras.utils.set_random_seed(seed)
        members.append(network())
    inputs = rng.normal(-3.0, 1.5, size=(600, ROWS, BANDS)).astype(np.float32)
    each = [m.predict(inputs[500:], verbose=0).ravel() for m in members]
    assert np.abs(each[0] - each[1]).mean() > 0.1  # either alone is far from the mean
    scores = [{"best_epoch": 3, "validation_loss": 0.2}, {"best_epoch": 5, "validation_loss": 0.3}]
    out = tmp_path / "onsets.tflite"
    metrics = export(members, scores, OnsetTraining(), inputs[500:], out)
    assert metrics["best_epoch"] == [3, 5] and metrics["export_vs_float_mae"] < 0.02
    contract = ActivationContract.from_json(metadata(out.read_bytes())[METADATA_NAME])
    assert contract.training_data["target_hops"] == TARGET_HOPS
    assert contract.training_data["quantization"] == "dynamic"
    assert contract.training_data["settings"]["members"] == OnsetTraining().members
    framer = Framer(RATE)
    activation = Activation(RATE, framer.frame, FRAME_S, HOP_S, out, channels=100)
    read = np.array(activation.invoke(inputs[500:]))
    assert np.abs(read - (each[0] + each[1]) / 2).mean() < 0.02


def test_each_network_trains_on_its_own_grooves() -> None:
    settings = OnsetTraining(seed=7, members=3)
    assert [settings.member(i).seed for i in range(3)] == [7, 8, 9]
    assert {settings.member(i).members for i in range(3)} == {1}
