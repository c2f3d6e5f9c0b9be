"""`make test-arm64`, the release check on an emulated Raspberry Pi: its comparison of
two runs here, on real outputs of this machine's daemon, and the whole target when
asked for (TIMBRECAST_ARM64=1; root, binfmt_misc and 15 minutes of emulation)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PARITY, REPO, free_endpoint, script
from timbrecast.daemon import bundled

COMPARE = REPO / ".ci" / "compare_runs.py"


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This machine's outputs of the target's commands, as label "here"."""
    out = tmp_path_factory.mktemp("arm64")
    clips = out / "clips"
    clips.mkdir()
    for clip in sorted(PARITY.glob("*.wav"))[:6]:
        shutil.copy(clip, clips / clip.name)
    groove = bundled.demo_recordings()[0]
    daemon = script("timbrecastd")
    for args, name in (
        (["demo", "--fast", "--endpoint", free_endpoint()], "demo.txt"),
        (["analyze", str(groove)], "groove.jsonl"),
        (["analyze", "--oneshot", str(clips)], "oneshot.jsonl"),
    ):
        with (out / f"here-{name}").open("w") as handle:
            done = subprocess.run(
                [daemon, *args], stdout=handle, stderr=subprocess.PIPE, timeout=300
            )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    return out


def compare(out: Path, other: str, reference: str = "here") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(COMPARE), str(out), reference, other],
        capture_output=True,
        text=True,
        timeout=60,
    )


def copy_as(out: Path, label: str) -> None:
    for name in ("demo.txt", "groove.jsonl", "oneshot.jsonl"):
        shutil.copy(out / f"here-{name}", out / f"{label}-{name}")


def test_the_same_outputs_compare_equal(runs: Path) -> None:
    copy_as(runs, "same")
    assert "timbre demo #46" in (runs / "here-demo.txt").read_text()
    done = compare(runs, "same")
    assert done.returncode == 0, done.stderr


def test_a_descriptor_beyond_int8_rounding_is_caught(runs: Path) -> None:
    copy_as(runs, "moved")
    hits = [json.loads(line) for line in (runs / "moved-groove.jsonl").read_text().splitlines()]
    hits[5]["descriptors"]["warmth"] += 0.6
    (runs / "moved-groove.jsonl").write_text("".join(json.dumps(h) + "\n" for h in hits))
    done = compare(runs, "moved")
    assert done.returncode == 1 and "groove groove.flac #5 warmth" in done.stderr, done.stderr


def test_a_lost_hit_and_a_changed_demo_line_are_caught(runs: Path) -> None:
    copy_as(runs, "lost")
    lines = (runs / "lost-oneshot.jsonl").read_text().splitlines()
    (runs / "lost-oneshot.jsonl").write_text("\n".join(lines[1:]) + "\n")
    demo = (runs / "lost-demo.txt").read_text().replace("timbre demo #3 ", "timbre demo #99 ", 1)
    (runs / "lost-demo.txt").write_text(demo)
    done = compare(runs, "lost")
    assert done.returncode == 1, done.stderr
    assert f"oneshot: {len(lines) - 1} hits, reference {len(lines)}" in done.stderr
    assert "demo: events" in done.stderr


def test_a_moved_onset_or_descriptor_in_the_demo_is_caught(runs: Path) -> None:
    copy_as(runs, "demo")
    lines = (runs / "demo-demo.txt").read_text().splitlines()
    onset = next(i for i, line in enumerate(lines) if line.startswith("onset  demo #5 "))
    timbre = next(i for i, line in enumerate(lines) if line.startswith("timbre demo #7 "))
    seconds = float(lines[onset].split(" at ")[1].split()[0])
    lines[onset] = lines[onset].replace(f"{seconds:7.3f}", f"{seconds + 0.001:7.3f}")
    lines[timbre] = re.sub(
        r"warmt\s+(\S+)", lambda m: f"warmt {float(m.group(1)) + 0.7:5.1f}", lines[timbre]
    )
    (runs / "demo-demo.txt").write_text("\n".join(lines) + "\n")
    done = compare(runs, "demo")
    assert done.returncode == 1, done.stderr
    assert "demo ('onset', 'demo', 5)" in done.stderr
    assert "demo ('timbre', 'demo', 7)" in done.stderr


def test_each_early_models_line_is_compared_with_its_own(runs: Path) -> None:
    """With two early models a hit has two early lines: a change in the first must not
    hide behind the second."""
    lines = (runs / "here-demo.txt").read_text().splitlines()
    early = next(i for i, line in enumerate(lines) if line.startswith("early  demo #4 "))
    heard = re.search(r", (\d+) ms of the hit\)$", lines[early])
    assert heard, lines[early]
    later = lines[early].replace(f"{heard.group(1)} ms of the hit)", "1 ms of the hit)")
    both = [*lines[: early + 1], later, *lines[early + 1 :]]
    copy_as(runs, "two")
    copy_as(runs, "shifted")
    (runs / "two-demo.txt").write_text("\n".join(both) + "\n")
    both[early] = re.sub(
        r"warmt\s+(\S+)", lambda m: f"warmt {float(m.group(1)) + 0.7:5.1f}", both[early]
    )
    (runs / "shifted-demo.txt").write_text("\n".join(both) + "\n")
    done = compare(runs, "shifted", reference="two")
    assert done.returncode == 1, done.stderr
    assert f"demo ('early {heard.group(1)} ms', 'demo', 4)" in done.stderr, done.stderr


@pytest.mark.skipif(
    os.environ.get("TIMBRECAST_ARM64") != "1",
    reason="the emulated Pi run takes 15 minutes as root: TIMBRECAST_ARM64=1 (before a release)",
)
def test_make_test_arm64() -> None:
    done = subprocess.run(
        ["make", "test-arm64"], cwd=REPO, capture_output=True, text=True, timeout=3600
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "test-arm64: passed" in done.stdout
