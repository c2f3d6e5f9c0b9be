"""The systemd unit: it verifies, it is hardened (exposure 2.0 or lower), and it
keeps the promises the daemon makes (notify, watchdog, no restart on exit 78).

``systemd-analyze verify`` checks that ``ExecStart`` exists, so the unit is
checked with ``ExecStart`` pointing at this environment's ``timbrecastd``
instead of ``/opt/timbrecast/venv``; nothing else is changed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, script

UNIT = REPO / "systemd" / "timbrecast.service"
INSTALLED = "/opt/timbrecast/venv/bin/timbrecastd"


@pytest.fixture()
def unit(tmp_path: Path) -> Path:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze missing: apt-get install systemd")
    text = UNIT.read_text()
    assert INSTALLED in text
    local = tmp_path / "timbrecast.service"
    local.write_text(text.replace(INSTALLED, script("timbrecastd")))
    return local


def test_the_unit_verifies(unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "timbrecast.service" not in done.stderr, done.stderr


def test_the_unit_is_hardened(unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "security", "--offline=true", str(unit)],
        capture_output=True, text=True, timeout=60,
    )
    match = re.search(r"Overall exposure level for timbrecast\.service: ([0-9.]+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= 2.0, done.stdout


def test_the_unit_keeps_the_daemons_promises() -> None:
    settings = dict(
        line.split("=", 1) for line in UNIT.read_text().splitlines() if re.match(r"^\w+=", line)
    )
    assert settings["Type"] == "notify"
    assert settings["WatchdogSec"] == "10s"
    assert settings["Restart"] == "on-failure"
    assert settings["RestartPreventExitStatus"] == "78"
    assert "run --config /etc/timbrecast/timbrecast.toml" in settings["ExecStart"]
    assert settings["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert settings["DeviceAllow"] == "char-alsa rw"
    assert settings["SupplementaryGroups"] == "audio"


def test_the_install_script_parses() -> None:
    done = subprocess.run(["sh", "-n", str(REPO / "systemd" / "install.sh")], capture_output=True)
    assert done.returncode == 0, done.stderr
