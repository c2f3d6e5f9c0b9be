"""The OSC bridge into a real python-osc server on loopback, with exact counts."""

from __future__ import annotations

import socket
import struct
import threading
import time
from collections.abc import Iterator

import pytest
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_packet import OscPacket
from pythonosc.osc_server import ThreadingOSCUDPServer

from tests.clients.wire import UNIX_NS, VALUES, TestDaemon, onset, status, timbre
from timbrecast.clients import osc
from timbrecast.clients.osc import OscBridge, OscSettings, messages
from timbrecast.daemon.protocol import DESCRIPTORS

ORDERED = [VALUES[name] for name in DESCRIPTORS]
#: Seconds from the NTP epoch (1900) to the Unix one (1970).
NTP_TO_UNIX_S = 2_208_988_800


class Received:
    """What an OSC server on 127.0.0.1 got: (address, args) pairs."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, tuple[object, ...]]] = []
        self._lock = threading.Lock()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._handle)
        self.server = ThreadingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        self.port = self.server.server_address[1]

    def _handle(self, address: str, *args: object) -> None:
        with self._lock:
            self.messages.append((address, args))

    def wait_for(self, count: int, timeout_s: float = 3.0) -> list[tuple[str, tuple[object, ...]]]:
        """The messages once ``count`` came, after a pause that would let extra ones in."""
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)
        with self._lock:
            return list(self.messages)


@pytest.fixture
def received() -> Iterator[Received]:
    target = Received()
    thread = threading.Thread(target=target.server.serve_forever, daemon=True)
    thread.start()
    yield target
    target.server.shutdown()
    target.server.server_close()


def test_messages_for_an_onset_and_a_final_timbre() -> None:
    settings = OscSettings(scale=100.0, floor_db=-60.0)
    assert messages(onset(peak=-30.0), settings) == [("/timbrecast/snare/onset", [50.0])]
    sent = messages(timbre(), settings)
    assert sent[0] == ("/timbrecast/snare/timbre", pytest.approx(ORDERED))
    assert [address for address, _ in sent[1:]] == [f"/timbrecast/snare/{d}" for d in DESCRIPTORS]
    assert [args for _, args in sent[1:]] == [[pytest.approx(v)] for v in ORDERED]
    assert messages(status(), settings) == []


def test_provisional_timbre_only_when_asked_and_values_clamped() -> None:
    early = timbre(provisional=True, values=dict.fromkeys(DESCRIPTORS, 104.0))
    assert messages(early, OscSettings()) == []
    sent = messages(early, OscSettings(provisional=True))
    assert sent[0] == ("/timbrecast/snare/provisional", [1.0] * 7)
    assert [address for address, _ in sent[1:]] == [
        f"/timbrecast/snare/provisional/{d}" for d in DESCRIPTORS
    ]


def test_source_names_are_made_address_safe() -> None:
    assert messages(onset("floor tom/2*"), OscSettings())[0][0] == "/timbrecast/floor_tom_2_/onset"


def test_wekinator_layout_and_a_prefix() -> None:
    wek = OscSettings(wekinator=True)
    assert messages(onset(peak=-6.0), wek) == []
    assert messages(timbre(), wek) == [
        ("/wek/inputs", pytest.approx([v / 100 for v in ORDERED] + [0.9]))
    ]
    assert messages(timbre(provisional=True), wek) == []
    prefixed = OscSettings(prefix="/drums")
    assert messages(onset(), prefixed)[0][0] == "/drums/snare/onset"
    assert {address.split("/")[1] for address, _ in messages(timbre(), prefixed)} == {"drums"}


def test_bundles_carry_the_hit_time_plus_the_delay(background, daemon) -> None:
    """A raw UDP socket and python-osc's parser: one bundle per event, its time tag
    40 ms after the attack on the daemon's clock."""
    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    receiver.bind(("127.0.0.1", 0))
    receiver.settimeout(5.0)
    port = receiver.getsockname()[1]
    argv = ["--to", f"127.0.0.1:{port}", "--connect", daemon.endpoint, "--silence", "0"]
    command = background(osc.main, [*argv, "--count", "2", "--bundle", "40", "--prefix", "/d"])
    daemon.wait_subscribed([b"onset/", b"timbre/"])
    daemon.send(onset(at_s=1.5), timbre(at_s=1.5))
    assert command.join() == 0
    datagrams = [receiver.recv(65536) for _ in range(2)]
    receiver.close()
    packets = [OscPacket(datagram) for datagram in datagrams]
    assert [len(p.messages) for p in packets] == [1, 8]
    # The time tag as the OSC spec has it (NTP seconds since 1900 and a 32-bit
    # fraction), decoded here: python-osc's parser gives the time to run each
    # message at instead, which is "now" for a tag in the past, as this one is.
    expected = (UNIX_NS + 1_500_000_000) / 1e9 + 0.040
    for datagram in datagrams:
        assert datagram.startswith(b"#bundle\x00")
        seconds, fraction = struct.unpack(">II", datagram[8:16])
        assert seconds - NTP_TO_UNIX_S + fraction / 2**32 == pytest.approx(expected, abs=1e-6)
    assert packets[0].messages[0].message.address == "/d/snare/onset"
    assert packets[1].messages[0].message.address == "/d/snare/timbre"
    assert list(packets[1].messages[0].message.params) == pytest.approx([v / 100 for v in ORDERED])


def _bridge(background, daemon: TestDaemon, received: Received, expected: int, *extra: str):
    argv = ["--to", f"127.0.0.1:{received.port}", "--connect", daemon.endpoint, "--silence", "0"]
    command = background(osc.main, [*argv, "--count", "3", *extra])
    daemon.wait_subscribed([b"onset/", b"timbre/"])
    daemon.send(onset(peak=-6.0), status(), timbre(provisional=True), timbre())
    assert command.join() == 0
    return received.wait_for(expected)


def test_bridge_sends_onset_then_final_timbre_only(background, daemon, received) -> None:
    got = _bridge(background, daemon, received, 9)
    assert len(got) == 9  # onset, timbre, seven descriptors; no provisional, no status
    assert got.count(("/timbrecast/snare/onset", (pytest.approx(0.9),))) == 1
    assert ("/timbrecast/snare/timbre", tuple(pytest.approx(v / 100) for v in ORDERED)) in got
    for name in DESCRIPTORS:
        assert got.count((f"/timbrecast/snare/{name}", (pytest.approx(VALUES[name] / 100),))) == 1


def test_bridge_with_provisional_and_0_100(background, daemon, received) -> None:
    got = _bridge(background, daemon, received, 17, "--provisional", "--scale", "0-100")
    assert len(got) == 17
    assert got.count(("/timbrecast/snare/onset", (pytest.approx(90.0),))) == 1
    values = tuple(pytest.approx(v) for v in ORDERED)
    assert got.count(("/timbrecast/snare/provisional", values)) == 1
    assert got.count(("/timbrecast/snare/timbre", values)) == 1
    assert got.index(("/timbrecast/snare/provisional", values)) < got.index(
        ("/timbrecast/snare/timbre", values)
    )
    assert sum(address == "/timbrecast/snare/provisional/brightness" for address, _ in got) == 1
    assert sum(address == "/timbrecast/snare/brightness" for address, _ in got) == 1


def test_help_has_an_example(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        osc.main(["--help"])
    assert exit_.value.code == 0
    assert "examples:\n  timbrecast-osc" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--scale", "0-7"],
        ["--to", "localhost"],
        ["--to", "127.0.0.1:70000"],
        ["--floor-db", "3"],
        ["--prefix", "timbrecast"],
        ["--bundle", "-5"],
    ],
)
def test_bad_arguments_give_one_line_and_status_78(argv, capsys) -> None:
    try:
        status_ = osc.main([*argv, "--silence", "0"])
    except SystemExit as exit_:
        status_ = exit_.code
    assert status_ == 78
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("timbrecast-osc: ")


def test_a_refused_send_is_dropped_and_counted(capsys) -> None:
    def refuse(address: str, args: list[float]) -> None:
        raise BlockingIOError("send buffer full")

    bridge = OscBridge(refuse, OscSettings())
    bridge(onset())
    bridge(timbre())
    assert bridge.dropped == 9
    assert "1 messages dropped (send buffer full)" in capsys.readouterr().err
