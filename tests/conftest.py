"""Suite-wide settings and fixtures."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
#: The teacher-parity clips and labels, copied from the steering side's fixtures
#: so that the suite needs nothing beside the repository.
PARITY = REPO / "tests" / "fixtures" / "teacher-parity"


def free_endpoint() -> str:
    """A loopback TCP endpoint nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{probe.getsockname()[1]}"


def script(name: str) -> str:
    """A console script of this environment, whether or not it is on PATH."""
    return str(Path(sys.executable).parent / name)


#: What a checkout gathers as it is used, left out of copies of it.
LOCAL_STATE = shutil.ignore_patterns(
    ".venv", ".git", "*.egg-info", "build", "dist", "runs", ".*_cache", ".hypothesis"
)


@dataclass(frozen=True)
class Installed:
    """A fresh venv with the project installed from its wheel (not editable)."""

    venv: Path
    wheel: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, home: Path) -> dict[str, str]:
        """The environment of a user of this venv whose home (and caches) is ``home``."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env.update(
            PATH=f"{self.bin}{os.pathsep}{env.get('PATH', '')}",
            HOME=str(home),
            XDG_CACHE_HOME=str(home / ".cache"),
            VIRTUAL_ENV=str(self.venv),
        )
        return env


def build_wheel(folder: Path) -> tuple[Path, str]:
    """The project's wheel, built from a copy of the checkout; and what the build said."""
    source = folder / "src"
    shutil.copytree(REPO, source, ignore=LOCAL_STATE)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", str(folder), str(source)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    return next(folder.glob("timbrecast-*.whl")), built.stdout + built.stderr


def install(wheel: Path, venv: Path, extras: str = "") -> Installed:
    """A new venv at ``venv`` with ``wheel[extras]`` and its dependencies from the index."""
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--quiet", f"{wheel}{extras}"],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert pip.returncode == 0, pip.stderr[-2000:]
    return Installed(venv, wheel)


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


@pytest.fixture(scope="session")
def installed(wheel: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory) -> Installed:
    """The wheel with every extra, as a user installs it: what the docs' commands run on."""
    venv = tmp_path_factory.mktemp("venv") / "all"
    return install(wheel[0], venv, "[train,clients,live,cluster]")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which nothing passed is a failure, even if everything was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and exitstatus == 0 and not reporter.stats.get("passed"):
        session.exitstatus = 1


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    if not PARITY.is_dir():
        pytest.fail(f"teacher-parity fixture missing at {PARITY} (part of the repository)")
    return PARITY


@pytest.fixture(scope="session")
def drum_clips(parity_dir: Path):
    """The 40 parity one-shots as model inputs: real and synthetic drum audio."""
    import numpy as np

    from timbrecast.daemon import audiofile
    from timbrecast.daemon.preprocess import prepare

    clips = []
    for path in sorted(parity_dir.glob("*.wav")):
        audio = audiofile.read(path)
        clips.append(prepare(audio.frames, audio.sample_rate))
    return np.stack(clips)


@pytest.fixture(scope="session")
def tiny_keras(drum_clips):
    """A small conv net with random but fixed weights, with the seed's input shape."""
    import tensorflow as tf

    tf.keras.utils.set_random_seed(7)
    inputs = tf.keras.Input((16000, 1))
    x = tf.keras.layers.Conv1D(7, 7, strides=4, activation="relu")(inputs)
    x = tf.keras.layers.MaxPooling1D(4)(x)
    x = tf.keras.layers.Conv1D(7, 7, activation="relu")(x)
    x = tf.keras.layers.GlobalAveragePooling1D()(x)
    outputs = tf.keras.layers.Dense(7)(x)
    return tf.keras.Model(inputs, outputs)


def contract_for(raw: bytes, **changes):
    from timbrecast.daemon.contract import DESCRIPTORS, NORMALISATION, ModelContract
    from timbrecast.trainer.export import model_id

    fields = {
        "model_id": model_id("tiny", "test", raw),
        "architecture": "tiny",
        "descriptors": DESCRIPTORS,
        "normalisation": {k: (v.low, v.high) for k, v in NORMALISATION.items()},
        "sample_rate": 16000,
        "input_length": 16000,
        "preprocess_version": 1,
    }
    fields.update(changes)
    return ModelContract(**fields)


@pytest.fixture(scope="session")
def tiny_tflite(tiny_keras, drum_clips, tmp_path_factory) -> dict[str, Path]:
    """The tiny model exported as int8 and as float, each carrying its contract."""
    from timbrecast.trainer.export import convert, embed_contract

    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for quantize in ("int8", "none"):
        raw = convert(tiny_keras, quantize, drum_clips[:32])
        path = folder / f"tiny-{quantize}.tflite"
        path.write_bytes(embed_contract(raw, contract_for(raw)))
        paths[quantize] = path
    return paths


@pytest.fixture(scope="session")
def tiny_early(drum_clips, tmp_path_factory) -> Path:
    """A small early-estimate model (25 ms after the attack), int8, with its contract."""
    import tensorflow as tf

    from timbrecast.daemon.contract import early_length
    from timbrecast.daemon.preprocess import early
    from timbrecast.trainer.export import convert, embed_contract

    length = early_length(25)
    tf.keras.utils.set_random_seed(11)
    inputs = tf.keras.Input((length, 1))
    x = tf.keras.layers.Conv1D(8, 7, strides=2, activation="relu")(inputs)
    x = tf.keras.layers.GlobalAveragePooling1D()(x)
    keras = tf.keras.Model(inputs, tf.keras.layers.Dense(7)(x))
    raw = convert(keras, "int8", early(drum_clips[:32], 25))
    path = tmp_path_factory.mktemp("early") / "tiny-early-25ms.tflite"
    path.write_bytes(embed_contract(raw, contract_for(raw, input_length=length, early_ms=25.0)))
    return path


@pytest.fixture(scope="module")
def null_sink():
    """A fresh null sink on a running PulseAudio server (started if needed)."""
    for tool in ("pulseaudio", "pactl", "paplay"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} missing: apt-get install pulseaudio pulseaudio-utils")
    if subprocess.run(["pulseaudio", "--check"]).returncode != 0:
        subprocess.run(
            ["pulseaudio", "--daemonize=yes", "--exit-idle-time=-1", "--disallow-exit"],
            check=True,
            capture_output=True,
        )
        time.sleep(1.0)
    name = f"timbrecast_{uuid.uuid4().hex[:8]}"
    module = subprocess.run(
        ["pactl", "load-module", "module-null-sink", f"sink_name={name}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    yield name
    subprocess.run(["pactl", "unload-module", module], capture_output=True)
