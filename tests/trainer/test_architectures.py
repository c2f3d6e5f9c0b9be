"""The seed's four architectures, exactly, and the training path end to end on a few clips."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import script
from timbrecast.daemon import runtime
from timbrecast.daemon.contract import LABEL_SCALE, ModelContractError
from timbrecast.daemon.inference import Model
from timbrecast.trainer import augment, corpus, hydrogen, synth
from timbrecast.trainer.architectures import ARCHITECTURES, SEED_PARAMETERS, build
from timbrecast.trainer.dataset import load_split
from timbrecast.trainer.heard import LABELS
from timbrecast.trainer.labelcache import LabelCache
from timbrecast.trainer.split import Split
from timbrecast.trainer.train import TrainSettings, train


@pytest.mark.parametrize("name", sorted(SEED_PARAMETERS))
def test_seed_architectures_have_the_seed_parameter_counts(name: str) -> None:
    assert build(name).count_params() == SEED_PARAMETERS[name]


def test_our_variant_keeps_the_size_of_seven_filters() -> None:
    ours = build("seven-filters-avg").count_params()
    assert abs(ours - SEED_PARAMETERS["seven-filters"]) / SEED_PARAMETERS["seven-filters"] < 0.01
    assert set(ARCHITECTURES) >= set(SEED_PARAMETERS)


class Bar:
    def __init__(self, total: int, label: str) -> None:
        pass

    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A 24-clip corpus: real hits from two Hydrogen kits and synthetic ones."""
    folder = tmp_path_factory.mktemp("corpus")
    listed = hydrogen.listing().hits
    real = [h for h in listed if h.kit == "VariBreaks"][:8]
    real += [h for h in listed if h.kit == "TR808EmulationKit"][:8]
    hits = real + synth.hits(8, seed=3)
    corpus.build(hits, folder, LabelCache(folder / "labels.db"), 2, Bar)
    return folder


def test_train_export_and_run_in_the_daemon(store: Path, tmp_path: Path) -> None:
    import tensorflow as tf

    split = Split(validation=frozenset({"TR808EmulationKit"}), test=frozenset())
    parts = load_split(store, split)
    settings = TrainSettings(arch="small", epochs=3, batch_size=4, patience=2, seed=1)
    result = train(parts["train"], parts["validation"], settings, tmp_path / "run")
    assert (tmp_path / "run" / "history.csv").read_text().count("\n") == result.epochs_run + 1
    assert (tmp_path / "run" / "loss.png").stat().st_size > 1000
    assert result.parameters == SEED_PARAMETERS["small"]

    again = train(parts["train"], parts["validation"], settings, tmp_path / "again")
    assert again.best_val_mae == result.best_val_mae, "training is not deterministic for a seed"

    from timbrecast.trainer.export import export

    out = tmp_path / "small.tflite"
    message = export(tmp_path / "run" / "model.keras", out, "int8", store, 0.05, split, draws=3)
    assert "validation MAE" in message
    model = Model(out)
    assert model.contract.architecture == "small"
    metrics = model.contract.metrics
    assert metrics["quantize"] == "int8"
    tried = metrics["calibration"]["validation_mae_per_draw"]
    assert len(tried) == 3, "each calibration draw is scored"
    assert metrics["validation_mae"] == tried[metrics["calibration"]["draw"]] == min(tried)
    assert model.contract.training_data["labels"] == LABELS, "the model forgets what it learnt"
    keras = tf.keras.models.load_model(tmp_path / "run" / "model.keras")
    clips = parts["validation"].clips
    expected = LABEL_SCALE.points(keras.predict(clips[..., None], verbose=0))
    got = model.predict(clips)
    assert np.abs(got - expected).mean() < 3.0, "int8 outputs do not follow the Keras model"
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.95

    again = tmp_path / "small-float.tflite"
    assert "none" in export(out, again, "none", store, 0.05, split)
    redone = Model(again)
    assert redone.contract.metrics["quantize"] == "none"
    assert redone.contract.training_data["weights_of"] == model.contract.model_id
    assert redone.contract.training_data["labels"] == LABELS
    from timbrecast.trainer.export import keras_of

    read_back = keras_of(out.read_bytes())
    steps = []
    for trained, back in zip(keras.layers, read_back.layers, strict=True):
        for original, dequantised in zip(trained.get_weights(), back.get_weights(), strict=True):
            step = np.abs(original).max(axis=tuple(range(original.ndim - 1))) / 127
            steps.append(np.abs(original - dequantised).max() / step.max())
    assert len(steps) == 4 and max(steps) < 1.0, "the weights read back are not the int8 ones"
    # Same weights, activations no longer rounded: closer to the Keras model than int8.
    assert np.abs(redone.predict(clips) - expected).mean() < np.abs(got - expected).mean()
    # A dynamic-range export of these weights lands on a defect of the builtin hybrid
    # FULLY_CONNECTED kernel of some runtimes (a dense layer of 18,662 inputs): its
    # self-test must then be refused, never made from the wrong kernel's outputs.
    try:
        export(out, tmp_path / "small-dynamic.tflite", "dynamic", store, 0.05, split)
    except ModelContractError as exc:
        assert "builtin kernels and XNNPACK disagree" in str(exc)
        assert not (tmp_path / "small-dynamic.tflite").exists()
    else:
        dynamic = Model(tmp_path / "small-dynamic.tflite")
        assert dynamic.verdict is not None and dynamic.verdict.xnnpack
        assert np.abs(dynamic.predict(clips) - expected).mean() < np.abs(got - expected).mean()


def test_an_early_model_trains_exports_and_carries_its_n(store: Path, tmp_path: Path) -> None:
    """Its spectra stay float in the int8 file, as the mel-cnn's does."""
    from timbrecast.daemon.contract import early_length
    from timbrecast.daemon.preprocess import early
    from timbrecast.trainer.architectures import load
    from timbrecast.trainer.evaluate import early_curve
    from timbrecast.trainer.export import export

    split = Split(validation=frozenset({"TR808EmulationKit"}), test=frozenset())
    parts = load_split(store, split)
    settings = TrainSettings(epochs=2, batch_size=4, patience=2, seed=1, early_ms=25.0)
    train(parts["train"], parts["validation"], settings, tmp_path / "run")
    keras = load(tmp_path / "run" / "model.keras")
    assert keras.input_shape[1] == early_length(25.0) == 480
    out = tmp_path / "early.tflite"
    export(tmp_path / "run" / "model.keras", out, "int8", store, 0.05, split, draws=1)
    model = Model(out)
    assert model.contract.early_ms == 25.0 and model.contract.input_length == 480
    clips = early(parts["validation"].clips, 25.0)
    expected = LABEL_SCALE.points(keras.predict(clips[..., None], verbose=0))
    assert np.abs(model.predict(clips) - expected).mean() < 3.0
    curves = early_curve(out, [out], parts["validation"], parts["train"].targets)
    assert set(curves["early models"]) == {25.0}
    tensors = runtime.load().interpreter(out.read_bytes()).get_tensor_details()
    spectra = {t["dtype"] for t in tensors if "/log_spectrum" in t["name"]}
    assert spectra and np.int8 not in spectra, "a spectrum was quantised"


def test_the_early_nets_spectra_are_the_documented_ones(drum_clips) -> None:
    """The short spectrogram and the one frame of all that was heard, inside the
    model, against the numpy reference on real hits' first 10 ms; a tone lands in
    its bin."""
    from timbrecast.daemon.contract import early_length
    from timbrecast.daemon.preprocess import early
    from timbrecast.trainer.architectures import (
        SHORT_FFT,
        SHORT_HOP,
        log_spectrum,
        log_spectrum_layer,
    )

    length = early_length(10.0)
    heads = early(drum_clips, 10.0)
    for frame, hop, fft in [(SHORT_FFT, SHORT_HOP, SHORT_FFT), (length, length, 256)]:
        got = log_spectrum_layer()(frame, hop, fft)(heads[..., None]).numpy()
        expected = log_spectrum(heads, frame, hop, fft)
        frames = (length - frame) // hop + 1
        assert got.shape == expected.shape == (len(heads), frames, fft // 2 + 1)
        difference = np.abs(got - expected)
        assert difference.max() < 0.02 and difference.mean() < 1e-3
    tone = np.sin(2 * np.pi * 2000.0 * np.arange(length) / 16_000).astype(np.float32)
    whole = log_spectrum(tone[None], length, length, 256)[0, 0]
    assert int(np.argmax(whole)) == 32  # 2 kHz in 62.5 Hz bins


def test_the_mel_cnn_hears_the_spectrogram_its_docs_describe(drum_clips) -> None:
    """The front end inside the model is the numpy log-mel of ``architectures``,
    on real drum hits (a kick's sub-bass to a hat's top), not a look-alike."""
    from timbrecast.trainer.architectures import (
        MEL_BANDS,
        MEL_FFT,
        log_mel,
        log_mel_layer,
        mel_bank,
    )

    got = log_mel_layer()()(drum_clips[..., None]).numpy()
    expected = log_mel(drum_clips)
    assert got.shape == expected.shape == (len(drum_clips), 122, MEL_BANDS)
    # float32 FFT against numpy's float64: 0.1 dB at most, in bands near the floor.
    difference = np.abs(got - expected)
    assert difference.max() < 0.01 and difference.mean() < 1e-4
    assert expected.max() > -1.0 and expected.min() < -7.0, "the clips span the range"
    # A 1 kHz tone lands in the band centred nearest 1 kHz, as the bank's edges say.
    tone = np.sin(2 * np.pi * 1000.0 * np.arange(16_000) / 16_000).astype(np.float32)
    bands = log_mel(tone[None])[0].mean(axis=0)
    centres = np.fft.rfftfreq(MEL_FFT, 1 / 16_000) @ mel_bank() / mel_bank().sum(axis=0)
    assert int(np.argmax(bands)) == int(np.argmin(np.abs(centres - 1000.0)))


def test_the_mel_cnn_trains_exports_int8_and_runs_in_the_daemon(
    store: Path, tmp_path: Path, drum_clips
) -> None:
    """Saved, reloaded (its front end is a registered layer), exported with the
    spectrogram in float and the CNN in int8, then run by the daemon's runtime."""
    from timbrecast.trainer.architectures import load
    from timbrecast.trainer.export import export

    split = Split(validation=frozenset({"TR808EmulationKit"}), test=frozenset())
    parts = load_split(store, split)
    settings = TrainSettings(arch="mel-cnn", epochs=2, batch_size=4, patience=2, seed=1)
    train(parts["train"], parts["validation"], settings, tmp_path / "run")
    out = tmp_path / "mel.tflite"
    export(tmp_path / "run" / "model.keras", out, "int8", store, 0.05, split, draws=1)
    model = Model(out)
    assert model.contract.architecture == "mel-cnn" and model.contract.input_length == 16000
    assert model.verdict is not None and model.verdict.error <= 0.01
    keras = load(tmp_path / "run" / "model.keras")
    expected = LABEL_SCALE.points(keras.predict(drum_clips[..., None], verbose=0))
    got = model.predict(drum_clips)
    assert np.abs(got - expected).mean() < 3.0, "int8 outputs do not follow the Keras model"
    assert out.stat().st_size < 400_000
    tensors = runtime.load().interpreter(out.read_bytes()).get_tensor_details()
    spectrogram = {t["dtype"] for t in tensors if "/log_mel" in t["name"]}
    assert spectrogram and np.int8 not in spectrogram, "the spectrogram was quantised"
    assert any(t["dtype"] == np.int8 and "conv2d" in t["name"] for t in tensors)


def test_distill_labels_new_copies_of_training_hits_only(store: Path, tmp_path: Path) -> None:
    """New augmented copies of the training side's real hits (none of a held-out kit,
    none the corpus already holds), labelled by the network as `evaluate` would
    predict them, and read back as training clips; a split that holds their kit out
    refuses them."""
    from timbrecast.trainer import distill
    from timbrecast.trainer.evaluate import predict

    split = Split(validation=frozenset({"TR808EmulationKit"}), test=frozenset())
    parts = load_split(store, split)
    settings = TrainSettings(arch="small", epochs=1, batch_size=4, patience=1, seed=1)
    train(parts["train"], parts["validation"], settings, tmp_path / "run")
    network = tmp_path / "run" / "model.keras"
    out = tmp_path / "pseudo"
    report = distill.build(store, network, out, 2, 1, 1, Bar, split)
    entries = corpus.load(store)[0]
    bases = distill.base_hits(entries, split)
    assert {hit.kit for hit in bases} == {"VariBreaks"}
    assert report.made == 2 * len(bases) and not report.failed
    pseudo, labelled_by = distill.load(out, split)
    assert labelled_by == str(network) and len(pseudo) == report.made
    assert {e.hit.kit for e in pseudo.entries} == {"VariBreaks"}
    assert {e.hit.kind for e in pseudo.entries} == {"augmented"}
    np.testing.assert_allclose(pseudo.targets, predict(network, pseudo.clips), atol=1e-5)
    joined = parts["train"].joined(pseudo)
    assert len(joined) == len(parts["train"]) + len(pseudo)
    with pytest.raises(distill.PseudoError, match="held-out kits"):
        distill.load(out, Split(validation=frozenset({"VariBreaks"}), test=frozenset()))
    # A corpus's own copies (here as a corpus built with seed 1 would hold them)
    # are never made again: the teacher labelled those.
    own = {hit.recipe for hit in augment.augmented_hits(bases, 2, 1)}
    assert distill.new_copies(bases, 2, 1, own) == []
    assert len(distill.new_copies(bases, 2, 2, own)) == 2 * len(bases)


def test_distill_and_pseudo_name_what_they_cannot_use(store: Path, tmp_path: Path, capsys) -> None:
    from timbrecast.daemon.exitcodes import CONFIG, DATA, NO_INPUT
    from timbrecast.trainer import cli

    def refused(argv: list[str], status: int, words: str) -> None:
        assert cli.main(argv) == status, argv
        err = capsys.readouterr().err
        assert words in err and err.count("\n") == 1, err

    network = tmp_path / "model.keras"
    distill = ["distill", "--network", str(network), "--store", str(store)]
    refused([*distill[:3], "--store", str(tmp_path)], NO_INPUT, "no built corpus")
    refused(distill, NO_INPUT, "no such model")
    network.write_bytes(b"")
    refused([*distill, "--seed", "0"], CONFIG, "--seed 0")
    refused(distill, CONFIG, "cannot label with it")
    train = ["train", "--store", str(store), "--pseudo"]
    refused([*train, str(tmp_path / "none")], NO_INPUT, "no such folder")
    refused([*train, str(tmp_path)], DATA, "not a pseudo-labelled set")
    refused([*train, str(tmp_path), "--without", "augmented"], CONFIG, "would drop")


def test_trainer_help_lists_the_commands() -> None:
    result = subprocess.run([script("trainer"), "--help"], capture_output=True, text=True)
    assert result.returncode == 0
    for command in ("label", "dataset", "train", "distill", "evaluate", "export", "groove"):
        assert command in result.stdout


def test_the_trainer_loads_without_scipy_signal_or_tensorflow() -> None:
    """Every trainer command, ``--help`` too, loads the CLI; scipy.signal's import
    alone took 1.6 s of it, TensorFlow's 8 s. Each is imported where it is used."""
    loaded = "import sys, timbrecast.trainer.cli; print(*sys.modules, sep='\\n')"
    result = subprocess.run([sys.executable, "-c", loaded], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    modules = set(result.stdout.splitlines())
    assert "timbrecast.trainer.corpus" in modules
    assert not modules & {"scipy.signal", "tensorflow", "keras"}


def test_export_without_validation_clips_says_so(store: Path, tmp_path: Path, capsys) -> None:
    """The 24-clip corpus has no kit the default split holds out for validation: the
    export has nothing to check itself on (this was a KeyError)."""
    from timbrecast.daemon import bundled
    from timbrecast.daemon.exitcodes import DATA
    from timbrecast.trainer import cli

    model, out = str(bundled.model()), tmp_path / "again.tflite"
    argv = ["export", "--tflite", model, "--quantize", "dynamic", "--out", str(out)]
    assert cli.main([*argv, "--store", str(store)]) == DATA
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no labelled validation clips" in err
    assert not out.exists()


def test_export_wants_at_least_one_calibration_draw(tmp_path: Path, capsys) -> None:
    from timbrecast.daemon.exitcodes import CONFIG
    from timbrecast.trainer import cli

    model = tmp_path / "model.keras"
    model.write_bytes(b"")
    argv = ["export", "--tflite", str(model), "--out", str(tmp_path / "m.tflite")]
    assert cli.main([*argv, "--calibration-draws", "0"]) == CONFIG
    assert "--calibration-draws 0: at least 1" in capsys.readouterr().err


def test_a_tflite_other_than_a_seed_architecture_is_refused_for_export(
    tmp_path: Path, capsys
) -> None:
    """Re-export reads weights back by op order, which only the seed nets' layers fit."""
    from timbrecast.daemon import bundled
    from timbrecast.daemon.exitcodes import DATA
    from timbrecast.trainer import cli

    early = str(bundled.model(bundled.EARLY_10MS_MODEL))
    argv = ["export", "--tflite", early, "--quantize", "dynamic", "--out", str(tmp_path / "x")]
    assert cli.main([*argv, "--store", str(tmp_path)]) == DATA
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "seed architectures" in err and "not early" in err
    assert not (tmp_path / "x").exists()


def test_an_architecture_with_early_ms_is_refused_not_ignored(tmp_path: Path) -> None:
    """The early-estimate net is its own architecture: ``--arch`` beside ``--early-ms``
    was silently ignored; now it is a one-line configuration error, before any data."""
    result = subprocess.run(
        [script("trainer"), "train", "--early-ms", "10", "--arch", "mel-cnn"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 78
    assert result.stderr.strip().count("\n") == 0
    assert "--arch does not apply with --early-ms" in result.stderr
