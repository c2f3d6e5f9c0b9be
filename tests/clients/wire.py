"""A stand-in daemon on a real loopback socket, and protocol events to send.

The publisher is an XPUB socket in verbose mode, so a test can wait until a
subscriber's subscriptions have arrived before it sends: ZeroMQ's slow joiner
(a SUB connects asynchronously and misses what is sent before) without sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import zmq

from timbrecast.daemon.protocol import (
    DESCRIPTORS,
    END_OF_INPUT,
    End,
    Event,
    Onset,
    Status,
    Timbre,
    encode,
)

UNIX_NS = 1_764_000_000_000_000_000
VALUES = dict(zip(DESCRIPTORS, (61.2, 40.3, 66.0, 52.9, 31.7, 55.1, 18.4), strict=True))


def onset(source: str = "snare", seq: int = 0, *, at_s: float = 0.0, peak: float = -6.0) -> Onset:
    return Onset(source, seq, 12.0 + at_s, UNIX_NS + round(at_s * 1e9), peak, peak - 12.0)


def timbre(
    source: str = "snare",
    seq: int = 0,
    *,
    at_s: float = 0.0,
    values: dict[str, float] = VALUES,
    provisional: bool = False,
) -> Timbre:
    return Timbre(
        **vars(onset(source, seq, at_s=at_s)),
        descriptors=dict(values),
        audio_s=0.42,
        model_id="seven-filters-int8@abc",
        latency_ms=21.5,
        provisional=provisional,
    )


def status(source: str = "snare", *, state: str = "running") -> Status:
    return Status(source, 60.0, 120, 0, 1, 0, 3.2, "seven-filters-int8@abc", state=state)


def end(source: str = "snare", *, hits: int = 1, reason: str = END_OF_INPUT) -> End:
    return End(source, hits, 30.0, reason)


class TestDaemon:
    """Publishes like timbrecastd on ``endpoint`` (tcp://127.0.0.1:<random port>)."""

    __test__ = False

    def __init__(self, context: zmq.Context) -> None:
        self.socket = context.socket(zmq.XPUB)
        self.socket.setsockopt(zmq.XPUB_VERBOSE, 1)
        self.socket.setsockopt(zmq.SNDHWM, 10_000)
        self.socket.setsockopt(zmq.LINGER, 1000)
        port = self.socket.bind_to_random_port("tcp://127.0.0.1")
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.subscribed: list[bytes] = []

    def wait_subscribed(self, topics: Iterable[bytes], times: int = 1, timeout_s: float = 5.0):
        """Block until each topic prefix was subscribed ``times`` times (once per subscriber)."""
        wanted = list(topics)
        deadline = time.monotonic() + timeout_s
        while any(self.subscribed.count(t) < times for t in wanted):
            left = deadline - time.monotonic()
            if left <= 0 or not self.socket.poll(int(left * 1000) + 1):
                raise AssertionError(f"subscriptions {wanted} not seen; got {self.subscribed}")
            frame = self.socket.recv()
            if frame[:1] == b"\x01":
                self.subscribed.append(frame[1:])

    def send(self, *events: Event) -> None:
        for event in events:
            self.socket.send_multipart(encode(event))

    def send_raw(self, frames: Sequence[bytes]) -> None:
        self.socket.send_multipart(list(frames))

    def close(self) -> None:
        self.socket.close(linger=0)
