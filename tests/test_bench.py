"""The benchmark scripts this session's figures came from still run (tiny inputs:
the figures themselves are made by hand, as docs/benchmarks.md says)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

PARITY = REPO / "tests" / "fixtures" / "teacher-parity"
EARLY = REPO / "daemon" / "models" / "early-25ms-int8.tflite"
CPU = max(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("script", "args", "row"),
    [
        ("onset_cpu.py", ["--repeat", "1", "--rounds", "1"], "| ours, learned |"),
        ("onset_cpu.py", ["--repeat", "1", "--rounds", "1", "--live"], "paced in real time"),
        ("stages.py", ["--repeat", "1"], "| **whole pipeline** |"),
        ("int8_float.py", ["--rounds", "1", "--hits", "2"], "| dynamic-range (int8 weights) |"),
        ("match.py", ["--sizes", "200", "--queries", "20", "--rounds", "1"], "| 200 |"),
        ("onset_snr.py", ["--grooves", "2", "--kits", "validation"], "| all |"),
        (
            "onsets.py",
            ["--grooves", "2", "--kits", "validation", "--only", "ours", "--wavs", "{tmp}"],
            "| overall | ours |",
        ),
        (
            "oneshots.py",
            [str(PARITY), "--limit", "3", "--jobs", "1", "--reference", str(EARLY)],
            "| early-int8-",
        ),
        ("capture.py", ["--block", "256", "--silence", "2", "--repeat", "1"], "| 256 | demo x 1 |"),
        ("label_gap.py", [str(PARITY), "--files", "1", "--jobs", "1"], "| resampling it to 16"),
        ("inference.py", ["--batch", "--repeats", "1"], "| early 10 ms | 8 |"),
        (
            "latency.py",
            ["--repeat", "1"],
            "| 10 and 25 ms early models | provisional timbre, 10 ms |",
        ),
        (
            "realtime.py",
            [
                "--repeat",
                "1",
                "--channels",
                "1",
                "--pace",
                "8",
                "--write",
                "1024",
                "--block",
                "256",
                "--pin",
                str(CPU),
            ],
            f"| 1 | {CPU} |",
        ),
    ],
)
def test_a_bench_script_runs(script: str, args: list[str], row: str, tmp_path: Path) -> None:
    if script == "onsets.py":
        pytest.importorskip("mir_eval", reason="bench/onsets.py scores with mir_eval")
    if script in ("onset_cpu.py", "onset_snr.py"):
        pytest.importorskip("aubio", reason=f"bench/{script} compares with aubio")
    if script in ("oneshots.py", "label_gap.py"):
        pytest.importorskip("timbral_models", reason=f"bench/{script} runs the teacher")
    if script == "int8_float.py":
        pytest.importorskip("tensorflow", reason="bench/int8_float.py converts (train extra)")
    done = subprocess.run(
        [sys.executable, str(REPO / "bench" / script), *(a.format(tmp=tmp_path) for a in args)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert row in done.stdout
