"""The daemon runs on an edge board: it must import without TensorFlow or the trainer."""

from __future__ import annotations

import subprocess
import sys
import textwrap

BLOCKED = (
    "tensorflow",
    "keras",
    "librosa",
    "timbral_models",
    "timbrecast.trainer",
    "timbrecast.clients",
)

PROBE = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    BLOCKED = {blocked!r}

    class Refuse:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"blocked: {{name}}")
            return None

    sys.meta_path.insert(0, Refuse())
    import timbrecast.daemon as daemon
    names = [m.name for m in pkgutil.walk_packages(daemon.__path__, "timbrecast.daemon.")]
    for name in names:
        importlib.import_module(name)
    leaked = sorted(m for m in sys.modules if any(m == b or m.startswith(b + ".") for b in BLOCKED))
    assert not leaked, leaked
    print(len(names))
    """
)


def test_every_daemon_module_imports_with_tensorflow_blocked() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(blocked=BLOCKED)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert int(result.stdout.strip()) >= 5


def test_the_blocker_really_blocks() -> None:
    """Guard against a probe that passes because it blocks nothing."""
    probe = PROBE.replace("import timbrecast.daemon as daemon", "import tensorflow")
    result = subprocess.run(
        [sys.executable, "-c", probe.format(blocked=BLOCKED)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "blocked: tensorflow" in result.stderr
