"""Soak: hours of audio through the daemon as fast as it goes, nothing lost, memory flat.

    python bench/soak.py                 # 1.4 h: the demo 460 times, one file
    python bench/soak.py --repeat 50     # a quicker look

The bundled demo (11.1 s, 47 hits) is written ``--repeat`` times into one WAV,
and played through ``timbrecastd run --file WAV --fast --wait-subscriber`` while a
subscriber in this process takes every message (receive high-water mark off,
as a recorder would). Printed: audio hours; hits detected (the daemon's last
status), published (detected less the publisher's drops), received (onsets at
the subscriber) and described (final timbres received); the daemon's peak RSS
(VmHWM), first and last quarter of the run side by side, so growth shows as a
ratio; and the largest queue of hits waiting for the model that status reported.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import soundfile
import zmq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime import high_water_mib  # noqa: E402

from tests.conftest import free_endpoint, script  # noqa: E402
from timbrecast.daemon import bundled  # noqa: E402
from timbrecast.daemon.protocol import End, Onset, Status, Timbre, decode  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=460, help="demo copies (default 460)")
    args = parser.parse_args()
    audio, rate = soundfile.read(bundled.demo_recordings()[0], dtype="int16")
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "soak.wav"
        with soundfile.SoundFile(path, "w", rate, 1, "PCM_16") as handle:
            for _ in range(args.repeat):
                handle.write(audio)
        hours = args.repeat * len(audio) / rate / 3600
        endpoint = free_endpoint()
        sub = zmq.Context.instance().socket(zmq.SUB)
        sub.setsockopt(zmq.RCVHWM, 0)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        sub.connect(endpoint)
        started = time.monotonic()
        daemon = subprocess.Popen(
            [
                *(script("timbrecastd"), "run", "--file", str(path), "--fast"),
                *("--wait-subscriber", "--endpoint", endpoint, "--sources", "soak"),
            ],
            stderr=subprocess.PIPE,
            text=True,
        )
        onsets = finals = max_queue = 0
        last_status: Status | None = None
        samples: list[tuple[float, float]] = []
        ended = False
        while not ended:
            if sub.poll(100):
                event = decode(sub.recv_multipart())
                onsets += isinstance(event, Onset)
                finals += isinstance(event, Timbre) and not event.provisional
                if isinstance(event, Status):
                    last_status = event
                    max_queue = max(max_queue, event.queue_depth)
                ended = isinstance(event, End)
            if daemon.poll() is None:
                peak = high_water_mib(daemon.pid)
                if peak is not None:
                    samples.append((time.monotonic() - started, peak))
            elif not sub.poll(2000):
                break
        daemon.wait(60)
        sub.close(linger=0)
    assert last_status is not None, daemon.stderr.read()
    quarter = max(1, len(samples) // 4)
    early = max(m for _, m in samples[:quarter])
    late = max(m for _, m in samples[-quarter:])
    published = last_status.hits - last_status.drops
    print(f"command: python bench/soak.py --repeat {args.repeat}")
    print(
        "| audio h | detected | published | received | described | peak RSS MiB "
        "(first quarter / last) | growth | max queue | wall s |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {hours:.2f} | {last_status.hits} | {published} | {onsets} | {finals} | "
        f"{early:.0f} / {late:.0f} | {late / early:.2f} | {max_queue} | "
        f"{time.monotonic() - started:.0f} |"
    )
    return 0 if last_status.hits == published == onsets == finals else 1


if __name__ == "__main__":
    sys.exit(main())
