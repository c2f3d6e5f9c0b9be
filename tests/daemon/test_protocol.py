"""The wire protocol, over real ZeroMQ sockets on loopback."""

from __future__ import annotations

import time

import msgpack
import pytest
import zmq

from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.daemon.protocol import (
    SCHEMA_VERSION,
    Onset,
    ProtocolError,
    Status,
    Timbre,
    decode,
    encode,
)

ONSET = Onset("snare", 7, 12.345, 1_764_000_000_000_000_000, -6.0, -18.5)
TIMBRE = Timbre(
    "snare",
    7,
    12.345,
    1_764_000_000_000_000_000,
    -6.0,
    -18.5,
    {name: 10.0 * i for i, name in enumerate(DESCRIPTORS)},
    0.42,
    "seven-filters-int8@abc",
    21.5,
)
STATUS = Status("snare", 60.0, 120, 0, 1, 0, 3.2, "seven-filters-int8@abc")


@pytest.mark.parametrize("event", [ONSET, TIMBRE, STATUS])
def test_round_trip(event) -> None:
    frames = encode(event)
    assert frames[0] == f"{event.kind}/snare".encode()
    assert msgpack.unpackb(frames[1])["v"] == SCHEMA_VERSION
    assert decode(frames) == event


def test_subscribers_filter_by_topic_prefix_over_loopback() -> None:
    context = zmq.Context.instance()
    pub = context.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 1000)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    all_timbre = context.socket(zmq.SUB)
    all_timbre.setsockopt(zmq.SUBSCRIBE, b"timbre/")
    only_kick = context.socket(zmq.SUB)
    only_kick.setsockopt(zmq.SUBSCRIBE, b"onset/kick")
    for sub in (all_timbre, only_kick):
        sub.setsockopt(zmq.RCVTIMEO, 2000)
        sub.connect(f"tcp://127.0.0.1:{port}")
    time.sleep(0.3)  # a SUB joins asynchronously (the slow-joiner of the ZeroMQ guide)
    kick = Onset("kick", 1, 0.5, 1, -3.0, -12.0)
    for event in (ONSET, TIMBRE, STATUS, kick):
        pub.send_multipart(encode(event))
    assert decode(all_timbre.recv_multipart()) == TIMBRE
    assert decode(only_kick.recv_multipart()) == kick
    with pytest.raises(zmq.Again):
        all_timbre.recv_multipart(zmq.NOBLOCK)
    for sock in (pub, all_timbre, only_kick):
        sock.close(linger=0)


def payload(**changes) -> bytes:
    body = msgpack.unpackb(encode(TIMBRE)[1])
    body.update(changes)
    return msgpack.packb({k: v for k, v in body.items() if v is not None})


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([b"timbre/snare"], "expected 2 frames"),
        ([b"pitch/snare", payload()], "unknown topic"),
        ([b"timbre/", payload()], "unknown topic"),
        ([b"\xff/snare", payload()], "undecodable"),
        ([b"timbre/snare", b"\xc1"], "undecodable"),
        ([b"timbre/snare", msgpack.packb([1, 2])], "not a map"),
        ([b"timbre/snare", payload(v=2)], "schema version 2"),
        ([b"timbre/snare", payload(v=None)], "schema version None"),
        ([b"timbre/snare", payload(seq=None)], "lacks 'seq'"),
        ([b"timbre/snare", payload(seq="7")], "'seq' has type str"),
        ([b"timbre/snare", payload(seq=True)], "'seq' has type bool"),
        ([b"timbre/snare", payload(descriptors={"hardness": 1.0})], "seven descriptors"),
        (
            [b"timbre/snare", payload(descriptors={d: "1" for d in DESCRIPTORS})],
            "is not a number",
        ),
        (
            [b"timbre/snare", payload(descriptors={d: float("nan") for d in DESCRIPTORS})],
            "is nan",
        ),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(frames, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode(frames)


def test_optional_fields_may_be_absent() -> None:
    decoded = decode([b"timbre/snare", payload(provisional=None)])
    assert isinstance(decoded, Timbre) and decoded.provisional is False
