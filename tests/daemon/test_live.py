"""Live capture for real: PulseAudio null sink -> PyAudio -> the daemon -> a subscriber.

The demo recording is played into a null sink; the daemon captures the sink's
monitor through PortAudio's ``pulse`` device and publishes. It must hear the
same hits as ``analyze`` finds in the file, at the same spacing.
"""

from __future__ import annotations

import json
import os
import subprocess
import time

import zmq

from tests.conftest import free_endpoint, script
from timbrecast.daemon import bundled
from timbrecast.daemon.protocol import Onset, Status, Timbre, decode


def test_live_capture_hears_what_analyze_finds(null_sink: str, tiny_tflite) -> None:
    demo = bundled.demo_recordings()[0]
    model = str(tiny_tflite["int8"])
    offline = subprocess.run(
        [script("timbrecastd"), "analyze", str(demo), "--model", model],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    expected = [json.loads(line)["onset_s"] for line in offline.stdout.splitlines()]

    endpoint = free_endpoint()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(endpoint)
    env = dict(os.environ, PULSE_SOURCE=f"{null_sink}.monitor")
    daemon = subprocess.Popen(
        [
            script("timbrecastd"),
            "run",
            "--device",
            "pulse",
            "--model",
            model,
            "--endpoint",
            endpoint,
            "--sources",
            "pad",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    events = []
    try:
        deadline = time.monotonic() + 20
        while not any(isinstance(e, Status) for e in events):
            assert time.monotonic() < deadline, "the daemon never sent status"
            assert daemon.poll() is None, daemon.stderr.read()
            if sub.poll(200):
                events.append(decode(sub.recv_multipart()))
        subprocess.run(["paplay", f"--device={null_sink}", str(demo)], check=True, timeout=60)
        quiet_until = time.monotonic() + 2.0
        while time.monotonic() < quiet_until:
            if sub.poll(100):
                events.append(decode(sub.recv_multipart()))
    finally:
        daemon.terminate()
        code = daemon.wait(timeout=10)
    while sub.poll(100):
        events.append(decode(sub.recv_multipart()))
    sub.close(linger=0)
    assert code == 0, daemon.stderr.read()

    heard = [e.stream_time_s for e in events if isinstance(e, Onset)]
    described = [e for e in events if isinstance(e, Timbre) and not e.provisional]
    final = [e for e in events if isinstance(e, Status)][-1]
    assert len(heard) == len(expected) == len(described) == final.hits
    assert final.overruns == 0 and final.drops == 0
    shift = heard[0] - expected[0]
    for live, offline_s in zip(heard, expected, strict=True):
        assert abs(live - shift - offline_s) < 0.002, (live - shift, offline_s)


def test_a_missing_device_exits_unavailable_for_systemd_to_retry(tiny_tflite) -> None:
    """69, not 78: the unit restarts on it (a USB interface may appear late at boot)."""
    result = subprocess.run(
        [
            script("timbrecastd"),
            "run",
            "--device",
            "no-such-interface",
            "--model",
            str(tiny_tflite["int8"]),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 69
    assert result.stderr.count("\n") == 1, result.stderr
    assert "no input device 'no-such-interface'" in result.stderr


def test_devices_lists_the_pulse_device(null_sink) -> None:
    result = subprocess.run(
        [script("timbrecastd"), "devices"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert any(line.split()[1] == "pulse" for line in result.stdout.splitlines()), result.stdout
