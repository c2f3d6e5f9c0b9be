"""``timbrecastd`` as a user meets it."""

from __future__ import annotations

import subprocess

from tests.conftest import script
from timbrecast.daemon import bundled
from timbrecast.daemon.inference import Model


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("timbrecastd"), *args], capture_output=True, text=True, timeout=60
    )


def test_help_teaches_with_examples_and_exit_statuses() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "examples:" in result.stdout
    assert "78 configuration" in result.stdout


def test_info_shows_the_contract_and_the_runtime() -> None:
    result = run("info")
    assert result.returncode == 0, result.stderr
    assert "16000 Hz mono, 16000 samples" in result.stdout
    assert "hardness" in result.stdout and "boominess" in result.stdout
    assert "ai-edge-litert" in result.stdout
    assert "demo recording: groove.flac (11.1 s, 44100 Hz, 1 ch)" in result.stdout
    shipped = bundled.model()
    assert shipped is not None
    assert f"  {shipped.name}: model {Model(shipped).contract.model_id}, labels: " in result.stdout
