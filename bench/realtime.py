"""CPU per 48 kHz channel, channels per core, and the daemon's resident memory.

Why: the daemon is meant for a Raspberry Pi listening to several pads at once,
so the question is how much of a core one channel costs, how that scales with
the channel count, and how much memory the process holds, measured on the real
daemon process rather than on the pipeline in this interpreter. So this feeds
raw PCM, as fast as the daemon reads it, to::

    timbrecastd run --config DETECTOR.toml --stdin --rate 48000 --channels C --format f32le \\
        --endpoint tcp://127.0.0.1:PORT

The stream is the bundled demo resampled to 48 kHz (soxr), repeated ``--repeat``
times (11.1 s each), and replicated to C channels, channel c shifted by
c x 37 ms so that the channels' hits differ. A subscriber in this process
drains the messages (as a client would) and counts the hits per channel.

The daemon's CPU time (user + system, all its threads) comes from ``os.wait4``
when it exits. Its peak RSS is ``VmHWM`` from ``/proc/PID/status``, polled
every 50 ms until it exits: ``wait4``'s ``ru_maxrss`` is shown beside it but is
not the daemon's own figure, because Linux carries the high-water mark of the
forking process (this one, holding the whole PCM stream) across ``exec`` into
the child's ``ru_maxrss``. Start-up (imports, loading both models) is a fixed
cost, measured by a run with empty input and subtracted, so the real-time
factor per channel is (CPU - start-up CPU) / (audio seconds x C) and one core
sustains 1 / that many channels. Because the audio path is one Python thread,
the wall-clock speed (audio seconds per wall second, start-up excluded) is
also shown: that, not the CPU figure, is the ceiling for one process. Mid-run,
``/proc/PID/maps`` of the daemon is read to confirm that no TensorFlow library
is loaded (the TFLite runtime's own libraries are listed). Ratios are against
the first channel count; the machine may be shared, so compare ratios.

``--pin CPU`` adds, for each channel count, a run of the daemon held to that one
CPU (``sched_setaffinity``; the feeder and subscriber of this process move to
the others), beside the run free to use them all. The daemon's audio thread,
inference thread and publisher take turns on the GIL; on this project's
virtual machines the same work spread over two vCPUs cost 1.6-1.9 times the
CPU seconds of it on one (docs/benchmarks.md), which pinning shows.

A second table splits the daemon's CPU by thread, as the kernel counts it
(``/proc/PID/task/*/stat``, read with the peak memory, the last reading within
50 ms of the exit; the daemon names its threads, its main thread is the audio
path), each minus the same thread of the start-up run.

``--pace 1 --write 128`` feeds the daemon as a live source does, a 128-frame
block every 2.7 ms, so that it wakes for each block. Fed in bulk (a MiB per
write, paced or not), it reads blocks back to back, which costs less per block
than live.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soxr
import zmq

# A sibling script: `python bench/realtime.py` puts bench/ first on sys.path.
from latency import true_attacks

from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.inputs import BLOCK_FRAMES
from timbrecast.daemon.onset import METHODS
from timbrecast.daemon.preprocess import to_mono
from timbrecast.daemon.protocol import Onset, ProtocolError, Status, Timbre, decode

USAGE = (
    "python bench/realtime.py [--repeat N] [--channels C [C ...]] [--pace X] [--write FRAMES] "
    "[--block FRAMES] [--pin CPU] [--out FILE]"
)
RATE = 48_000
SHIFT_S = 0.037
CHUNK = 1 << 20


@dataclass
class Result:
    """One daemon run: its resources, what it published, what it had loaded."""

    channels: int
    audio_s: float
    #: The CPUs the daemon was held to (None: all).
    pinned: int | None = None
    cpu_s: float = 0.0
    wall_s: float = 0.0
    rss_mib: float = 0.0
    ru_maxrss_mib: float = 0.0
    status: int = 0
    libraries: list[str] = field(default_factory=list)
    onsets: Counter[str] = field(default_factory=Counter)
    finals: Counter[str] = field(default_factory=Counter)
    drops: int = 0
    #: Each thread's label and CPU seconds, by thread id (the main thread is the audio path).
    threads: dict[int, tuple[str, float]] = field(default_factory=dict)


def free_endpoint() -> str:
    """A loopback TCP port nobody listens on now (the daemon binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def stream(channels: int, repeat: int) -> np.ndarray:
    """(frames, channels) float32 at 48 kHz: the demo repeated, shifted per channel."""
    demo = audiofile.read(bundled.demo_recordings()[0])
    mono = soxr.resample(to_mono(demo.frames), demo.sample_rate, RATE).astype(np.float32)
    long = np.tile(mono, repeat)
    return np.stack([np.roll(long, round(SHIFT_S * c * RATE)) for c in range(channels)], axis=1)


def loaded_libraries(pid: int) -> list[str]:
    """Shared objects mapped into ``pid`` that belong to TensorFlow or a TFLite runtime."""
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
    except OSError:
        return []
    paths = {line.split()[-1] for line in maps.splitlines() if len(line.split()) >= 6}
    pattern = re.compile(r"tensorflow|litert|tflite", re.IGNORECASE)
    return sorted(p for p in paths if pattern.search(p))


def high_water_mib(pid: int) -> float | None:
    """``VmHWM`` of ``pid`` (its peak resident memory since ``exec``), or None once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        return None
    return None


#: Thread names as the table shows them; any other thread counts as "other".
THREADS = {"main": "audio (main)", "tc-inference": "inference", "tc-publisher": "publisher"}
THREADS_ZMQ = "ZeroMQ's"


def thread_seconds(pid: int, seen: dict[int, tuple[str, float]]) -> None:
    """Update ``seen`` with each thread of ``pid``: its label and CPU seconds (user +
    system) so far. A thread that has ended keeps its last reading."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return
    for task in tasks:
        try:
            name = "main" if task.name == str(pid) else (task / "comm").read_text().strip()
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended since the listing
            continue
        label = THREADS.get(name, THREADS_ZMQ if name.startswith("ZMQbg") else "other")
        seen[int(task.name)] = (label, (int(fields[11]) + int(fields[12])) / tick)


def by_thread(run: Result) -> dict[str, float]:
    """A run's CPU seconds by thread label."""
    spent: dict[str, float] = {}
    for label, seconds in run.threads.values():
        spent[label] = spent.get(label, 0.0) + seconds
    return spent


def tensorflow_loaded(libraries: list[str]) -> bool:
    """TensorFlow proper: its package folder or its framework library, not the TFLite runtime."""
    return any("/tensorflow/" in p or "libtensorflow_framework" in p for p in libraries)


def one_run(
    channels: int,
    audio: np.ndarray | None,
    config: Path,
    pace: float = 0.0,
    pin: int | None = None,
    write: int = 0,
) -> Result:
    """The daemon over ``audio`` (None: empty input, i.e. start-up and shutdown only),
    piped at ``pace`` x real time at most (0: as fast as the daemon reads it), held to
    CPU ``pin`` if given (and this process to the others meanwhile), ``write`` frames
    per write (0: a MiB at a time)."""
    frames = 0 if audio is None else audio.shape[0]
    result = Result(channels=channels, audio_s=frames / RATE, pinned=pin)
    mine = os.sched_getaffinity(0)
    if pin is not None:
        os.sched_setaffinity(0, (mine - {pin}) or mine)
    try:
        return _run(result, audio, config, pace, write)
    finally:
        os.sched_setaffinity(0, mine)


def _run(result: Result, audio: np.ndarray | None, config: Path, pace: float, write: int) -> Result:
    channels, pin = result.channels, result.pinned
    chunk = write * channels * 4 or CHUNK
    endpoint = free_endpoint()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 1_000_000)
    sub.setsockopt(zmq.RECONNECT_IVL, 10)
    sub.connect(endpoint)
    done = threading.Event()

    def drain() -> None:
        while not done.is_set() or sub.poll(0):
            if not sub.poll(100):
                continue
            try:
                event = decode(sub.recv_multipart())
            except ProtocolError:
                continue
            if isinstance(event, Onset):
                result.onsets[event.source] += 1
            elif isinstance(event, Timbre) and not event.provisional:
                result.finals[event.source] += 1
            elif isinstance(event, Status):
                result.drops = max(result.drops, event.drops)

    listener = threading.Thread(target=drain, name="subscriber")
    listener.start()
    command = [
        str(Path(sys.executable).parent / "timbrecastd"),
        "run",
        "--config",
        str(config),
        "--stdin",
        "--rate",
        str(RATE),
        "--channels",
        str(channels),
        "--format",
        "f32le",
        "--endpoint",
        endpoint,
    ]
    payload = b"" if audio is None else audio.astype("<f4").tobytes()
    halfway = threading.Event()

    with tempfile.TemporaryFile() as stderr:
        started = time.monotonic()
        daemon = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stderr=stderr,
            preexec_fn=None if pin is None else lambda: os.sched_setaffinity(0, {pin}),
        )
        assert daemon.stdin is not None
        pipe = daemon.stdin

        def feed() -> None:
            view = memoryview(payload)
            per_second = RATE * channels * 4 * pace
            try:
                for offset in range(0, len(view), chunk):
                    if pace:
                        time.sleep(max(0.0, offset / per_second - (time.monotonic() - started)))
                    pipe.write(view[offset : offset + chunk])
                    if write:
                        pipe.flush()
                    if offset >= len(view) // 2:
                        halfway.set()
                pipe.close()
            except BrokenPipeError:
                pass
            halfway.set()

        def watch() -> None:
            while daemon.returncode is None:
                peak = high_water_mib(daemon.pid)
                if peak is None:
                    return
                result.rss_mib = max(result.rss_mib, peak)
                thread_seconds(daemon.pid, result.threads)
                time.sleep(0.05)

        writer = threading.Thread(target=feed, name="writer")
        watcher = threading.Thread(target=watch, name="watcher")
        writer.start()
        watcher.start()
        halfway.wait()
        result.libraries = loaded_libraries(daemon.pid)
        writer.join()
        _, status, usage = os.wait4(daemon.pid, 0)
        result.wall_s = time.monotonic() - started
        daemon.returncode = os.waitstatus_to_exitcode(status)
        result.status = daemon.returncode
        watcher.join()
        if result.status != 0:
            stderr.seek(0)
            sys.stderr.write(stderr.read().decode(errors="replace"))
    time.sleep(0.3)  # the last messages, already sent, to reach the subscriber
    done.set()
    listener.join()
    sub.close(linger=0)
    result.cpu_s = usage.ru_utime + usage.ru_stime
    result.ru_maxrss_mib = usage.ru_maxrss / 1024  # KiB on Linux
    return result


def table(
    rows: list[tuple[Result, Result]], repeat: int, pace: float, write: int, block: int
) -> str:
    """One row per channel count: (run, its empty-input start-up run)."""
    # The demo's true hits, merged as the latency benchmark (and the detector) do.
    hits_per_demo = true_attacks(bundled.demo_recordings()[0]).size

    def per_channel(run: Result, startup: Result) -> float:
        return (run.cpu_s - startup.cpu_s) / (run.audio_s * run.channels)

    reference = per_channel(*rows[0])
    ref_rss = rows[0][0].rss_mib
    lines = [
        f"{rows[0][0].audio_s:.1f} s of audio per channel ({repeat} x the demo) at {RATE} Hz "
        f"f32le, piped {f'at {pace:g} x real time' if pace else 'as fast as the daemon reads it'}"
        f"{f' in writes of {write} frames' if write else ''}, read in {block}-frame blocks; "
        "CPU = user + sys of the daemon "
        "process (all threads) minus its start-up run; 1 inference thread; machine shared "
        "with other work, so read the ratios",
        "",
        "| channels | daemon's CPUs | CPU s (start-up) | RTF per channel | x ref "
        "| channels per core "
        "| wall speed x real time | peak RSS MiB (VmHWM) | RSS x ref | ru_maxrss MiB (incl. fork) "
        "| onsets / expected per channel | finals | drops | TensorFlow mapped | exit |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    expected = hits_per_demo * repeat
    for run, startup in rows:
        rtf = per_channel(run, startup)
        speed = run.audio_s / max(run.wall_s - startup.wall_s, 1e-9)
        onsets = sorted(run.onsets.values()) or [0]
        finals = sorted(run.finals.values()) or [0]
        lines.append(
            f"| {run.channels} | {'all' if run.pinned is None else run.pinned} | "
            f"{run.cpu_s:.1f} ({startup.cpu_s:.1f}) | {rtf:.4f} | "
            f"{rtf / reference:.2f} | {1 / rtf:.0f} | {speed:.1f} | {run.rss_mib:.0f} | "
            f"{run.rss_mib / ref_rss:.2f} | {run.ru_maxrss_mib:.0f} | "
            f"{onsets[0]}-{onsets[-1]} / {expected} | "
            f"{finals[0]}-{finals[-1]} | {run.drops} | "
            f"{'YES' if tensorflow_loaded(run.libraries) else 'no'} | {run.status} |"
        )
    if any(min(run.finals.values(), default=0) < expected for run, _ in rows):
        lines += [
            "",
            "Finals below the hits expected: the live queue was full (the stream came faster "
            "than the model kept up) and hits were skipped, counted in the daemon's status; "
            "those rows leave the skipped hits' inference out of their CPU (use --pace).",
        ]
    names = [*THREADS.values(), THREADS_ZMQ, "other"]
    lines += [
        "",
        "CPU by thread, ms per audio second per channel (minus the start-up run's):",
        "",
        "| channels | daemon's CPUs | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for run, startup in rows:
        ran, idle = by_thread(run), by_thread(startup)
        spent = [
            1000 * (ran.get(name, 0.0) - idle.get(name, 0.0)) / (run.audio_s * run.channels)
            for name in names
        ]
        lines.append(
            f"| {run.channels} | {'all' if run.pinned is None else run.pinned} | "
            + " | ".join(f"{ms:.1f}" for ms in spent)
            + " |"
        )
    runtimes = sorted({Path(p).name for run, _ in rows for p in run.libraries})
    lines += ["", f"TFLite libraries mapped mid-run: {', '.join(runtimes) or 'none seen'}"]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/realtime.py",
        usage=USAGE,
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/realtime.py --repeat 10 --channels 1 2 4 8 --out rt.md",
    )
    parser.add_argument(
        "--repeat", type=int, default=10, help="demo repeats per channel, 11.1 s each (default 10)"
    )
    parser.add_argument(
        "--channels",
        type=int,
        nargs="+",
        default=[1, 2, 4, 8],
        help="channel counts; the first is the reference (default 1 2 4 8)",
    )
    parser.add_argument(
        "--detector",
        choices=METHODS,
        default=METHODS[0],
        help=f"onset detection method (default {METHODS[0]})",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=0.0,
        help="pipe the audio at most this many times faster than real time (default 0: as "
        "fast as the daemon reads it; live, a full model queue skips hits, so a row whose "
        "finals fall short of its onsets did less work than a live stream asks)",
    )
    parser.add_argument(
        "--write",
        type=int,
        default=0,
        metavar="FRAMES",
        help="write the stream this many frames at a time, as a live source delivers it "
        "(with --pace 1: a wake-up per block, as live; default 0: a MiB at a time)",
    )
    parser.add_argument(
        "--block",
        type=int,
        default=BLOCK_FRAMES,
        metavar="FRAMES",
        help=f"the daemon's [input] block (default {BLOCK_FRAMES}; a device delivers "
        "blocks of this size, so pair it with --write)",
    )
    parser.add_argument(
        "--pin",
        type=int,
        metavar="CPU",
        help="also run each channel count with the daemon held to this one CPU",
    )
    parser.add_argument("--out", type=Path, help="also write the Markdown table here")
    args = parser.parse_args()
    if args.pin is not None and args.pin not in os.sched_getaffinity(0):
        parser.error(f"--pin {args.pin}: not one of this process's CPUs")

    rows: list[tuple[Result, Result]] = []
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "detector.toml"
        config.write_text(
            f'[input]\nblock = {args.block}\n[detection]\nmethod = "{args.detector}"\n'
        )
        pins = [None] if args.pin is None else [None, args.pin]
        for channels in args.channels:
            audio = stream(channels, args.repeat)
            for pin in pins:
                print(
                    f"{channels} channel(s), CPU {'all' if pin is None else pin}",
                    file=sys.stderr,
                    flush=True,
                )
                startup = one_run(channels, None, config, pin=pin)
                run = one_run(channels, audio, config, args.pace, pin, args.write)
                rows.append((run, startup))
    text = table(rows, args.repeat, args.pace, args.write, args.block)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
