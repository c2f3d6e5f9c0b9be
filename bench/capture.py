"""CPU of the live daemon capturing through PortAudio, by thread, per capture block.

Why: ``bench/realtime.py`` feeds the daemon raw PCM on stdin, one read per block.
A device is read differently: PortAudio's own thread calls the daemon's audio
callback once per block, which copies it into a ring and wakes the audio thread;
through PulseAudio a client thread of its own runs beside them. This measures
that whole path, as the systemd service runs it on a Pi::

    timbrecastd run --device pulse --config BLOCK.toml --endpoint tcp://127.0.0.1:PORT

capturing the monitor of a fresh PulseAudio null sink (the server is started if
it is not running). For each ``--block`` (the daemon's ``[input] block``), the
daemon's threads' CPU (``/proc/PID/task/*/stat``) is read across ``--silence``
seconds with nothing playing (the sink's monitor delivers digital silence, which
the detector analyses like any other audio) and across the bundled demo played
into the sink ``--repeat`` times in real time (``paplay``). CPU is per wall second,
which is per audio second here. A subscriber in this process counts the onsets and
the final timbres, and the drops the daemon's status reports. Ratios are against
the first block size; the machine may be shared, so compare ratios.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import zmq

# A sibling script: `python bench/capture.py` puts bench/ first on sys.path.
from latency import free_endpoint, true_attacks
from match_latency import sink as null_sink

from timbrecast.daemon.protocol import Onset, ProtocolError, Status, Timbre, decode

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TICK = os.sysconf("SC_CLK_TCK")
#: The daemon's own thread names; PortAudio's callback thread keeps the process's.
NAMED = {"tc-inference": "inference", "tc-publisher": "publisher", "threaded-ml": "PulseAudio"}
COLUMNS = (
    "audio (main)",
    "PortAudio callback",
    "PulseAudio",
    "inference",
    "publisher",
    "ZeroMQ",
    "other",
)


@dataclass
class Row:
    block: int
    condition: str
    seconds: float
    threads: dict[str, float]
    events: Counter = field(default_factory=Counter)
    drops: int = 0

    @property
    def total(self) -> float:
        return sum(self.threads.values())


def by_thread(pid: int) -> dict[str, float]:
    """CPU seconds so far of each of the process's threads, under the columns' names."""
    spent: Counter[str] = Counter()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except OSError:  # a thread that ended meanwhile
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / TICK
        if int(task.name) == pid:
            spent["audio (main)"] += seconds
        elif name in NAMED:
            spent[NAMED[name]] += seconds
        elif name.startswith("ZMQbg"):
            spent["ZeroMQ"] += seconds
        elif name == "timbrecastd":
            spent["PortAudio callback"] += seconds
        else:
            spent["other"] += seconds
    return spent


def measure(block: int, sink: str, demo: Path, silence: float, repeat: int) -> list[Row]:
    """The silence row, then the demo row, of one daemon capturing with ``block``."""
    endpoint = free_endpoint()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 100_000)
    sub.connect(endpoint)
    rows: list[Row] = []
    done = threading.Event()

    def drain() -> None:
        while not done.is_set():
            if not sub.poll(100):
                continue
            try:
                event = decode(sub.recv_multipart())
            except ProtocolError:
                continue
            if not rows:
                continue
            row = rows[-1]
            if isinstance(event, Onset):
                row.events["onsets"] += 1
            elif isinstance(event, Timbre) and not event.provisional:
                row.events["finals"] += 1
            elif isinstance(event, Status):
                row.drops = max(row.drops, event.drops)

    listener = threading.Thread(target=drain, name="subscriber")
    listener.start()
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "capture.toml"
        config.write_text(f"[input]\nblock = {block}\n")
        daemon = subprocess.Popen(
            [
                *(str(BIN / "timbrecastd"), "run", "--config", str(config)),
                *("--device", "pulse", "--endpoint", endpoint, "--sources", "pad"),
            ],
            env=dict(os.environ, PULSE_SOURCE=f"{sink}.monitor"),
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(6.0)  # imports, models, self-tests, PulseAudio's start
            if daemon.poll() is not None:
                raise SystemExit(f"the daemon exited: {daemon.communicate()[1][-2000:]}")
            for condition in ("silence", f"demo x {repeat}"):
                row = Row(block, condition, 0.0, {})
                rows.append(row)  # the subscriber counts into the newest row
                before, started = by_thread(daemon.pid), time.monotonic()
                if condition == "silence":
                    time.sleep(silence)
                else:
                    for _ in range(repeat):
                        subprocess.run(["paplay", f"--device={sink}", str(demo)], check=True)
                    time.sleep(1.5)  # the last hit's one-shot ends, its final goes out
                row.seconds = time.monotonic() - started
                after = by_thread(daemon.pid)
                row.threads = {k: after[k] - before.get(k, 0.0) for k in after}
        finally:
            daemon.terminate()
            daemon.communicate(timeout=30)
            done.set()
            listener.join()
            sub.close(linger=0)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/capture.py --block 128 256 --silence 20 --repeat 2",
    )
    parser.add_argument(
        "--block", type=int, nargs="+", default=[128, 256], help="capture blocks (frames)"
    )
    parser.add_argument("--silence", type=float, default=20.0, help="seconds with nothing played")
    parser.add_argument("--repeat", type=int, default=2, help="plays of the demo (11.1 s each)")
    args = parser.parse_args()
    demo = next((ROOT / "daemon" / "demo").glob("*.flac"))
    expected = len(true_attacks(demo)) * args.repeat
    sink, module = null_sink()
    try:
        rows = [
            r for block in args.block for r in measure(block, sink, demo, args.silence, args.repeat)
        ]
    finally:
        subprocess.run(["pactl", "unload-module", module], capture_output=True)
    print(
        "timbrecastd run --device pulse, one source, capturing a PulseAudio null sink's monitor "
        "(the server's rate); CPU = user + sys of the daemon's threads per wall (= audio) "
        "second; ratios against the first block size's row of the same condition; the demo has "
        f"{expected} hits in {args.repeat} plays\n"
    )
    print(
        "| block (frames) | condition | CPU ms per audio s | x ref | such daemons per core | "
        + " | ".join(COLUMNS)
        + " | onsets | finals | drops |"
    )
    print("|---|---|---|---|---|" + "---|" * len(COLUMNS) + "---|---|---|")
    reference: dict[str, float] = {}
    for row in rows:
        ms = 1000.0 * row.total / row.seconds
        reference.setdefault(row.condition, ms)
        spent = " | ".join(f"{1000.0 * row.threads.get(c, 0.0) / row.seconds:.1f}" for c in COLUMNS)
        print(
            f"| {row.block} | {row.condition} | {ms:.1f} | {ms / reference[row.condition]:.2f} | "
            f"{1000.0 / ms:.0f} | {spent} | {row.events['onsets']} | {row.events['finals']} | "
            f"{row.drops} |"
        )


if __name__ == "__main__":
    main()
