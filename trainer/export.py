"""Keras model -> ``.tflite`` that carries its contract.

Full-integer int8 is the default: weights and activations in int8, calibrated on
training clips, with float input and output at the boundary (the converter's
quantize and dequantize ops), so the daemon feeds the same float waveform to any
export and an accelerator-free board runs integer kernels throughout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from timbrecast.daemon.modelfile import METADATA_NAME, ModelContract

if TYPE_CHECKING:
    import tensorflow as tf

QUANTIZATIONS = ("int8", "float16", "dynamic", "none")


def convert(model: tf.keras.Model, quantize: str, calibration: np.ndarray | None = None) -> bytes:
    """The model as TFLite flatbuffer bytes; ``calibration`` is (n, length) float32 for int8."""
    import tensorflow as tf

    if quantize not in QUANTIZATIONS:
        raise ValueError(f"unknown quantization {quantize!r} (choose from {QUANTIZATIONS})")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if quantize == "int8":
        if calibration is None or len(calibration) == 0:
            raise ValueError("int8 export needs calibration clips")

        def representative() -> Iterator[list[np.ndarray]]:
            for clip in calibration:
                yield [clip.reshape(1, -1, 1).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    elif quantize == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return bytes(converter.convert())


def model_id(architecture: str, quantize: str, tflite: bytes) -> str:
    """A name that changes whenever the weights do: ``seven-filters-int8-1a2b3c4d``."""
    return f"{architecture}-{quantize}-{hashlib.sha256(tflite).hexdigest()[:8]}"


def embed_contract(tflite: bytes, contract: ModelContract) -> bytes:
    """The same model with the contract in its metadata table."""
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.convert_bytearray_to_object(bytearray(tflite))
    buffer = schema.BufferT()
    buffer.data = np.frombuffer(contract.to_json(), dtype=np.uint8)
    model.buffers.append(buffer)
    entry = schema.MetadataT()
    entry.name = METADATA_NAME
    entry.buffer = len(model.buffers) - 1
    model.metadata = [m for m in (model.metadata or []) if m.name != METADATA_NAME.encode()]
    model.metadata.append(entry)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
