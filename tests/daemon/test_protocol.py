"""The wire protocol, over real ZeroMQ sockets on loopback."""

from __future__ import annotations

import math
import time

import msgpack
import pytest
import zmq
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import free_endpoint
from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.daemon.protocol import (
    END_OF_INPUT,
    SCHEMA_VERSION,
    End,
    Onset,
    ProtocolError,
    Status,
    Timbre,
    decode,
    encode,
)
from timbrecast.daemon.publisher import Publisher

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


END = End("snare", 120, 60.0, END_OF_INPUT)


@pytest.mark.parametrize("event", [ONSET, TIMBRE, STATUS, END])
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


def test_the_publisher_wakes_for_each_event_and_refuses_one_after_close() -> None:
    """The daemon's Publisher sleeps until an event is queued: events queued one at a
    time, with pauses longer than any polling interval between them, each arrive;
    after close() another event is an error, not one dropped in silence, and a
    second close() does nothing."""
    endpoint = free_endpoint()
    publisher = Publisher(endpoint, wait_subscriber=True)
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVTIMEO, 2000)
    sub.connect(endpoint)
    assert publisher.subscribed.wait(5)
    try:
        for seq in range(3):
            time.sleep(0.1)
            publisher(Onset("kick", seq, 0.5, 1, -3.0, -12.0))
            assert decode(sub.recv_multipart()).seq == seq
    finally:
        publisher.close()
        sub.close(linger=0)
    with pytest.raises(RuntimeError, match=r"published after the publisher on \S+ closed"):
        publisher(ONSET)
    publisher.close()


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
            [b"timbre/snare", payload(descriptors={b"hardness": 1.0, "depth": 1.0})],
            "seven descriptors",
        ),
        (
            [b"timbre/snare", payload(descriptors={d: "1" for d in DESCRIPTORS})],
            "is not a number",
        ),
        (
            [b"timbre/snare", payload(descriptors={d: float("nan") for d in DESCRIPTORS})],
            "is nan",
        ),
        ([b"timbre/snare", payload(peak_dbfs=float("nan"))], "'peak_dbfs' is nan"),
        ([b"timbre/snare", payload(latency_ms=float("inf"))], "'latency_ms' is inf"),
        ([b"timbre/snare", payload(seq=-1)], "'seq' is -1, out of range"),
        ([b"timbre/snare", payload(unix_ns=2**64 - 1)], "'unix_ns' is .*, out of range"),
        ([b"end/snare", msgpack.packb({"v": 1, "hits": 3, "stream_time_s": 1.0})], "'reason'"),
    ],
)
def test_malformed_messages_are_refused_with_a_reason(frames, message: str) -> None:
    with pytest.raises(ProtocolError, match=message):
        decode(frames)


def test_optional_fields_may_be_absent() -> None:
    decoded = decode([b"timbre/snare", payload(provisional=None)])
    assert isinstance(decoded, Timbre) and decoded.provisional is False


WIRE_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=6)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(
    ["v", "seq", "stream_time_s", "unix_ns", "peak_dbfs", "descriptors", "hits", "reason"]
)


@settings(max_examples=400, deadline=None)
@given(
    kind=st.sampled_from(["onset", "timbre", "status", "end", "other", ""]),
    source=st.text(max_size=8),
    base=st.sampled_from([ONSET, TIMBRE, STATUS, END]),
    changes=st.dictionaries(FIELDS, WIRE_VALUES, max_size=3),
    raw=st.none() | st.binary(max_size=64),
)
def test_the_decoder_gives_an_event_or_a_protocol_error_for_any_message(
    kind, source, base, changes, raw
) -> None:
    """Whatever a peer sends: a valid event whose numbers are finite and in range, or
    ProtocolError; never another exception."""
    body = msgpack.unpackb(encode(base)[1])
    body.update(changes)
    frames = [f"{kind}/{source}".encode(), raw if raw is not None else msgpack.packb(body)]
    try:
        event = decode(frames)
    except ProtocolError:
        return
    for name, value in vars(event).items():
        if isinstance(value, float):
            assert math.isfinite(value), name
        elif isinstance(value, int) and not isinstance(value, bool):
            assert 0 <= value < 2**63, name
