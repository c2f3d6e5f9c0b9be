"""Latency from a hit in the audio to its messages at a subscriber, file paced in real time.

Why: a synth triggered by ``onset`` and shaped by ``timbre`` needs to know how
late those messages are, measured where a client sees them, not inside the
daemon. So this starts the real daemon as a subprocess on the bundled demo
(47 hits, paced in real time as a capture device would deliver it)::

    timbrecastd run --config EMPTY.toml --file groove.flac --endpoint tcp://127.0.0.1:PORT \\
        --sources demo [--full-second]

with a ZeroMQ SUB socket connected *before* the daemon starts, and stamps every
message with ``time.time_ns()`` as it arrives. (The empty ``--config`` keeps a
``/etc/timbrecast/timbrecast.toml`` on the machine out of the measurement.)

What is reported, per message kind (``onset``, provisional ``timbre`` from each
early model, named by the ms after the attack it read, final ``timbre``), pooled
over the repetitions:

* **arrival - unix_ns**: ``unix_ns`` is the daemon's wall-clock time of the
  attack. For a paced file the daemon anchors sample 0 to the wall time at
  which it starts pacing (``FileInput``: block k is handed over when its last
  sample would have arrived from a device), so this is the latency a client
  sees from the attack as the daemon placed it;
* **latency_ms**: the daemon's own figure (attack -> publication), ``timbre`` only;
  arrival - unix_ns - latency_ms is the publisher queue plus ZeroMQ on loopback;
* **from true attack**: arrival minus (anchor + the attack's time in the file,
  from ``groove.onsets.csv`` beside the demo). The anchor is taken from the
  messages (``unix_ns - stream_time_s``), so this adds the onset placement error
  (``stream_time_s`` against the ground truth) to the first figure; it does not
  verify the anchor itself. What does check the clock independently of the
  daemon's claim is the pacing: the slope of arrival time against true attack
  time, which must be 1 s/s if the stream clock runs at wall-clock speed.

The ``--full-second`` variant (each final one-shot waits for a full second of
audio, the seed's behaviour) runs after the default one for comparison, then the
bundled 10 ms and 25 ms early models together (two provisional messages per hit);
ratios are against the default. The machine may be shared: compare ratios, not
absolute milliseconds, across machines.
"""

from __future__ import annotations

import argparse
import csv
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import zmq

from timbrecast.daemon import bundled
from timbrecast.daemon.preprocess import PREROLL_S
from timbrecast.daemon.protocol import Onset, ProtocolError, Timbre, decode

USAGE = "python bench/latency.py [--repeat N] [--out FILE]"
#: True onsets closer than this are one hit (a kick and a hi-hat struck together,
#: a flam), as in bench/onsets.py and at the detector's default retrigger guard.
SAME_HIT_S = 0.030
TWO_EARLY = f"{bundled.EARLY_10MS_MODEL},{bundled.EARLY_MODEL}"
VARIANTS: dict[str, list[str]] = {
    "default": [],
    "--full-second": ["--full-second"],
    "10 and 25 ms early models": ["--early-model", TWO_EARLY],
}


@dataclass
class Run:
    """What one daemon run delivered to the subscriber."""

    arrival_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    daemon_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    transit_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    from_true_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    placement_ms: list[float] = field(default_factory=list)
    anchor_spread_us: float = 0.0
    pace_slope: float = float("nan")
    hits: int = 0
    undecodable: int = 0
    status: int = 0


def free_endpoint() -> str:
    """A loopback TCP port nobody listens on now (the daemon binds it a moment later)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def true_attacks(demo: Path) -> np.ndarray:
    """Attack times (s) of the demo's hits from the ground truth written beside it.

    The CSV lists every instrument; notes within ``SAME_HIT_S`` (struck together,
    or a flam) are one hit to a single-channel detector, placed on the earliest.
    """
    truth = demo.with_name(demo.stem + ".onsets.csv")
    with truth.open() as handle:
        times = np.sort([float(row["onset_s"]) for row in csv.DictReader(handle)])
    return times[np.r_[True, np.diff(times) > SAME_HIT_S]]


def kind_of(event: Onset | Timbre) -> str:
    """``onset``, ``final timbre``, or ``provisional timbre, N ms`` (N: what its model
    read after the attack, from the audio it was given less the pre-roll)."""
    if not isinstance(event, Timbre):
        return "onset"
    if not event.provisional:
        return "final timbre"
    heard_ms = (event.audio_s - min(event.stream_time_s, PREROLL_S)) * 1000.0
    return f"provisional timbre, {heard_ms:.0f} ms"


def kinds(runs: list[Run]) -> list[str]:
    """The kinds of message the runs delivered, in the order a hit's arrive."""
    seen = {kind for run in runs for kind in run.arrival_ms}
    provisional = sorted((k for k in seen if k.startswith("provisional")), key=_ms)
    return ["onset", *provisional, "final timbre"]


def _ms(kind: str) -> float:
    return float(kind.rsplit(", ", 1)[1].removesuffix(" ms"))


def one_run(demo: Path, truth: np.ndarray, flags: list[str], config: Path) -> Run:
    """One daemon over the demo; every onset and timbre message, stamped on arrival."""
    endpoint = free_endpoint()
    sub = zmq.Context.instance().socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"onset/")
    sub.setsockopt(zmq.SUBSCRIBE, b"timbre/")
    sub.setsockopt(zmq.RCVHWM, 100_000)
    sub.setsockopt(zmq.RECONNECT_IVL, 10)
    sub.connect(endpoint)
    command = [
        str(Path(sys.executable).parent / "timbrecastd"),
        "run",
        "--config",
        str(config),
        "--file",
        str(demo),
        "--endpoint",
        endpoint,
        "--sources",
        "demo",
        *flags,
    ]
    received: list[tuple[int, Onset | Timbre]] = []
    run = Run()
    with tempfile.TemporaryFile() as stderr:
        daemon = subprocess.Popen(command, stderr=stderr)
        while True:
            if sub.poll(200):
                frames = sub.recv_multipart()
                arrived = time.time_ns()
                try:
                    event = decode(frames)
                except ProtocolError:
                    run.undecodable += 1
                    continue
                if isinstance(event, Onset | Timbre):
                    received.append((arrived, event))
            elif daemon.poll() is not None:
                break
        run.status = daemon.returncode
        if run.status != 0:
            stderr.seek(0)
            sys.stderr.write(stderr.read().decode(errors="replace"))
    sub.close(linger=0)

    onsets = [(t, e) for t, e in received if isinstance(e, Onset)]
    run.hits = len(onsets)
    if not onsets:
        return run
    # The daemon's anchor: the wall time it gives to sample 0 of the file.
    anchors = np.array([e.unix_ns - e.stream_time_s * 1e9 for _, e in onsets])
    anchor = float(np.median(anchors))
    run.anchor_spread_us = float(anchors.max() - anchors.min()) / 1e3
    matched = np.array([truth[np.argmin(np.abs(truth - e.stream_time_s))] for _, e in onsets])
    run.placement_ms = [
        (e.stream_time_s - s) * 1e3 for (_, e), s in zip(onsets, matched, strict=True)
    ]
    if len(onsets) > 2:
        arrivals_s = np.array([t for t, _ in onsets], dtype=np.float64) / 1e9
        run.pace_slope = float(np.polyfit(matched, arrivals_s - arrivals_s[0], 1)[0])
    for arrived, event in received:
        kind = kind_of(event)
        attack = truth[np.argmin(np.abs(truth - event.stream_time_s))]
        run.arrival_ms[kind].append((arrived - event.unix_ns) / 1e6)
        run.from_true_ms[kind].append((arrived - anchor - attack * 1e9) / 1e6)
        if isinstance(event, Timbre):
            run.daemon_ms[kind].append(event.latency_ms)
            run.transit_ms[kind].append((arrived - event.unix_ns) / 1e6 - event.latency_ms)
    return run


def stats(values: list[float]) -> tuple[str, str]:
    """Median and p95 as table cells (a dash when there is nothing)."""
    if not values:
        return "-", "-"
    return f"{np.median(values):.1f}", f"{np.percentile(values, 95):.1f}"


def pooled(runs: list[Run], name: str) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for run in runs:
        for kind, values in getattr(run, name).items():
            out[kind] += values
    return out


def table(results: dict[str, list[Run]], truth: np.ndarray, repeat: int) -> str:
    """The latency table, then the checks that say how far to trust it."""
    reference = pooled(results["default"], "arrival_ms")
    lines = [
        f"bundled demo ({truth.size} hits) paced in real time, {repeat} run(s) per variant, "
        "pooled; ms at a loopback subscriber; machine shared with other work, so read "
        "the ratios",
        "",
        "| variant | message | n | arrival - unix_ns median | p95 | daemon latency_ms median "
        "| p95 | transit median | from true attack median | p95 | median x default |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, runs in results.items():
        arrival, daemon = pooled(runs, "arrival_ms"), pooled(runs, "daemon_ms")
        transit, true = pooled(runs, "transit_ms"), pooled(runs, "from_true_ms")
        for kind in kinds(runs):
            ratio = "-"
            if arrival[kind] and reference[kind]:
                ratio = f"{np.median(arrival[kind]) / np.median(reference[kind]):.2f}"
            transit_cell = f"{np.median(transit[kind]):.2f}" if transit[kind] else "-"
            lines.append(
                f"| {variant} | {kind} | {len(arrival[kind])} | "
                f"{' | '.join(stats(arrival[kind]))} | {' | '.join(stats(daemon[kind]))} | "
                f"{transit_cell} | {' | '.join(stats(true[kind]))} | {ratio} |"
            )
    lines += [
        "",
        "| variant | onsets per run (expected) | placement error median / max abs ms "
        "| anchor spread us | pacing slope s/s (min-max) | undecodable | exit |",
        "|---|---|---|---|---|---|---|",
    ]
    for variant, runs in results.items():
        placement = np.abs([v for run in runs for v in run.placement_ms])
        signed = [v for run in runs for v in run.placement_ms]
        slopes = [run.pace_slope for run in runs]
        lines.append(
            f"| {variant} | {', '.join(str(r.hits) for r in runs)} ({truth.size}) | "
            f"{np.median(signed):.2f} / {placement.max():.2f} | "
            f"{max(r.anchor_spread_us for r in runs):.1f} | "
            f"{min(slopes):.5f}-{max(slopes):.5f} | {sum(r.undecodable for r in runs)} | "
            f"{', '.join(str(r.status) for r in runs)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python bench/latency.py",
        usage=USAGE,
        description=__doc__.split("\n\n")[0],
        epilog="example: python bench/latency.py --repeat 3 --out latency.md",
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (default 3)")
    parser.add_argument("--out", type=Path, help="also write the Markdown tables here")
    args = parser.parse_args()

    demo = bundled.demo_recordings()[0]
    truth = true_attacks(demo)
    results: dict[str, list[Run]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        config = Path(scratch) / "empty.toml"
        config.write_text("")
        for variant, flags in VARIANTS.items():
            results[variant] = []
            for index in range(args.repeat):
                print(f"{variant} run {index + 1}/{args.repeat}", file=sys.stderr, flush=True)
                results[variant].append(one_run(demo, truth, flags, config))
    text = table(results, truth, args.repeat)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
