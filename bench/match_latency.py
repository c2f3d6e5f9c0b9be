"""Hit to sound: how long from a drum hit to its nearest sample at the audio output.

Why: issue 18 asks what a drummer hears, not what the matcher computes. The
chain is the live one, through PulseAudio (started if needed): the demo groove
is played into a null sink, `timbrecastd run` captures that sink's monitor (as a
microphone), publishes each hit's provisional timbre (early model) and final
one, `timbrecast-match --play` picks the nearest of the 40 parity one-shots
(tagged by the bundled model) on the first of them and plays it into a second
null sink. The matcher reports, per hit, the time from the attack (the daemon's
clock, corrected for the input's latency) to the sample's first frame at the
output (PortAudio's DAC time for that block): the median and p95 of each round.
`--when final` beside the default shows what the provisional timbre buys.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PARITY = ROOT / "tests" / "fixtures" / "teacher-parity"
SUMMARY = re.compile(r"played (\d+) samples .*median ([\d.]+) ms, p95 ([\d.]+) ms")


def sink() -> tuple[str, str]:
    """A fresh null sink (name, module) on the PulseAudio server, started if needed."""
    if subprocess.run(["pulseaudio", "--check"]).returncode != 0:
        subprocess.run(
            ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit"],
            check=True,
        )
        time.sleep(1.0)
    name = f"tcbench_{uuid.uuid4().hex[:8]}"
    module = subprocess.run(
        ["pactl", "load-module", "module-null-sink", f"sink_name={name}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return name, module


def one_round(
    library: Path, demo: Path, when: str, port: int, block: int
) -> tuple[int, float, float]:
    """(played, median ms, p95 ms) of one pass of the demo."""
    source, source_module = sink()
    output, output_module = sink()
    endpoint = f"tcp://127.0.0.1:{port}"
    started: list[subprocess.Popen] = []
    try:
        matcher = subprocess.Popen(
            [
                *(str(BIN / "timbrecast-match"), str(library), "--play", "--device", "pulse"),
                *("--preload", "--quiet", "--when", when, "--connect", endpoint),
                *("--silence", "0", "--keep-open", "--block", str(block)),
            ],
            env=dict(os.environ, PULSE_SINK=output),
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(matcher)
        daemon = subprocess.Popen(
            [
                *(str(BIN / "timbrecastd"), "run", "--device", "pulse"),
                *("--endpoint", endpoint, "--sources", "pad"),
            ],
            env=dict(os.environ, PULSE_SOURCE=f"{source}.monitor"),
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(daemon)
        time.sleep(4.0)
        subprocess.run(["paplay", f"--device={source}", str(demo)], check=True, timeout=60)
        time.sleep(2.0)
        daemon.terminate()
        daemon.communicate(timeout=15)
        matcher.terminate()
        _, matcher_err = matcher.communicate(timeout=15)
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
        for module in (source_module, output_module):
            subprocess.run(["pactl", "unload-module", module], capture_output=True)
    found = SUMMARY.search(matcher_err)
    if found is None:
        raise SystemExit(f"no summary from the matcher:\n{matcher_err[-2000:]}")
    return int(found.group(1)), float(found.group(2)), float(found.group(3))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3, help="passes of the demo per setting")
    parser.add_argument("--block", type=int, default=512, help="the matcher's --block (frames)")
    args = parser.parse_args()
    demo = next((ROOT / "daemon" / "demo").glob("*.flac"))
    with tempfile.TemporaryDirectory() as scratch:
        library = Path(scratch) / "library.jsonl"
        subprocess.run(
            [
                str(BIN / "timbrecastd"),
                "analyze",
                "--oneshot",
                str(PARITY),
                "--jsonl",
                str(library),
            ],
            check=True,
            capture_output=True,
        )
        analyzed = subprocess.run(
            [str(BIN / "timbrecastd"), "analyze", str(demo)],
            check=True,
            capture_output=True,
            text=True,
        )
        hits = len(analyzed.stdout.splitlines())
        print("| matched on | round | hits in the file | samples played | median ms | p95 ms |")
        print("|---|---|---|---|---|---|")
        port = 5700
        for when in ("first", "final"):
            for number in range(1, args.rounds + 1):
                port += 1
                played, median, p95 = one_round(library, demo, when, port, args.block)
                label = "provisional" if when == "first" else "final"
                print(f"| {label} | {number} | {hits} | {played} | {median:.1f} | {p95:.1f} |")


if __name__ == "__main__":
    main()
