"""The project as a user gets it: a wheel installed (not editable) in a fresh venv,
run from outside the checkout; ``make demo`` from a copy of it; the platforms the
edge install claims."""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.conftest import LOCAL_STATE, REPO, Installed, install

DEMO_HITS = 47


def run(command: list[str], installed: Installed, cwd: Path, timeout: float = 600):
    result = subprocess.run(
        command,
        cwd=cwd,
        env=installed.env(cwd),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, f"{command}: {result.stderr[-3000:]}"
    return result


def test_the_wheel_builds_quietly_and_carries_its_data(wheel: tuple[Path, str]) -> None:
    path, log = wheel
    assert "would be ignored" not in log.lower()
    names = set(zipfile.ZipFile(path).namelist())
    for data in (
        "timbrecast/daemon/models/seven-filters-int8.tflite",
        "timbrecast/daemon/models/early-25ms-int8.tflite",
        "timbrecast/daemon/models/early-10ms-int8.tflite",
        "timbrecast/daemon/models/mel-cnn-int8.tflite",
        "timbrecast/daemon/models/onsets-int8.tflite",
        "timbrecast/daemon/demo/groove.flac",
        "timbrecast/trainer/data/corpus.jsonl.gz",
        "timbrecast/trainer/data/split.json",
    ):
        assert data in names


@pytest.mark.slow
def test_the_edge_install_runs_the_demo_without_tensorflow(
    wheel: tuple[Path, str], tmp_path: Path
) -> None:
    edge = install(wheel[0], tmp_path / "venv")
    listed = run([str(edge.bin / "pip"), "list", "--format=freeze"], edge, tmp_path).stdout
    for heavy in ("tensorflow", "keras", "librosa", "timbral"):
        assert heavy not in listed.lower(), f"{heavy} came with the edge install"
    info = run([str(edge.bin / "timbrecastd"), "info"], edge, tmp_path).stdout
    assert "TFLite runtimes installed: ai-edge-litert" in info
    # No live extra: the device check says what is missing, with "not installed" (69).
    check = subprocess.run(
        [str(edge.bin / "timbrecastd"), "check"],
        cwd=tmp_path,
        env=edge.env(tmp_path),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 69, check.stdout + check.stderr
    assert "MISSING  device: " in check.stdout and "pyaudio" in check.stdout.lower()
    demo = run([str(edge.bin / "timbrecastd"), "demo", "--fast"], edge, tmp_path).stdout
    lines = demo.splitlines()
    assert sum(line.startswith("onset ") for line in lines) == DEMO_HITS
    assert sum(line.startswith("timbre ") for line in lines) == DEMO_HITS
    assert lines[-1] == f"end    demo end-of-input after {DEMO_HITS} hits"


@pytest.mark.slow
def test_the_trainer_works_from_its_wheel(installed: Installed, tmp_path: Path) -> None:
    """The commands that failed from a regular install: the corpus is in the wheel."""
    trainer = str(installed.bin / "trainer")
    count = "from timbrecast.trainer import corpus; print(len(corpus.committed_entries()))"
    committed = run([str(installed.bin / "python"), "-c", count], installed, tmp_path)
    assert int(committed.stdout) > 10_000
    build = [trainer, "dataset", "build", "--jobs", "2", "--synthetic", "20", "--copies", "0"]
    built = run([*build, "--quiet"], installed, tmp_path).stderr
    assert "0 differ and 0 are new; 0 labelled now" in built
    info = run([trainer, "dataset", "info"], installed, tmp_path)
    assert "hydrogen-drumkits" in info.stdout
    trained = run([trainer, "train", "--epochs", "1"], installed, tmp_path)
    assert "best validation MAE" in trained.stderr
    assert (tmp_path / "runs" / "latest" / "model.keras").is_file()
    # One calibration draw: the six of the default cost 25 s here, and
    # test_architectures scores several draws.
    export = [trainer, "export", "--tflite", "--calibration-draws", "1", "--out", "mine.tflite"]
    exported = run(export, installed, tmp_path)
    # The terminal shows the command's own lines, not TensorFlow's log or traced signatures.
    for said in (trained, exported):
        for noise in ("E0000", "I0000", "W0000", "TensorSpec", "oneDNN", "Warning"):
            assert noise not in said.stdout + said.stderr
    assert exported.stdout == ""
    assert exported.stderr.startswith("wrote mine.tflite (") and exported.stderr.count("\n") == 1
    imports = "import pyaudio, pythonosc, mido, rich, tensorflow, timbral_models"
    run([str(installed.bin / "python"), "-c", imports], installed, tmp_path)


@pytest.mark.slow
def test_make_demo_from_a_copy_of_the_checkout(tmp_path: Path) -> None:
    clone = tmp_path / "timbrecast"
    shutil.copytree(REPO, clone, ignore=LOCAL_STATE)
    # Under `make test` this runs inside make: its flags would make the inner make
    # print "Entering/Leaving directory" lines a user's `make demo` does not.
    env = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")}
    result = subprocess.run(
        ["make", "demo", f"PYTHON={sys.base_prefix}/bin/python3"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert sum(line.startswith("onset ") for line in lines) == DEMO_HITS
    assert lines[-1] == f"end    demo end-of-input after {DEMO_HITS} hits"


#: Where the edge install must bring a TFLite runtime (README: "tested where").
PLATFORMS = {
    "linux-x86_64": (
        {"platform_system": "Linux", "platform_machine": "x86_64"},
        "manylinux_2_27_x86_64",
    ),
    "linux-aarch64": (
        {"platform_system": "Linux", "platform_machine": "aarch64"},
        "manylinux_2_27_aarch64",
    ),
    "macos-arm64": (
        {"platform_system": "Darwin", "platform_machine": "arm64"},
        "macosx_12_0_arm64",
    ),
    "windows-amd64": ({"platform_system": "Windows", "platform_machine": "AMD64"}, "win_amd64"),
}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_the_edge_install_brings_a_runtime_with_wheels_on(
    wheel: tuple[Path, str], platform: str, tmp_path: Path
) -> None:
    environment, tag = PLATFORMS[platform]
    with zipfile.ZipFile(wheel[0]) as archive:
        meta_name = next(n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(archive.read(meta_name).decode())
    base = [Requirement(r) for r in metadata.get_all("Requires-Dist")]
    wanted = [
        r
        for r in base
        if r.name == "ai-edge-litert"
        and r.marker is not None
        and r.marker.evaluate({**environment, "extra": ""})
    ]
    assert len(wanted) == 1, f"no ai-edge-litert requirement applies on {platform}"
    download = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"),
            *("--platform", tag, "--python-version", "3.11", "-d", str(tmp_path)),
            f"ai-edge-litert{wanted[0].specifier}",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if "NewConnectionError" in download.stderr or "Temporary failure" in download.stderr:
        pytest.skip(f"the package index cannot be reached: {download.stderr.splitlines()[-1]}")
    assert download.returncode == 0, download.stderr[-2000:]
    assert list(tmp_path.glob("ai_edge_litert-*.whl"))
