"""The client chain as real processes on loopback, for the end-to-end tests.

``timbrecastd run --connect`` -> ``timbrecast-broker`` -> ``timbrecast-osc`` ->
a python-osc server in the test, with a ZeroMQ watcher on the broker beside
the bridge. Nothing waits on a sleep alone:

- before any daemon starts, a probe publisher sends onsets into the broker
  until one has crossed the whole chain, to the OSC server and the watcher
  (ZeroMQ's slow joiner: a SUB connects, and subscribes, asynchronously);
- at the end, once the watcher holds every hit and each daemon's last status,
  an end marker goes the same way: the broker forwarded the daemons' messages
  to the bridge before it, the bridge sends in order, and the server handles
  datagrams one at a time, so when the marker is counted everything is.

The one race left is the daemon's own: a hit it publishes before the broker's
subscription reaches it is dropped by its socket. The daemons run with
``--wait-subscriber``, so they open their input only once that subscription is in.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import zmq
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import BlockingOSCUDPServer

from tests.conftest import free_endpoint, script
from timbrecast.daemon.protocol import End, Event, Onset, Status, Timbre, decode, encode

PROBE = "probe"
END = "end"


def analyzed_onsets(recording: Path) -> list[float]:
    """The onset time (s) of every hit ``timbrecastd analyze`` finds: one JSON line each."""
    analyzed = subprocess.run(
        [script("timbrecastd"), "analyze", str(recording)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [json.loads(line)["onset_s"] for line in analyzed.stdout.splitlines()]


class OscCounter:
    """A python-osc server on 127.0.0.1 counting messages per address, in arrival order."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._changed = threading.Condition()
        dispatcher = Dispatcher()
        dispatcher.set_default_handler(self._count)
        self.server = BlockingOSCUDPServer(("127.0.0.1", 0), dispatcher)
        # A --fast daemon's hits come in bursts of hundreds of datagrams; the
        # kernel caps this at net.core.rmem_max.
        self.server.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def _count(self, address: str, *_args: object) -> None:
        with self._changed:
            self.counts[address] += 1
            self._changed.notify_all()

    def wait(self, address: str, timeout_s: float) -> bool:
        """True once ``address`` has been received, False if ``timeout_s`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: self.counts[address] > 0, timeout_s)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Chain:
    """A broker and an OSC bridge (processes), an OSC server and a watcher (here).

    Daemons publish into ``frontend``; ``events`` are what the watcher read,
    the probe and end marker left out.
    """

    def __init__(self) -> None:
        self.frontend, backend = free_endpoint(), free_endpoint()
        self.osc = OscCounter()
        self.events: list[Event] = []
        self._processes = [
            subprocess.Popen(
                [script("timbrecast-broker"), "--frontend", self.frontend, "--backend", backend]
            ),
            subprocess.Popen(
                [
                    *(script("timbrecast-osc"), "--connect", backend),
                    *("--to", f"127.0.0.1:{self.osc.port}", "--scale", "0-100", "--silence", "0"),
                ]
            ),
        ]
        context = zmq.Context.instance()
        self._watcher = context.socket(zmq.SUB)
        self._watcher.setsockopt(zmq.RCVHWM, 100_000)
        self._watcher.setsockopt(zmq.SUBSCRIBE, b"")
        self._watcher.connect(backend)
        self._probe = context.socket(zmq.PUB)
        self._probe.connect(self.frontend)
        self._probed = False
        #: The bridge's and the broker's exit statuses, once closed.
        self.statuses: list[int | None] = []

    def wait_connected(self, timeout_s: float = 30.0) -> None:
        """Send probe onsets until one reached the OSC server and the watcher."""
        deadline = time.monotonic() + timeout_s
        seq = 0
        while not (self._probed and self.osc.counts[f"/timbrecast/{PROBE}/onset"]):
            assert time.monotonic() < deadline, "the broker and the bridge never connected"
            self._mark(PROBE, seq)
            seq += 1
            self.osc.wait(f"/timbrecast/{PROBE}/onset", 0.05)
            self._read(0)

    def finish(self, hits: dict[str, int], timeout_s: float = 30.0) -> None:
        """Read until each source has its hits and a status after them, then mark the end.

        ``hits`` (source -> the count its daemon should publish) only says
        when to stop reading; the test checks what came.
        """
        deadline = time.monotonic() + timeout_s
        while not all(_complete(self.events, s, n) for s, n in hits.items()):
            if not self._read(deadline - time.monotonic()):
                break
        self._mark(END, 0)
        assert self.osc.wait(f"/timbrecast/{END}/onset", timeout_s), "the end marker was lost"

    def _mark(self, source: str, seq: int) -> None:
        self._probe.send_multipart(encode(Onset(source, seq, 0.0, time.time_ns(), -6.0, -12.0)))

    def _read(self, timeout_s: float) -> bool:
        """Read what the watcher has, waiting up to ``timeout_s`` for the first; False if none."""
        if not self._watcher.poll(max(0, round(timeout_s * 1000))):
            return False
        while self._watcher.poll(0):
            event = decode(self._watcher.recv_multipart())
            if event.source == PROBE:
                self._probed = True
            elif event.source != END:
                self.events.append(event)
        return True

    def close(self) -> None:
        """Stop the bridge, then the broker, with SIGTERM (killed if that takes over 10 s)."""
        for process in reversed(self._processes):
            self.statuses.append(stop(process))
        self._watcher.close(linger=0)
        self._probe.close(linger=0)
        self.osc.close()

    def __enter__(self) -> Chain:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def stop(process: subprocess.Popen, timeout_s: float = 10.0) -> int | None:
    """SIGTERM, and the exit status; None if it had to be killed."""
    process.terminate()
    try:
        return process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


def _complete(events: list[Event], source: str, hits: int) -> bool:
    """``hits`` onsets and final timbres of ``source`` in, then a status and the source's
    end with that count."""
    mine = [e for e in events if e.source == source]
    onsets = sum(isinstance(e, Onset) for e in mine)
    finals = sum(isinstance(e, Timbre) and not e.provisional for e in mine)
    if onsets != finals or finals != hits or len(mine) < 2:
        return False
    status, end = mine[-2:]
    return (
        isinstance(status, Status)
        and status.hits == hits
        and isinstance(end, End)
        and (end.hits == hits)
    )
