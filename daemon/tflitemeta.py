"""A ``.tflite`` file's metadata table, read without TensorFlow.

``trainer export`` stores the model's ``ModelContract`` as JSON in the model's own
metadata table (name ``timbrecast.contract``). The daemon reads it here with a few
lines of FlatBuffers arithmetic, so that neither the daemon nor tflite-runtime
needs the ``flatbuffers`` package or TensorFlow's schema, and checks it against
what this code can honour before the model runs a single hit.
"""

from __future__ import annotations

import struct

from timbrecast.daemon.contract import ModelContract, ModelContractError

METADATA_NAME = "timbrecast.contract"
# Field indices in TFLite's schema.fbs (table Model, Metadata, Buffer).
_MODEL_BUFFERS = 4
_MODEL_METADATA = 6
_METADATA_NAME = 0
_METADATA_BUFFER = 1
_BUFFER_DATA = 0


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
