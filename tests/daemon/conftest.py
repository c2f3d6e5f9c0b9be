"""Fixtures of the daemon's tests that need a running PulseAudio."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid

import pytest


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
