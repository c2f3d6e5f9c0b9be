"""Three publishers and two subscribers through the broker: nothing lost."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import zmq

from tests.clients.wire import onset, status
from timbrecast.clients import broker as broker_cli
from timbrecast.clients.forwarder import Broker
from timbrecast.clients.subscriber import Onset, Status, Subscriber
from timbrecast.daemon.protocol import encode

PER_PUBLISHER = 300  # three publishers: 900 messages, within every high-water mark of 1000


@pytest.fixture
def broker() -> Iterator[tuple[Broker, zmq.Socket]]:
    """A running broker, and the PUB socket of a daemon it reads from as an upstream."""
    upstream = zmq.Context.instance().socket(zmq.PUB)  # a daemon that binds, like timbrecastd
    upstream.setsockopt(zmq.SNDHWM, 1000)
    port = upstream.bind_to_random_port("tcp://127.0.0.1")
    running = Broker(
        frontends=["tcp://127.0.0.1:*"],
        upstreams=[f"tcp://127.0.0.1:{port}"],
        backends=["tcp://127.0.0.1:*"],
    )
    proxy = threading.Thread(target=running.run, daemon=True)
    proxy.start()
    yield running, upstream
    running.stop()
    proxy.join(5.0)
    assert not proxy.is_alive()
    running.close()
    upstream.close(linger=0)


def test_three_publishers_two_subscribers_nothing_lost(broker) -> None:
    running, upstream = broker
    context = zmq.Context.instance()
    publishers = [upstream]
    for _ in range(2):  # publishers that connect to the broker's frontend
        publisher = context.socket(zmq.PUB)
        publisher.setsockopt(zmq.SNDHWM, 1000)
        publisher.connect(running.frontends[0])
        publishers.append(publisher)
    subscribers = [Subscriber(running.backends, silence_s=None) for _ in range(2)]
    try:
        _until_every_subscriber_hears_every_publisher(publishers, subscribers)
        for number, publisher in enumerate(publishers):
            for seq in range(PER_PUBLISHER):
                publisher.send_multipart(encode(onset(f"pub{number}", seq)), zmq.NOBLOCK)
        for subscriber in subscribers:
            got: dict[str, list[int]] = {f"pub{n}": [] for n in range(3)}
            deadline = time.monotonic() + 5.0
            while sum(map(len, got.values())) < 3 * PER_PUBLISHER:
                item = subscriber.recv(max(0.0, deadline - time.monotonic()))
                assert item is not None, f"lost: {[len(s) for s in got.values()]} received"
                if isinstance(item, Onset):
                    got[item.source].append(item.seq)
            assert all(seqs == list(range(PER_PUBLISHER)) for seqs in got.values())
            assert subscriber.recv(0.1) is None  # and nothing twice
    finally:
        for publisher in publishers[1:]:
            publisher.close(linger=0)
        for subscriber in subscribers:
            subscriber.close()


def _until_every_subscriber_hears_every_publisher(publishers, subscribers) -> None:
    """Probe until subscriptions have crossed the broker to every publisher (slow joiner)."""
    heard: list[set[str]] = [set() for _ in subscribers]
    wanted = {f"probe{n}" for n in range(len(publishers))}
    deadline = time.monotonic() + 5.0
    while any(h != wanted for h in heard):
        assert time.monotonic() < deadline, f"subscriptions did not propagate: {heard}"
        for number, publisher in enumerate(publishers):
            publisher.send_multipart(encode(status(f"probe{number}")), zmq.NOBLOCK)
        for subscriber, sources in zip(subscribers, heard, strict=True):
            while (item := subscriber.recv(0.01)) is not None:
                assert isinstance(item, Status)
                sources.add(item.source)
    time.sleep(0.05)  # let probes still in flight arrive before counting starts
    for subscriber in subscribers:
        while subscriber.recv(0.01) is not None:
            pass


def test_high_water_marks_are_explicit() -> None:
    with_hwm = Broker(frontends=["tcp://127.0.0.1:*"], backends=["tcp://127.0.0.1:*"], hwm=1234)
    try:
        assert with_hwm.frontend.getsockopt(zmq.RCVHWM) == 1234
        assert with_hwm.backend.getsockopt(zmq.SNDHWM) == 1234
    finally:
        with_hwm.close()


@pytest.mark.parametrize(
    ("argv", "banner"),
    [
        (
            ["--frontend", "tcp://127.0.0.1:*", "--backend", "tcp://127.0.0.1:*"],
            "-> clients at tcp://127.0.0.1:",
        ),
        # As the README's table shows it: daemons --connect to 5559, clients to 5557.
        ([], "tcp://127.0.0.1:5559 (bound) -> clients at tcp://127.0.0.1:5557"),
    ],
)
def test_command_serves_until_sigterm(argv: list[str], banner: str) -> None:
    command = subprocess.Popen(
        [sys.executable, "-m", "timbrecast.clients.broker", *argv],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert banner in command.stderr.readline()
        command.send_signal(signal.SIGTERM)
        assert command.wait(10) == 0
    finally:
        command.kill()
        command.wait()


@pytest.mark.parametrize("argv", [["--frontend", "nonsense"], ["--hwm", "x"]])
def test_bad_arguments_give_one_line_and_status_78(argv, capsys) -> None:
    try:
        status_ = broker_cli.main(argv)
    except SystemExit as exit_:
        status_ = exit_.code
    assert status_ == 78
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("timbrecast-broker: ")


def test_help_has_an_example(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        broker_cli.main(["--help"])
    assert exit_.value.code == 0
    assert "examples:\n  timbrecast-broker" in capsys.readouterr().out


def test_a_subscription_flood_reopens_the_broker_and_clients_come_back(broker) -> None:
    """More subscriptions than MAX_SUBSCRIPTIONS from one peer: the broker reopens its
    sockets (freeing them), and a subscriber that was there gets messages again."""
    from timbrecast.clients.forwarder import MAX_SUBSCRIPTIONS

    running, upstream = broker
    with Subscriber(running.backends[0], kinds=["onset"], silence_s=None) as sub:
        attacker = zmq.Context.instance().socket(zmq.XSUB)
        attacker.setsockopt(zmq.SNDHWM, 0)
        attacker.connect(running.backends[0])
        for i in range(MAX_SUBSCRIPTIONS + 100):
            attacker.send(b"\x01" + f"onset/{i:08d}".encode())
        deadline = time.monotonic() + 20
        while running.resets == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        attacker.close(linger=0)
        assert running.resets >= 1
        got = None
        while got is None and time.monotonic() < deadline:
            upstream.send_multipart(encode(onset("snare", 5)))
            got = sub.recv(0.1)
        assert got == onset("snare", 5)
