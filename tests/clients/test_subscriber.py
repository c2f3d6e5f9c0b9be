"""The subscriber over real loopback sockets: filters, skips, heartbeat, three forms."""

from __future__ import annotations

import asyncio
import threading
import time

import msgpack
import pytest
import zmq.asyncio

from tests.clients.wire import VALUES, TestDaemon, end, onset, status, timbre
from timbrecast.clients.subscriber import (
    AsyncSubscriber,
    Back,
    Item,
    Silent,
    Subscriber,
    subscribe,
)
from timbrecast.daemon.protocol import SHUTDOWN, End, Event, encode


def _payload(event: Event) -> bytes:
    return encode(event)[1]


def test_reads_typed_events_from_several_daemons(daemons) -> None:
    first, second = daemons(), daemons()
    with Subscriber([first.endpoint, second.endpoint], silence_s=None) as sub:
        first.wait_subscribed([b""])
        second.wait_subscribed([b""])
        first.send(onset("kick"))
        second.send(timbre("snare"))
        got = [sub.recv(2.0), sub.recv(2.0)]
    assert sorted(got, key=lambda e: e.kind) == [onset("kick"), timbre("snare")]


def test_filters_by_kind_and_exact_source(daemon: TestDaemon) -> None:
    with Subscriber(daemon.endpoint, kinds=["timbre"], sources=["snare"], silence_s=None) as sub:
        assert sub.subscriptions == [b"end/snare", b"timbre/snare"]
        daemon.wait_subscribed(sub.subscriptions)
        daemon.send(
            timbre("kick"), timbre("snare2"), onset("snare"), status("snare"), timbre("snare", 3)
        )
        assert sub.recv(2.0) == timbre("snare", 3)
        assert sub.recv(0.2) is None
        counters = sub.counters
    # ZeroMQ drops what matches no prefix; "snare2" matches "timbre/snare" and is dropped here.
    assert (counters.received, counters.delivered, counters.filtered) == (2, 1, 1)


def test_status_is_read_for_the_heartbeat_but_not_delivered(daemon: TestDaemon) -> None:
    with Subscriber(daemon.endpoint, kinds=["onset"], silence_s=5.0) as sub:
        assert sub.subscriptions == [b"end/", b"onset/", b"status/"]
        daemon.wait_subscribed(sub.subscriptions)
        daemon.send(status(), onset())
        assert sub.recv(2.0) == onset()
        assert sub.counters.filtered == 1


def test_malformed_and_unknown_versions_are_counted_and_skipped(daemon: TestDaemon) -> None:
    newer = msgpack.packb({**msgpack.unpackb(_payload(onset())), "v": 2})
    with Subscriber(daemon.endpoint, silence_s=None) as sub:
        daemon.wait_subscribed([b""])
        for frames in (
            [b"onset/snare"],  # no payload
            [b"onset/snare", b"\xc1"],  # not msgpack
            [b"bogus/snare", _payload(onset())],  # unknown kind
            [b"onset/snare", msgpack.packb([1, 2])],  # not a map
            [b"timbre/snare", msgpack.packb({"v": 1, "seq": 1})],  # fields missing
            [b"onset/snare", newer],  # a newer schema
        ):
            daemon.send_raw(frames)
        daemon.send(onset(seq=9))
        assert sub.recv(2.0) == onset(seq=9)
        counters = sub.counters
        assert "schema version 2" in str(sub.last_error)
    assert (counters.malformed, counters.unknown_version) == (5, 1)
    assert (counters.received, counters.delivered) == (7, 1)


def test_a_silent_source_is_reported_once_and_again_when_back(daemon: TestDaemon) -> None:
    with Subscriber(daemon.endpoint, silence_s=0.3) as sub:
        daemon.wait_subscribed([b""])
        daemon.send(status())
        assert sub.recv(2.0) == status()
        heard = time.monotonic()
        silent = sub.recv(2.0)
        assert isinstance(silent, Silent) and silent.source == "snare"
        assert 0.3 <= silent.silent_s < 1.0
        assert 0.25 <= time.monotonic() - heard < 1.5
        assert sub.recv(0.4) is None  # reported once, not once per timeout
        daemon.send(status())
        back = sub.recv(2.0)
        assert isinstance(back, Back) and back.source == "snare" and back.silent_s >= 0.7
        assert sub.recv(2.0) == status()


def test_a_named_source_never_heard_is_silent(daemon: TestDaemon) -> None:
    with Subscriber(daemon.endpoint, sources=["kick"], silence_s=0.2) as sub:
        silent = sub.recv(2.0)
        assert isinstance(silent, Silent) and silent.source == "kick"
        assert 0.2 <= silent.silent_s < 1.0


def test_callback_form_stops_after_count_or_when_told(daemon: TestDaemon) -> None:
    got: list[Item] = []
    with Subscriber(daemon.endpoint, silence_s=None) as sub:
        daemon.wait_subscribed([b""])
        daemon.send(onset(seq=0), onset(seq=1), onset(seq=2))
        sub.run(got.append, count=2)
        assert got == [onset(seq=0), onset(seq=1)]
        stop = threading.Event()
        threading.Timer(0.2, stop.set).start()
        started = time.monotonic()
        sub.run(got.append, stop=stop)
        assert time.monotonic() - started < 1.0
    assert got[-1] == onset(seq=2)


def test_asyncio_form(daemon: TestDaemon) -> None:
    async def main() -> list[Item]:
        items: list[Item] = []
        context = zmq.asyncio.Context()
        async with AsyncSubscriber(daemon.endpoint, silence_s=0.2, context=context) as sub:
            daemon.wait_subscribed([b""])
            daemon.send(onset(), timbre())
            async for item in sub:
                items.append(item)
                if isinstance(item, Silent):
                    break
            assert await sub.recv(0.1) is None
        context.term()
        return items

    assert asyncio.run(asyncio.wait_for(main(), 5.0)) == [
        onset(),
        timbre(),
        Silent("snare", pytest.approx(0.6, abs=0.4)),
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kinds": ["bogus"]},
        {"kinds": []},
        {"sources": []},
        {"silence_s": 0},
        {"endpoints": []},
        {"rcvhwm": -1},
    ],
)
def test_bad_arguments_are_refused(kwargs) -> None:
    with pytest.raises(ValueError):
        Subscriber(**kwargs)


def test_descriptors_that_are_not_finite_numbers_are_malformed(daemon: TestDaemon) -> None:
    with Subscriber(daemon.endpoint, silence_s=None) as sub:
        daemon.wait_subscribed([b""])
        for bad in ("bright", float("nan"), True):
            daemon.send(timbre(values={**VALUES, "brightness": bad}))
        daemon.send(timbre(seq=5))
        assert sub.recv(2.0) == timbre(seq=5)
        assert sub.counters.malformed == 3
        assert "brightness" in str(sub.last_error)


def test_gaps_in_a_sources_onset_seq_are_counted_as_missed_hits() -> None:
    from timbrecast.clients.subscriber import _Core

    core = _Core(None, None, None, now=0.0)
    for source, seq in (
        ("snare", 5),
        ("snare", 6),
        ("snare", 9),
        ("kick", 0),
        ("snare", 10),
        ("kick", 2),
        ("snare", 0),
        ("snare", 1),
    ):
        core.feed(encode(onset(source, seq)), now=0.0)
    assert core.counters.missed == 2 + 1  # snare 7 and 8, kick 1; a restart (0) counts nothing
    assert core.counters.delivered == 8


def test_iteration_ends_when_every_source_heard_has_ended(daemon: TestDaemon) -> None:
    """A file's stream ends: each source's end-of-input, after its last hit, ends the loop;
    a shutdown (a service stopping) does not, and a source that ended and speaks again
    is waited for once more."""
    with Subscriber(daemon.endpoint, silence_s=None) as sub:
        daemon.wait_subscribed([b""])
        daemon.send(onset("snare"), onset("kick"), end("kick", reason=SHUTDOWN))
        daemon.send(end("snare"), onset("kick", 1), end("kick", hits=2))
        got = list(sub)
    assert [(item.kind, item.source) for item in got] == [
        ("onset", "snare"),
        ("onset", "kick"),
        ("end", "kick"),
        ("end", "snare"),
        ("onset", "kick"),
        ("end", "kick"),
    ]
    assert isinstance(got[-1], End) and got[-1].hits == 2


def test_a_loop_for_other_kinds_ends_too_though_end_is_not_delivered(daemon: TestDaemon) -> None:
    """``end`` is subscribed to whatever kinds are wanted: a loop over timbre only, the
    plain ``subscribe`` loop as well, ends with the stream instead of waiting for ever."""
    with Subscriber(daemon.endpoint, kinds=["timbre"], silence_s=None) as sub:
        daemon.wait_subscribed([b"end/", b"timbre/"])
        daemon.send(onset("snare"), timbre("snare"), end("snare"))
        got = list(sub)
        assert got == [timbre("snare")] and sub.recv(5.0) is None
    looped: list[Item] = []
    loop = threading.Thread(
        target=lambda: looped.extend(subscribe(daemon.endpoint, kinds=["timbre"], silence_s=None))
    )
    loop.start()
    daemon.wait_subscribed([b"end/", b"timbre/"], times=2)
    daemon.send(timbre("kick"), end("kick"))
    loop.join(10.0)
    assert not loop.is_alive() and looped == [timbre("kick")]


def test_a_named_source_must_end_too_and_keep_open_waits_on(daemon: TestDaemon) -> None:
    with Subscriber(daemon.endpoint, sources=["snare", "kick"], silence_s=None) as sub:
        daemon.wait_subscribed([b"end/snare", b"end/kick"])
        daemon.send(onset("snare"), end("snare"))
        assert [sub.recv(2.0), sub.recv(2.0)] == [onset("snare"), end("snare")]
        assert not sub.finished  # kick was named and has not ended
        daemon.send(end("kick"))
        assert sub.recv(2.0) == end("kick")
        assert sub.finished
    with Subscriber(daemon.endpoint, silence_s=None, until_end=False) as sub:
        daemon.wait_subscribed([b""])
        daemon.send(end("snare"))
        assert sub.recv(2.0) == end("snare")
        assert not sub.finished


def test_an_ended_source_is_not_reported_silent(daemon: TestDaemon) -> None:
    with Subscriber(daemon.endpoint, silence_s=0.2, until_end=False) as sub:
        daemon.wait_subscribed([b""])
        daemon.send(status("snare"), end("snare", reason=SHUTDOWN))
        got = [sub.recv(1.0) for _ in range(3)]
    assert got == [status("snare"), end("snare", reason=SHUTDOWN), None]


def test_a_flood_of_source_names_is_bounded_and_named_sources_still_arrive(
    daemon: TestDaemon,
) -> None:
    """20,000 invented sources: the subscriber follows the first MAX_SOURCES, counts the
    rest, and keeps delivering; one that names its sources is never sent them."""
    from timbrecast.clients.subscriber import MAX_SOURCES

    flood = [status(f"fake{i}") for i in range(20_000)]
    with (
        Subscriber(daemon.endpoint, silence_s=60.0, rcvhwm=0) as everything,
        Subscriber(daemon.endpoint, sources=["snare"], silence_s=60.0, rcvhwm=0) as named,
    ):
        daemon.wait_subscribed([b"", b"status/snare"])
        daemon.send(*flood, onset("fake0", 1), onset("snare", 2))
        got = [everything.recv(5.0) for _ in range(MAX_SOURCES + 1)]
        assert got[-1] == onset("fake0", 1)
        assert everything.recv(1.0) is None  # snare is source 20,001: skipped, counted
        assert everything.counters.too_many_sources == 20_000 - MAX_SOURCES + 1
        assert named.recv(5.0) == onset("snare", 2)
        assert named.counters.received == 1  # its subscriptions kept the others away
