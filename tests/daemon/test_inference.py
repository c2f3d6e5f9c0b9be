"""A real exported .tflite through the daemon's runtime: outputs, batches, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.conftest import contract_for
from timbrecast.daemon import runtime
from timbrecast.daemon.contract import DESCRIPTORS, NORMALISATION, ModelContractError
from timbrecast.daemon.inference import Model
from timbrecast.daemon.tflitemeta import read_contract
from timbrecast.trainer.export import convert, embed_contract

LOW = np.array([NORMALISATION[d].low for d in DESCRIPTORS])
SPAN = np.array([NORMALISATION[d].high - NORMALISATION[d].low for d in DESCRIPTORS])


def keras_descriptors(keras_model, clips: np.ndarray) -> np.ndarray:
    raw = keras_model.predict(clips[..., None], verbose=0)
    return np.clip(LOW + raw * SPAN, 0.0, 100.0)


@pytest.mark.parametrize("quantize", ["none", "int8"])
def test_exported_model_follows_keras(tiny_tflite, tiny_keras, drum_clips, quantize) -> None:
    model = Model(tiny_tflite[quantize])
    assert model.runtime.name == "ai-edge-litert"
    got = model.predict(drum_clips)
    expected = keras_descriptors(tiny_keras, drum_clips)
    assert got.shape == (len(drum_clips), 7)
    error = np.abs((got - expected) / SPAN).mean()
    assert error < (1e-4 if quantize == "none" else 0.01), error
    assert np.corrcoef(got.ravel(), expected.ravel())[0, 1] > 0.99


def test_batches_match_single_hits(tiny_tflite, drum_clips) -> None:
    model = Model(tiny_tflite["int8"], batch=8)
    batched = model.predict(drum_clips[:11])
    single = np.concatenate([model.predict(clip) for clip in drum_clips[:11]])
    np.testing.assert_allclose(batched, single, atol=1e-4)


def test_a_backlog_runs_full_batches_and_the_rest_one_by_one(
    tiny_tflite, drum_clips, monkeypatch
) -> None:
    """A batch padded out costs what a full one does: the rest goes clip by clip."""
    model = Model(tiny_tflite["int8"], batch=8)
    calls: list[int] = []
    real = runtime.invoke

    def counted(interpreter, data):
        calls.append(len(data))
        return real(interpreter, data)

    monkeypatch.setattr(runtime, "invoke", counted)
    assert model.predict(drum_clips[:11]).shape == (11, 7)
    assert calls == [8, 1, 1, 1]


def test_descriptor_order_in_the_file_is_honoured(tiny_keras, drum_clips, tmp_path) -> None:
    raw = convert(tiny_keras, "none")
    path = tmp_path / "reordered.tflite"
    path.write_bytes(embed_contract(raw, contract_for(raw, descriptors=DESCRIPTORS[::-1])))
    got = Model(path).predict(drum_clips[:4])
    # Output k now means descriptor 6-k: descriptor j is read from output 6-j,
    # denormalised with descriptor j's range.
    outputs = tiny_keras.predict(drum_clips[:4, :, None], verbose=0)
    expected = np.clip(LOW + outputs[:, ::-1] * SPAN, 0.0, 100.0)
    np.testing.assert_allclose(got, expected, atol=1e-2)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"sample_rate": 44100}, "sample rate 44100 Hz"),
        ({"input_length": 8000}, "input length 8000"),
        ({"preprocess_version": 99}, "preprocessing v99"),
        ({"descriptors": ("hardness", "pitch")}, "not the seven"),
        ({"format": 2}, "contract format 2"),
    ],
)
def test_a_contract_the_daemon_cannot_honour_is_refused(tiny_keras, tmp_path, changes, message):
    raw = convert(tiny_keras, "none")
    path = tmp_path / "bad.tflite"
    path.write_bytes(embed_contract(raw, contract_for(raw, **changes)))
    with pytest.raises(ModelContractError, match=message):
        Model(path)


def test_files_that_are_not_models_are_refused(tiny_keras, tiny_tflite, tmp_path: Path) -> None:
    bare = tmp_path / "bare.tflite"
    bare.write_bytes(convert(tiny_keras, "none"))
    with pytest.raises(ModelContractError, match="no timbrecast contract"):
        Model(bare)
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(ModelContractError, match="not a TFLite model"):
        Model(junk)
    truncated = tmp_path / "truncated.tflite"
    truncated.write_bytes(tiny_tflite["int8"].read_bytes()[:200])
    with pytest.raises(ModelContractError):
        Model(truncated)
    with pytest.raises(ModelContractError, match="no such file"):
        Model(tmp_path / "absent.tflite")


def test_contract_round_trips_through_the_file(tiny_tflite) -> None:
    contract = read_contract(tiny_tflite["int8"].read_bytes())
    assert contract.descriptors == DESCRIPTORS
    assert contract.model_id.startswith("tiny-test-")


def test_a_model_whose_output_does_not_fit_its_contract_is_refused(tmp_path: Path) -> None:
    """Five outputs under a seven-descriptor contract: refused at load (exit 78 on the
    command line), not a dead inference thread later."""
    import subprocess

    import tensorflow as tf

    from tests.conftest import script

    inputs = tf.keras.Input((16000, 1))
    pooled = tf.keras.layers.GlobalAveragePooling1D()(inputs)
    keras = tf.keras.Model(inputs, tf.keras.layers.Dense(5)(pooled))
    raw = convert(keras, "none")
    path = tmp_path / "five.tflite"
    path.write_bytes(embed_contract(raw, contract_for(raw)))
    with pytest.raises(ModelContractError, match="gives 5 values per hit, its contract names 7"):
        Model(path)
    done = subprocess.run(
        [script("timbrecastd"), "analyze", "x.wav", "--model", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 78
    assert done.stderr.strip().splitlines() == [
        f"timbrecastd: model {path}: gives 5 values per hit, its contract names 7 descriptors"
    ]
