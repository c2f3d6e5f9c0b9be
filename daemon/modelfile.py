"""The contract a ``.tflite`` file carries, read without TensorFlow.

``trainer export`` stores a JSON contract in the model's own metadata table
(name ``timbrecast.contract``). The daemon reads it here with a few lines of
FlatBuffers arithmetic, so that neither the daemon nor tflite-runtime needs the
``flatbuffers`` package or TensorFlow's schema, and checks it against what this
code can honour before the model runs a single hit.
"""

from __future__ import annotations

import json
import struct
from dataclasses import asdict, dataclass, field
from typing import Any

from timbrecast.daemon.contract import (
    DESCRIPTORS,
    INPUT_LENGTH,
    PREPROCESS_VERSION,
    SAMPLE_RATE,
    early_length,
)

METADATA_NAME = "timbrecast.contract"
CONTRACT_FORMAT = 1

# Field indices in TFLite's schema.fbs (table Model, Metadata, Buffer).
_MODEL_BUFFERS = 4
_MODEL_METADATA = 6
_METADATA_NAME = 0
_METADATA_BUFFER = 1
_BUFFER_DATA = 0


class ModelContractError(ValueError):
    """A model file this daemon cannot honour; the message says what and why."""


@dataclass(frozen=True)
class ModelContract:
    """What a model expects and what it produces: the file's promise to the daemon."""

    model_id: str
    architecture: str
    descriptors: tuple[str, ...]
    normalisation: dict[str, tuple[float, float]]
    sample_rate: int
    input_length: int
    preprocess_version: int
    #: For early-estimate models: how many milliseconds of the hit they read.
    early_ms: float | None = None
    training_data: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    format: int = CONTRACT_FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ModelContract:
        try:
            body = json.loads(raw)
            body["descriptors"] = tuple(body["descriptors"])
            body["normalisation"] = {k: tuple(v) for k, v in body["normalisation"].items()}
            return cls(**body)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise ModelContractError(f"the model's contract is malformed ({exc})") from exc

    def check(self) -> None:
        """Refuse what the daemon cannot honour, naming the mismatch."""
        problems = []
        if self.format != CONTRACT_FORMAT:
            problems.append(f"contract format {self.format} (this daemon reads {CONTRACT_FORMAT})")
        if sorted(self.descriptors) != sorted(DESCRIPTORS):
            problems.append(f"descriptors {list(self.descriptors)} are not the seven")
        if set(self.normalisation) != set(self.descriptors):
            problems.append("normalisation ranges do not cover the descriptors")
        if self.sample_rate != SAMPLE_RATE:
            problems.append(f"sample rate {self.sample_rate} Hz (this daemon feeds {SAMPLE_RATE})")
        wanted = INPUT_LENGTH if self.early_ms is None else early_length(self.early_ms)
        if self.input_length != wanted:
            problems.append(f"input length {self.input_length} (this daemon feeds {wanted})")
        if self.preprocess_version != PREPROCESS_VERSION:
            problems.append(
                f"preprocessing v{self.preprocess_version} (this daemon has v{PREPROCESS_VERSION})"
            )
        if problems:
            raise ModelContractError("model cannot be honoured: " + "; ".join(problems))


def _u32(buf: bytes, pos: int) -> int:
    return struct.unpack_from("<I", buf, pos)[0]


def _field(buf: bytes, table: int, index: int) -> int | None:
    """Absolute position of a table's field, or None when it is absent."""
    vtable = table - struct.unpack_from("<i", buf, table)[0]
    vtable_size = struct.unpack_from("<H", buf, vtable)[0]
    entry = 4 + 2 * index
    if entry >= vtable_size:
        return None
    offset = struct.unpack_from("<H", buf, vtable + entry)[0]
    return table + offset if offset else None


def _deref(buf: bytes, pos: int) -> int:
    return pos + _u32(buf, pos)


def _vector(buf: bytes, pos: int | None) -> list[int]:
    """Positions of the tables a vector field points to."""
    if pos is None:
        return []
    start = _deref(buf, pos)
    return [_deref(buf, start + 4 + 4 * i) for i in range(_u32(buf, start))]


def _bytes(buf: bytes, pos: int | None) -> bytes:
    if pos is None:
        return b""
    start = _deref(buf, pos)
    return bytes(buf[start + 4 : start + 4 + _u32(buf, start)])


def metadata(model: bytes) -> dict[str, bytes]:
    """The model's metadata entries, name -> content."""
    try:
        root = _u32(model, 0)
        buffers = _vector(model, _field(model, root, _MODEL_BUFFERS))
        entries = {}
        for entry in _vector(model, _field(model, root, _MODEL_METADATA)):
            name = _bytes(model, _field(model, entry, _METADATA_NAME)).decode()
            index_pos = _field(model, entry, _METADATA_BUFFER)
            index = _u32(model, index_pos) if index_pos is not None else 0
            entries[name] = _bytes(model, _field(model, buffers[index], _BUFFER_DATA))
        return entries
    except (struct.error, IndexError, UnicodeDecodeError) as exc:
        raise ModelContractError(f"not a TFLite model ({exc})") from exc


def read_contract(model: bytes) -> ModelContract:
    """The contract in a model file's bytes, checked."""
    if len(model) < 8 or model[4:8] != b"TFL3":
        raise ModelContractError("not a TFLite model (no TFL3 identifier)")
    raw = metadata(model).get(METADATA_NAME)
    if raw is None:
        raise ModelContractError(
            "the model carries no timbrecast contract (export it with `trainer export --tflite`)"
        )
    contract = ModelContract.from_json(raw)
    contract.check()
    return contract
