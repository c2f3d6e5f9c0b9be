"""What a flood of subscriptions costs the daemon: its memory, and a normal client's hits.

A local peer connects to the daemon's endpoint and sends N subscriptions of S
bytes each (distinct topics, as an attacker would), while the daemon plays the
bundled demo (47 hits, paced in real time) and a normal subscriber counts its
onsets. Printed: the daemon's peak RSS (VmHWM) beside a run without the flood,
the subscriber's onsets, and what the daemon logged.

    python bench/flood.py                         # 20,000 x 10 KB, then 5,000 x 1 KB
    python bench/flood.py --flood 100000x64       # many short ones
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from pathlib import Path

import zmq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from realtime import high_water_mib  # noqa: E402

from tests.conftest import free_endpoint, script  # noqa: E402
from timbrecast.daemon import bundled  # noqa: E402
from timbrecast.daemon.protocol import Onset, decode  # noqa: E402


def flood(endpoint: str, count: int, size: int, done: threading.Event) -> None:
    """Connect raw and send ``count`` distinct subscriptions of ``size`` bytes."""
    sock = zmq.Context.instance().socket(zmq.XSUB)
    sock.setsockopt(zmq.SNDHWM, 0)
    sock.connect(endpoint)
    time.sleep(0.2)
    for i in range(count):
        topic = f"onset/{i:012d}".encode().ljust(size, b"x")
        sock.send(b"\x01" + topic)
    done.set()
    time.sleep(5.0)
    sock.close(linger=0)


def one_run(count: int, size: int) -> dict[str, object]:
    endpoint = free_endpoint()
    demo = bundled.demo_recordings()[0]
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"onset/")
    sub.connect(endpoint)
    daemon = subprocess.Popen(
        [script("timbrecastd"), "run", "--file", str(demo), "--endpoint", endpoint],
        stderr=subprocess.PIPE,
        text=True,
    )
    done = threading.Event()
    if count:
        threading.Thread(target=flood, args=(endpoint, count, size, done), daemon=True).start()
    onsets, peak = 0, 0.0
    while daemon.poll() is None:
        peak = max(peak, high_water_mib(daemon.pid) or 0.0)
        if sub.poll(50):
            onsets += isinstance(decode(sub.recv_multipart()), Onset)
    while sub.poll(300):
        onsets += isinstance(decode(sub.recv_multipart()), Onset)
    sub.close(linger=0)
    log = [line for line in daemon.stderr.read().splitlines() if "subscri" in line]
    return {"peak_mib": peak, "onsets": onsets, "status": daemon.returncode, "log": log}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--flood",
        nargs="*",
        default=["20000x10240", "5000x1024"],
        help="COUNTxBYTES runs (default: the two of the hardening issue)",
    )
    args = parser.parse_args()
    base = one_run(0, 0)
    print(f"{'flood':>14} {'peak RSS MiB':>13} {'ratio':>6} {'onsets':>7}  daemon said")
    print(f"{'none':>14} {base['peak_mib']:13.0f} {1.0:6.2f} {base['onsets']:7d}")
    for spec in args.flood:
        count, size = (int(part) for part in spec.split("x"))
        run = one_run(count, size)
        ratio = float(run["peak_mib"]) / float(base["peak_mib"])
        said = "; ".join(run["log"][:2]) + (
            f" (+{len(run['log']) - 2})" if len(run["log"]) > 2 else ""
        )
        print(f"{spec:>14} {run['peak_mib']:13.0f} {ratio:6.2f} {run['onsets']:7d}  {said}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
