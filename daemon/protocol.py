"""The wire protocol: what the daemon publishes and every client decodes.

Each message is a ZeroMQ multipart ``[topic, payload]``. The topic is
``<kind>/<source>`` in UTF-8 (so a SUB socket can subscribe to ``timbre/`` or to
``onset/snare``); the payload is a msgpack map whose ``v`` key is the schema
version. ``docs/protocol.md`` is the reference for client authors.

This module is the only part of the daemon that clients import; it needs
msgpack and nothing else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any, ClassVar, get_type_hints

import msgpack

from timbrecast.daemon.contract import DESCRIPTORS, the_seven

SCHEMA_VERSION = 1
#: Where a daemon publishes unless told otherwise, and so where a client looks.
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5556"
#: Each source's status is sent this often: a subscriber's silence watch counts on it.
STATUS_INTERVAL_S = 1.0

__all__ = [
    "DEFAULT_ENDPOINT",
    "DESCRIPTORS",
    "END_OF_INPUT",
    "KINDS",
    "SCHEMA_VERSION",
    "SHUTDOWN",
    "STATUS_INTERVAL_S",
    "End",
    "Event",
    "Onset",
    "ProtocolError",
    "Status",
    "Timbre",
    "decode",
    "encode",
    "topic",
]


class ProtocolError(ValueError):
    """A message that is not a valid timbrecast message of a known schema."""


@dataclass(frozen=True)
class Onset:
    """A hit, published the moment it is detected, before its descriptors."""

    kind: ClassVar[str] = "onset"
    source: str
    seq: int
    stream_time_s: float
    unix_ns: int
    peak_dbfs: float
    rms_dbfs: float


@dataclass(frozen=True)
class Timbre:
    """The seven descriptors of a hit (0-100), published when the model has run."""

    kind: ClassVar[str] = "timbre"
    source: str
    seq: int
    stream_time_s: float
    unix_ns: int
    peak_dbfs: float
    rms_dbfs: float
    descriptors: dict[str, float]
    audio_s: float
    model_id: str
    latency_ms: float
    provisional: bool = False


@dataclass(frozen=True)
class Status:
    """Once a second per source: health counters; clients use it as a heartbeat."""

    kind: ClassVar[str] = "status"
    source: str
    uptime_s: float
    hits: int
    drops: int
    overruns: int
    queue_depth: int
    inference_ms: float
    model_id: str
    skipped: int = 0
    state: str = "running"
    invalid_samples: int = 0


#: ``End.reason``: the input ended (a file, stdin closed); nothing more will come.
END_OF_INPUT = "end-of-input"
#: ``End.reason``: the daemon was stopped (SIGTERM); a service may come back.
SHUTDOWN = "shutdown"


@dataclass(frozen=True)
class End:
    """A source's last message, so a client of a finite stream knows to finish.

    Sent after the source's last timbre and status. Clients end on
    ``end-of-input`` from every source they have heard, and keep waiting after
    a ``shutdown`` (systemd restarts a service; a file does not come back).
    """

    kind: ClassVar[str] = "end"
    source: str
    hits: int
    stream_time_s: float
    reason: str


Event = Onset | Timbre | Status | End
KINDS: dict[str, type[Onset] | type[Timbre] | type[Status] | type[End]] = {
    cls.kind: cls for cls in (Onset, Timbre, Status, End)
}


def topic(event: Event) -> bytes:
    return f"{event.kind}/{event.source}".encode()


def encode(event: Event) -> list[bytes]:
    """``[topic, payload]`` for ``socket.send_multipart``."""
    body = asdict(event)
    del body["source"]
    body["v"] = SCHEMA_VERSION
    return [topic(event), msgpack.packb(body, use_bin_type=True)]


def decode(frames: Sequence[bytes]) -> Event:
    """The event in a received multipart message, or ``ProtocolError`` saying why not."""
    if len(frames) != 2:
        raise ProtocolError(f"expected 2 frames (topic, payload), got {len(frames)}")
    try:
        kind, _, source = bytes(frames[0]).decode().partition("/")
        body = msgpack.unpackb(bytes(frames[1]), raw=False)
    except (UnicodeDecodeError, ValueError, msgpack.ExtraData) as exc:
        raise ProtocolError(f"undecodable message: {exc}") from exc
    if kind not in KINDS or not source:
        raise ProtocolError(f"unknown topic {bytes(frames[0])!r}")
    if not isinstance(body, Mapping):
        raise ProtocolError("payload is not a map")
    version = body.get("v")
    if version != SCHEMA_VERSION:
        raise ProtocolError(f"schema version {version!r} (this client reads {SCHEMA_VERSION})")
    return _build(KINDS[kind], source, body)


#: What each annotated type accepts on the wire (msgpack packs 3.0 as a float,
#: but another producer may pack 3).
_WIRE_TYPES: dict[Any, tuple[type, ...]] = {
    float: (float, int),
    int: (int,),
    str: (str,),
    bool: (bool,),
    dict[str, float]: (dict,),
}


#: Each kind's field types, looked up once: ``get_type_hints`` per message would cost
#: more than the decoding itself.
_HINTS = {cls: get_type_hints(cls) for cls in KINDS.values()}


def _build(cls: type[Event], source: str, body: Mapping[str, Any]) -> Event:
    values: dict[str, Any] = {"source": source}
    hints = _HINTS[cls]
    for field in fields(cls):
        if field.name == "source":
            continue
        if field.name not in body:
            if field.default is MISSING:
                raise ProtocolError(f"{cls.kind} message lacks {field.name!r}")
            continue
        value = body[field.name]
        accepted = _WIRE_TYPES[hints[field.name]]
        if not isinstance(value, accepted) or (bool not in accepted and isinstance(value, bool)):
            raise ProtocolError(f"{cls.kind} field {field.name!r} has type {type(value).__name__}")
        # A client writes these into JSON, MIDI files and synth parameters: a NaN, an
        # infinity or a negative count from a rogue publisher stops here.
        if hints[field.name] is float and not math.isfinite(value):
            raise ProtocolError(f"{cls.kind} field {field.name!r} is {value}")
        if hints[field.name] is int and not 0 <= value < 2**63:
            raise ProtocolError(f"{cls.kind} field {field.name!r} is {value}, out of range")
        values[field.name] = value
    if cls is Timbre:
        descriptors = values["descriptors"]
        if not isinstance(descriptors, Mapping) or not the_seven(descriptors):
            raise ProtocolError("timbre message does not carry the seven descriptors")
        for name, value in descriptors.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ProtocolError(f"descriptor {name!r} is not a number")
            if not math.isfinite(value):
                raise ProtocolError(f"descriptor {name!r} is {value}")
    return cls(**values)
