"""Every shell block of the documentation, run as written on the installed wheel.

The blocks run from a scratch folder outside the checkout, with the commands of
a venv that has the wheel (not an editable install) with every extra, a home of
their own, and the small inputs the pages name: ``take.wav`` (the bundled demo
groove, 47 hits), ``~/my-kits`` (real and synthetic one-shots in two kits),
``my-ratings.csv`` (a few of them rated by hand) and ``examples/``. How each
block runs is said in a comment above it (``tests/docs.py``).
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import soundfile

from tests.conftest import PARITY, REPO, Installed
from tests.docs import PAGES, Block, all_blocks, blocks
from timbrecast.daemon import bundled
from timbrecast.daemon.contract import DESCRIPTORS

BLOCKS = all_blocks()
#: How long a ``start`` block's commands must stay up to count as started.
UP_S = 3.0


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    audio, rate = soundfile.read(bundled.demo_recordings()[0])
    soundfile.write(tmp_path / "take.wav", audio, rate)
    for kit, pattern in (("acoustic", "gmrockkit-*.wav"), ("synth", "synth-*-0.wav")):
        (tmp_path / "my-kits" / kit).mkdir(parents=True)
        for clip in sorted(PARITY.glob(pattern)):
            shutil.copy(clip, tmp_path / "my-kits" / kit / clip.name)
    rated = sorted((tmp_path / "my-kits" / "acoustic").glob("*.wav"))[:3]
    with (tmp_path / "my-ratings.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", *DESCRIPTORS])
        for index, path in enumerate(rated):
            writer.writerow([path.relative_to(tmp_path), *(10 * index + k for k in range(7))])
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    return tmp_path


def test_every_page_has_its_blocks_found() -> None:
    """A page whose blocks the reader missed would be a page never tested."""
    for page in PAGES:
        assert page.read_text().count("```sh\n") == len(blocks(page)), page


def test_a_skipped_block_says_why() -> None:
    for block in BLOCKS:
        if block.mode == "skip":
            assert len(block.reason) > 20, f"{block.name}: skip needs its reason"


def _start(block: Block, installed: Installed, scratch: Path) -> None:
    """Each command up for ``UP_S`` seconds, then SIGTERM: each must have stayed up and
    end cleanly (0; a pipeline's shell may end by the signal)."""
    processes = []
    try:
        for command in block.commands():
            processes.append(
                subprocess.Popen(
                    ["bash", "-c", command],
                    cwd=scratch,
                    env=installed.env(scratch),
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                    text=True,
                    start_new_session=True,
                )
            )
            time.sleep(0.3)
        time.sleep(UP_S)
        for command, process in zip(block.commands(), processes, strict=True):
            assert process.poll() is None, f"{command!r} ended: {process.stderr.read()[-2000:]}"
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
    for command, process in zip(block.commands(), processes, strict=True):
        status = process.wait(15)
        # A pipeline's shell is ended by the signal itself; a command must exit 0.
        ended = (-signal.SIGTERM, 128 + signal.SIGTERM) if "|" in command else ()
        assert status == 0 or status in ended, f"{command!r} exited {status}"


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.mode != "skip"], ids=lambda b: b.name)
def test_a_documented_block_works_as_written(
    block: Block, installed: Installed, scratch: Path
) -> None:
    if block.mode == "start":
        _start(block, installed, scratch)
        return
    # Background commands (`daemon &`) must succeed too, not only the last line.
    script = "set -e -o pipefail\n" + block.script + "\nfor job in $(jobs -p); do wait $job; done\n"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=scratch,
        env=installed.env(scratch),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, f"{block.name}:\n{block.script}\n{result.stderr[-4000:]}"
