"""Latency from a hit in the audio to its messages at a subscriber.

``timbrecastd run --file`` plays the bundled demo (48 hits) in real time, as a
live input would deliver it, and a ZeroMQ subscriber on loopback timestamps each
message on arrival. Latency is arrival minus the message's ``unix_ns``: the
wall-clock time at which the daemon heard the hit's attack (for a paced file,
when that sample was played). Reported for ``onset``, provisional ``timbre``
(the 25 ms early estimate) and final ``timbre`` messages, median and p95, for
each block size, with ratios against the first (the reference run).

    python bench/latency.py --repeat 3 --blocks 128 256
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import zmq

from timbrecast.daemon import bundled
from timbrecast.daemon.protocol import Onset, Timbre, decode

KINDS = ("onset", "provisional timbre", "final timbre")


def free_endpoint() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def one_run(block: int) -> dict[str, list[float]]:
    endpoint = free_endpoint()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 100_000)
    sub.connect(endpoint)
    daemon = subprocess.Popen(
        [str(Path(sys.executable).parent / "timbrecastd"), "run", "--file",
         str(bundled.demo_recordings()[0]), "--endpoint", endpoint, "--block", str(block)],
        stderr=subprocess.DEVNULL,
    )
    latencies: dict[str, list[float]] = {kind: [] for kind in KINDS}
    while True:
        if sub.poll(100):
            frames = sub.recv_multipart()
            arrived = time.time_ns()
            event = decode(frames)
            if isinstance(event, Onset):
                latencies["onset"].append((arrived - event.unix_ns) / 1e6)
            elif isinstance(event, Timbre):
                kind = "provisional timbre" if event.provisional else "final timbre"
                latencies[kind].append((arrived - event.unix_ns) / 1e6)
        elif daemon.poll() is not None:
            break
    sub.close(linger=0)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/latency.py --repeat 3 --blocks 128 256",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per block size (default 3)")
    parser.add_argument(
        "--blocks", type=int, nargs="+", default=[128, 256], help="block sizes; the first is "
        "the reference (default 128 256)"
    )
    parser.add_argument("--out", help="also write the Markdown table here")
    args = parser.parse_args()

    pooled = {}
    for block in args.blocks:
        runs = [one_run(block) for _ in range(args.repeat)]
        pooled[block] = {kind: [v for run in runs for v in run[kind]] for kind in KINDS}
    reference = pooled[args.blocks[0]]
    lines = [
        f"bundled demo paced in real time, {args.repeat} runs per block size; ms from the "
        "attack to arrival at a loopback subscriber",
        "",
        "| block | message | n | median ms | p95 ms | median x reference |",
        "|---|---|---|---|---|---|",
    ]
    for block, latencies in pooled.items():
        for kind in KINDS:
            values = np.asarray(latencies[kind])
            median = float(np.median(values))
            ratio = median / float(np.median(reference[kind]))
            lines.append(
                f"| {block} | {kind} | {values.size} | {median:.1f} | "
                f"{np.percentile(values, 95):.1f} | {ratio:.2f} |"
            )
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
