"""Keras model -> ``.tflite`` that carries its contract.

Full-integer int8 is the default: weights and activations in int8, calibrated on
training clips, with float input and output at the boundary (the converter's
quantize and dequantize ops), so the daemon feeds the same float waveform to any
export and an accelerator-free board runs integer kernels throughout. The one
exception is a spectrogram inside the model (the mel-cnn's ``LogMel``): its band
powers span more than 8 bits can hold, so its ops stay float and the int8 graph
starts where its log values enter the CNN (``FLOAT_LAYERS``).

Which 300 clips calibrate matters for this network: six draws of the same model
gave validation MAEs from 0.0536 to 0.0565 (float 0.0519), and the test kits
followed them (0.0453-0.0478). So an int8 export calibrates on several draws and
keeps the one the validation kits score best, a choice made on the kits that
tune, never on the test kits.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from timbrecast.daemon import activation, runtime, selftest
from timbrecast.daemon.activation import ActivationContract
from timbrecast.daemon.contract import ModelContract, ModelContractError
from timbrecast.daemon.tflitemeta import METADATA_NAME, metadata, read_contract
from timbrecast.trainer import architectures
from timbrecast.trainer.heard import LABELS, OLD_LABELS
from timbrecast.trainer.split import Split

if TYPE_CHECKING:
    import tensorflow as tf

QUANTIZATIONS = ("int8", "float16", "dynamic", "none")
#: Keras layers (by name) an int8 export keeps in float: a spectrogram's band
#: powers span 100 dB, which 8 bits cannot hold (quantised, the mel-cnn's
#: validation MAE went from 0.034 to 0.230).
FLOAT_LAYERS = ("log_mel", "log_spectrum")
#: Calibration draws an int8 export tries (draw 0 is the one single-draw exports used).
CALIBRATION_DRAWS = 6
CALIBRATION_CLIPS = 300


def convert(model: tf.keras.Model, quantize: str, calibration: np.ndarray | None = None) -> bytes:
    """The model as TFLite flatbuffer bytes; ``calibration`` holds float32 inputs for int8
    (one per row, shaped as the model's input)."""
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantize!r} (choose from {QUANTIZATIONS})")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "int8":
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8 export needs calibration clips")

        def representative() -> Iterator[list[np.ndarray]]:
            for clip in calibration:
                yield [clip.reshape(1, *model.input_shape[1:]).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        floating = [layer.name for layer in model.layers if layer.name.startswith(FLOAT_LAYERS)]
        if floating:
            return _int8_but(model, converter, representative, floating)
    elif quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # Per-channel dense weights make FULLY_CONNECTED version 12, which
        # tflite-runtime 2.14 (the last wheel older boards have) refuses to load.
        converter._experimental_disable_per_channel_quantization_for_dense_layers = True
    return bytes(converter.convert())


def _int8_but(
    model: tf.keras.Model, converter, representative: Callable, layers: list[str]
) -> bytes:
    """int8 everywhere but in ``layers``, whose ops stay float, with one quantize op
    where their output enters the int8 graph. The converter has no switch per Keras
    layer; its quantisation debugger denies quantisation per tensor, and a converted
    graph names each op's output after the layer that made it (read here from a
    float conversion, which needs no calibration)."""
    import tensorflow as tf

    plain = tf.lite.TFLiteConverter.from_keras_model(model).convert()
    names = {detail["name"] for detail in runtime.load().interpreter(plain).get_tensor_details()}
    denied = sorted(name for name in names if any(f"/{layer}" in name for layer in layers))
    if not denied:
        raise ExportError(f"no tensor of {', '.join(layers)} found to keep in float")
    debugger = tf.lite.experimental.QuantizationDebugger(
        converter=converter,
        debug_dataset=representative,
        debug_options=tf.lite.experimental.QuantizationDebugOptions(denylisted_nodes=denied),
    )
    return bytes(debugger.get_nondebug_quantized_model())


def model_id(architecture: str, quantize: str, tflite: bytes) -> str:
    """A name that changes whenever the weights do: ``seven-filters-int8-1a2b3c4d``."""
    return f"{architecture}-{quantize}-{hashlib.sha256(tflite).hexdigest()[:8]}"


def embed_contract(
    tflite: bytes, contract: ModelContract | ActivationContract, name: str = METADATA_NAME
) -> bytes:
    """The same model with the contract in its metadata table, as entry ``name`` (an
    entry of that name already there has its content replaced)."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    data = np.frombuffer(contract.to_json(), dtype=np.uint8)
    present = [m for m in (model.metadata or []) if m.name == name.encode()]
    if present:
        model.buffers[present[0].buffer].data = data
    else:
        buffer = schema.BufferT()
        buffer.data = data
        model.buffers.append(buffer)
        entry = schema.MetadataT()
        entry.name = name
        entry.buffer = len(model.buffers) - 1
        model.metadata = [*(model.metadata or []), entry]
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def with_self_test(tflite: bytes) -> bytes:
    """The model (a timbre or an onset model, contract inside) with its self-test:
    the probes' outputs from this machine's builtin kernels (``daemon/selftest.py``),
    which the daemon checks at every load."""
    entries = metadata(tflite)
    contract: ModelContract | ActivationContract
    if METADATA_NAME in entries:
        name, contract = METADATA_NAME, ModelContract.from_json(entries[METADATA_NAME])
        probes = selftest.clips(contract.input_length)
    elif activation.METADATA_NAME in entries:
        name = activation.METADATA_NAME
        contract = ActivationContract.from_json(entries[name])
        probes = activation.probes(contract.frame_s, contract.hop_s)
    else:
        raise ModelContractError("the model carries no timbrecast contract")
    test = selftest.expect(tflite, probes)
    return embed_contract(tflite, replace(contract, self_test=test), name)


class ExportError(ValueError):
    """The export would ship a worse model than the one trained, or cannot read the model
    it was given; the message says which."""


def keras_of(tflite: bytes) -> tf.keras.Model:
    """An exported seed-architecture model's network back in Keras, its weights the
    ones it shipped (int8 ones dequantised). The bundled models' Keras files are not
    in the package, and a CPU where float kernels beat int8 ones (XNNPACK on x86)
    wants the dynamic-range export of the same network, a board with fast integer
    kernels perhaps the full-integer one: exported again from here, the weights are
    the shipped ones (int8 weights quantise back to the same integers), so nothing
    is retrained and only the activations' arithmetic changes.

    The seed architectures only: their weights are all Conv1D and Dense, which the
    converter writes as CONV_2D and FULLY_CONNECTED in graph order; the early nets'
    and the mel-cnn's spectra, and batch norm folded into a convolution, are not
    undone here."""
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    contract = read_contract(tflite)
    if contract.architecture not in architectures.SEED_PARAMETERS:
        raise ExportError(
            f"re-exporting a .tflite works for the seed architectures "
            f"({', '.join(architectures.SEED_PARAMETERS)}), not {contract.architecture}: "
            "export its Keras model"
        )
    graph = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    codes = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    tensors, buffers = graph.subgraphs[0].tensors, graph.buffers
    numpy_type = {
        schema.TensorType.INT8: np.int8,
        schema.TensorType.INT32: np.int32,
        schema.TensorType.FLOAT32: np.float32,
    }

    def weight(index: int) -> np.ndarray:
        if index < 0:
            raise ExportError("a convolution or dense layer without a bias")
        tensor = tensors[index]
        data = buffers[tensor.buffer].data
        if data is None or tensor.type not in numpy_type:
            raise ExportError(f"tensor {tensor.name!r} holds no int8, int32 or float32 weights")
        values = np.frombuffer(bytes(data), numpy_type[tensor.type]).reshape(tensor.shape)
        quantised = tensor.quantization
        if tensor.type == schema.TensorType.FLOAT32 or quantised is None or quantised.scale is None:
            return values.astype(np.float32)
        shape = [1] * values.ndim
        if len(quantised.scale) > 1:
            shape[quantised.quantizedDimension] = -1
        scale = np.asarray(quantised.scale, np.float64).reshape(shape)
        zero = np.asarray(quantised.zeroPoint, np.float64).reshape(shape)
        return ((values - zero) * scale).astype(np.float32)

    found: dict[str, list[list[np.ndarray]]] = {"CONV_2D": [], "FULLY_CONNECTED": []}
    for op in graph.subgraphs[0].operators:
        name = codes.get(graph.operatorCodes[op.opcodeIndex].builtinCode)
        if name in found:
            found[name].append([weight(op.inputs[1]), weight(op.inputs[2])])
    # Keras names layers by a per-process counter, and the names go into the converted
    # graph: built after other models, the same weights would hash to another model id.
    tf.keras.backend.clear_session()
    keras = architectures.build(contract.architecture)
    convolutions, dense = iter(found["CONV_2D"]), iter(found["FULLY_CONNECTED"])
    try:
        for layer in keras.layers:
            if isinstance(layer, tf.keras.layers.Conv1D):
                kernel, bias = next(convolutions)
                # CONV_2D's filter is (out, 1, kernel, in); Conv1D's (kernel, in, out).
                layer.set_weights([kernel[:, 0].transpose(1, 2, 0), bias])
            elif isinstance(layer, tf.keras.layers.Dense):
                kernel, bias = next(dense)
                layer.set_weights([kernel.T, bias])
    except (StopIteration, ValueError) as exc:
        raise ExportError(
            f"the model's weights do not fit {contract.architecture} ({exc})"
        ) from exc
    if next(convolutions, None) is not None or next(dense, None) is not None:
        raise ExportError(f"the model has more weights than {contract.architecture}")
    return keras


def export(
    model_path: Path,
    out: Path,
    quantize: str,
    store: Path,
    tolerance: float,
    split: Split | None = None,
    draws: int = CALIBRATION_DRAWS,
) -> str:
    """Convert, embed the contract, and check the result through the daemon's runtime;
    an int8 model is calibrated on ``draws`` draws of training clips, the best on
    the validation kits kept."""

    from timbrecast.daemon.contract import (
        DESCRIPTORS,
        LABEL_SCALE,
        NORMALISATION,
        PREPROCESS_VERSION,
        SAMPLE_RATE,
        early_ms_of,
    )
    from timbrecast.daemon.inference import Model
    from timbrecast.trainer.dataset import load_split
    from timbrecast.trainer.train import inputs

    exported = model_path.read_bytes() if model_path.suffix == ".tflite" else None
    source = read_contract(exported) if exported else None
    keras = keras_of(exported) if exported else architectures.load(model_path)
    length = int(keras.input_shape[1])
    early_ms = early_ms_of(length)
    parts = load_split(store, split)
    missing = [side for side in ("train", "validation") if side not in parts]
    if missing:
        raise ExportError(
            f"the corpus in {store} has no labelled {' or '.join(missing)} clips to check "
            "the export on (build one: trainer dataset build)"
        )
    train, validation = parts["train"], parts["validation"]
    validation_inputs = inputs(validation.clips, early_ms)

    labels = LABELS if all(e.heard for e in train.entries) else OLD_LABELS
    trained_on = (
        {**source.training_data, "weights_of": source.model_id}
        if source
        else {"train": train.summary(), "validation": validation.summary(), "labels": labels}
    )

    def contract(raw: bytes, kind: str, scores: dict) -> ModelContract:
        return ModelContract(
            model_id=model_id(keras.name, kind, raw),
            architecture=keras.name,
            descriptors=DESCRIPTORS,
            normalisation={k: tuple(v) for k, v in NORMALISATION.items()},
            sample_rate=SAMPLE_RATE,
            input_length=length,
            preprocess_version=PREPROCESS_VERSION,
            early_ms=early_ms,
            training_data=trained_on,
            metrics=scores,
        )

    def validation_mae(content: bytes) -> float:
        with tempfile.NamedTemporaryFile(suffix=".tflite") as handle:
            handle.write(content)
            handle.flush()
            predicted = LABEL_SCALE.normalise(
                Model(handle.name, batch=32).predict(validation_inputs)
            )
        return float(np.abs(predicted - validation.targets).mean())

    def calibration(draw: int) -> np.ndarray:
        rng = np.random.default_rng(draw)
        chosen = rng.choice(len(train), size=min(CALIBRATION_CLIPS, len(train)), replace=False)
        return inputs(train.clips[chosen], early_ms)

    reference = convert(keras, "none")
    float_mae = validation_mae(embed_contract(reference, contract(reference, "none", {})))
    scores: dict = {"validation_mae_float": round(float_mae, 5), "quantize": quantize}
    if quantize == "none":
        raw, quantised_mae = reference, float_mae
    elif quantize == "int8":
        tried = []
        for draw in range(draws):
            candidate = convert(keras, quantize, calibration(draw))
            embedded = embed_contract(candidate, contract(candidate, quantize, scores))
            tried.append((validation_mae(embedded), candidate))
        best = min(range(draws), key=lambda k: tried[k][0])
        quantised_mae, raw = tried[best]
        scores["calibration"] = {
            "clips": CALIBRATION_CLIPS,
            "draw": best,
            "validation_mae_per_draw": [round(mae, 5) for mae, _ in tried],
        }
    else:
        raw = convert(keras, quantize)
        quantised_mae = validation_mae(embed_contract(raw, contract(raw, quantize, scores)))
    scores["validation_mae"] = round(quantised_mae, 5)
    if quantised_mae - float_mae > tolerance:
        raise ExportError(
            f"{quantize} model's validation MAE {quantised_mae:.4f} is worse than float "
            f"{float_mae:.4f} by more than {tolerance}"
        )
    final = with_self_test(embed_contract(raw, contract(raw, quantize, scores)))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(final)
    return (
        f"wrote {out} ({len(final) / 1024:.0f} KiB, {quantize}): validation MAE "
        f"{quantised_mae:.4f} against float {float_mae:.4f}"
    )
