"""docs/api.md as written: every python block runs, beside a take and a sample."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.conftest import PARITY, REPO
from timbrecast.daemon import Hit, analyze, bundled
from timbrecast.daemon.contract import DESCRIPTORS

PAGE = REPO / "docs" / "api.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.S | re.M)


@pytest.fixture(scope="module")
def take(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("api")
    audio, rate = soundfile.read(bundled.demo_recordings()[0])
    soundfile.write(folder / "take.wav", audio, rate)
    (folder / "samples").mkdir()
    shutil.copy(PARITY / "gmrockkit-Kick-Softest.wav", folder / "samples" / "kick.wav")
    return folder / "take.wav"


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_each_block_of_the_page_runs(block: str, take: Path) -> None:
    scripts = str(Path(sys.executable).parent)  # timbrecastd, as an installed user has it
    env = {**os.environ, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    done = subprocess.run(
        [sys.executable, "-c", block],
        cwd=take.parent,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stderr


def test_analyze_gives_what_the_command_line_writes(take: Path) -> None:
    import json

    hits = analyze(take)
    assert all(isinstance(hit, Hit) for hit in hits) and len(hits) == 47
    assert [hit.seq for hit in hits] == list(range(47))
    assert all(list(hit.descriptors) == list(DESCRIPTORS) for hit in hits)
    written = subprocess.run(
        [sys.executable, "-m", "timbrecast.daemon.cli", "analyze", str(take)],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout.splitlines()
    records = [json.loads(line) for line in written]
    assert [r["onset_s"] for r in records] == [round(h.onset_s, 6) for h in hits]
    assert [r["descriptors"] for r in records] == [
        {k: round(v, 3) for k, v in h.descriptors.items()} for h in hits
    ]


def test_an_array_and_a_oneshot(take: Path) -> None:
    samples, rate = soundfile.read(take, dtype="float32")
    assert [h.onset_s for h in analyze(samples, rate)] == [h.onset_s for h in analyze(take)]
    with pytest.raises(ValueError, match="sample_rate"):
        analyze(np.zeros(100))
    kick = analyze(take.parent / "samples" / "kick.wav", oneshot=True)
    assert len(kick) == 1 and kick[0].source == "kick" and kick[0].onset_s < 0.01
