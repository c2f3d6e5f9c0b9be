"""The systemd unit: it verifies, it is hardened (exposure 2.0 or lower), and it
keeps the promises the daemon makes (notify, watchdog, no restart on exit 78).

``systemd-analyze verify`` checks that ``ExecStart`` exists, so the unit is
checked as a copy whose ``ExecStart`` points at this environment's
``timbrecastd`` instead of ``/opt/timbrecast/venv``; nothing else is changed.
``systemd-analyze security --offline=true`` scores the same copy from the file
alone. Neither needs systemd to be running (CI runs in containers where it is
not); ``.ci/system-deps`` installs the ``systemd`` package that provides them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import REPO, script

UNIT = REPO / "systemd" / "timbrecast.service"
INSTALL = REPO / "systemd" / "install.sh"
FIRST_CHECK = REPO / "systemd" / "first-check.sh"
INSTALLED = "/opt/timbrecast/venv/bin/timbrecastd"
MAX_EXPOSURE = 2.0


def settings() -> list[tuple[str, str]]:
    """``(key, value)`` of every directive, in order (keys may repeat)."""
    pairs = []
    for line in UNIT.read_text().splitlines():
        if re.match(r"^\w+=", line):
            key, value = line.split("=", 1)
            pairs.append((key, value))
    return pairs


def setting(key: str) -> str:
    values = [v for k, v in settings() if k == key]
    assert values, f"{key}= missing from {UNIT.name}"
    return values[-1]


@pytest.fixture()
def unit(tmp_path: Path) -> Path:
    if shutil.which("systemd-analyze") is None:
        pytest.fail("systemd-analyze missing: apt-get install systemd (.ci/system-deps does)")
    text = UNIT.read_text()
    assert text.count(INSTALLED) == 1, "ExecStart should run the venv's timbrecastd"
    local = tmp_path / "timbrecast.service"
    local.write_text(text.replace(INSTALLED, script("timbrecastd")))
    assert Path(script("timbrecastd")).is_file()
    return local


def test_the_unit_verifies(unit: Path) -> None:
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    # Any complaint about the unit names it (or its path): unknown or misspelt
    # directives, bad values, a missing ExecStart/ExecReload binary.
    assert "timbrecast" not in done.stderr, done.stderr


def test_the_unit_is_hardened(unit: Path) -> None:
    done = subprocess.run(
        [
            "systemd-analyze",
            "security",
            "--offline=true",
            f"--threshold={round(MAX_EXPOSURE * 10)}",
            str(unit),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    match = re.search(r"Overall exposure level for timbrecast\.service: ([0-9.]+)", done.stdout)
    assert match, done.stdout + done.stderr
    assert float(match.group(1)) <= MAX_EXPOSURE, done.stdout
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_unit_keeps_the_daemons_promises() -> None:
    assert setting("Type") == "notify"
    assert setting("NotifyAccess") == "main"
    assert setting("WatchdogSec") == "10s"
    assert setting("Restart") == "on-failure"
    assert setting("RestartPreventExitStatus") == "78"
    # A missing device exits 69 and is retried for as long as it takes.
    assert setting("StartLimitIntervalSec") == "0"
    assert setting("ExecStart") == f"{INSTALLED} run --config /etc/timbrecast/timbrecast.toml"
    assert setting("ExecReload") == "/bin/kill -HUP $MAINPID"
    assert setting("DeviceAllow") == "char-alsa rw"
    assert setting("SupplementaryGroups") == "audio"


def test_the_sandbox_leaves_what_libzmq_needs() -> None:
    """Found by running the daemon under the unit: without these libzmq aborts."""
    # getifaddrs() (netlink) when a TCP endpoint is bound.
    assert "AF_NETLINK" in setting("RestrictAddressFamilies").split()
    # pthread_setschedparam() (sched_setscheduler) as each of its threads starts:
    # if @resources is denied, that one call must be allowed again after it.
    filters = [v for k, v in settings() if k == "SystemCallFilter"]
    denied = [i for i, v in enumerate(filters) if v.startswith("~") and "@resources" in v]
    if denied:
        assert any("sched_setscheduler" in v.split() for v in filters[denied[-1] + 1 :])


def test_the_install_script_parses() -> None:
    done = subprocess.run(["sh", "-n", str(INSTALL)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    done = subprocess.run(["sh", str(INSTALL), "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "--no-start" in done.stdout, done.stderr


@pytest.mark.parametrize(
    "script", [INSTALL, FIRST_CHECK, REPO / ".ci" / "test-arm64"], ids=lambda p: p.name
)
def test_the_install_scripts_are_shellcheck_clean(script: Path) -> None:
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck missing: apt-get install shellcheck (.ci/system-deps does)")
    done = subprocess.run(
        ["shellcheck", "--shell=sh", str(script)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize(
    ("body", "status", "said"),
    [
        ('echo "ok       model: m"', 0, "    ok       model: m"),
        ('echo "MISSING  device: none"; exit 69', 0, "    MISSING  device: none"),
        ('echo "PROBLEM  model: self-test"; exit 78', 0, "    PROBLEM  model: self-test"),
        ('echo "loading"; kill -SEGV $$', 70, "crashed (exit 139, signal 11)"),
        ("exit 1", 70, "crashed (exit 1)"),
        ("exit 127", 70, "cannot run"),
    ],
)
def test_install_reports_a_crashing_check_and_passes_its_findings(
    tmp_path: Path, body: str, status: int, said: str
) -> None:
    # install.sh's first look at the installed daemon: what `check` finds is the
    # user's to fix later, but a daemon that crashes (the ARM runtime on a host's
    # x86 cpuinfo under qemu-user) must stop the install with the reason.
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "timbrecastd").write_text(f"#!/bin/sh\n{body}\n")
    (venv / "bin" / "timbrecastd").chmod(0o755)
    done = subprocess.run(
        ["sh", str(FIRST_CHECK), str(venv), "/etc/timbrecast/timbrecast.toml"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == status, done.stdout + done.stderr
    assert said in done.stdout + done.stderr
    if status:
        assert len(done.stderr.strip().splitlines()) == 1
        assert ("cpuinfo" in done.stderr) == ("crashed" in said)
