"""The whole chain on loopback, every part a real process: three timbrecastd ->
broker -> two clients (the OSC bridge feeding an OSC server, and a subscriber).
Hit counts are exact at the end of the chain, for every daemon.

Each daemon publishes into the broker's frontend (``run --connect``), plays the
bundled demo in real time (its 1.5 s count-in lets the broker's subscription
reach the daemon before the first hit), and a probe publisher checks that the
broker and the bridge are connected before the daemon starts.
"""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections import Counter

import zmq
from pythonosc.dispatcher import Dispatcher
from pythonosc.osc_server import ThreadingOSCUDPServer

from tests.conftest import free_endpoint, script
from timbrecast.daemon import bundled
from timbrecast.daemon.protocol import Onset, Status, Timbre, decode, encode

SOURCES = ("kit1", "kit2", "kit3")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_three_daemons_through_broker_and_osc_bridge_counts_exact() -> None:
    received: Counter[str] = Counter()
    lock = threading.Lock()

    def count(address: str, *_values: object) -> None:
        with lock:
            received[address] += 1

    dispatcher = Dispatcher()
    dispatcher.set_default_handler(count)
    port = free_udp_port()
    server = ThreadingOSCUDPServer(("127.0.0.1", port), dispatcher)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    frontend, backend = free_endpoint(), free_endpoint()
    broker = subprocess.Popen(
        [script("timbrecast-broker"), "--frontend", frontend, "--backend", backend]
    )
    bridge = subprocess.Popen(
        [script("timbrecast-osc"), "--connect", backend, "--to", f"127.0.0.1:{port}",
         "--scale", "0-100", "--silence", "0"]
    )
    context = zmq.Context.instance()
    watcher = context.socket(zmq.SUB)
    watcher.setsockopt(zmq.SUBSCRIBE, b"")
    watcher.setsockopt(zmq.RCVHWM, 100_000)
    watcher.connect(backend)
    probe = context.socket(zmq.PUB)
    probe.connect(frontend)
    try:
        deadline = time.monotonic() + 30
        seq = 0
        while received["/timbrecast/probe/onset"] == 0:
            assert time.monotonic() < deadline, "broker and bridge never connected"
            probe.send_multipart(encode(Onset("probe", seq, 0.0, time.time_ns(), -6.0, -12.0)))
            seq += 1
            time.sleep(0.05)
        probe.close(linger=0)

        daemons = [
            subprocess.Popen(
                [script("timbrecastd"), "run", "--file", str(bundled.demo_recordings()[0]),
                 "--connect", frontend, "--sources", name],
                stderr=subprocess.PIPE, text=True,
            )
            for name in SOURCES
        ]
        for daemon in daemons:
            assert daemon.wait(timeout=120) == 0, daemon.stderr.read()
        events = []
        while watcher.poll(1500):
            events.append(decode(watcher.recv_multipart()))
    finally:
        for process in (bridge, broker):
            process.terminate()
            process.wait(timeout=10)
        server.shutdown()
        watcher.close(linger=0)

    for name in SOURCES:
        mine = [e for e in events if e.source == name]
        onsets = [e for e in mine if isinstance(e, Onset)]
        final = [e for e in mine if isinstance(e, Timbre) and not e.provisional]
        hits = [e for e in mine if isinstance(e, Status)][-1].hits
        assert hits == len(onsets) == len(final) >= 40
        assert received[f"/timbrecast/{name}/onset"] == hits
        assert received[f"/timbrecast/{name}/timbre"] == hits
        assert received[f"/timbrecast/{name}/hardness"] == hits
