"""The edge install: ``pip install .`` with no extras gives a working ``timbrecastd``."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_plain_install_runs_the_daemon_without_tensorflow(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".venv", ".git", "*.egg-info"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", str(source)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    listed = subprocess.run(
        [str(venv / "bin" / "pip"), "list", "--format=freeze"], capture_output=True, text=True
    ).stdout.lower()
    for heavy in ("tensorflow", "keras", "librosa", "timbral"):
        assert heavy not in listed, f"{heavy} came with the edge install"
    result = subprocess.run(
        [str(venv / "bin" / "timbrecastd"), "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "usage: timbrecastd" in result.stdout
    info = subprocess.run(
        [str(venv / "bin" / "timbrecastd"), "info"], capture_output=True, text=True, timeout=60
    )
    assert info.returncode == 0, info.stderr
    assert "TFLite runtimes installed: ai-edge-litert" in info.stdout
