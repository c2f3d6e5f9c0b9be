"""Suite-wide settings and fixtures."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
PARITY = SHARED / "fixtures" / "teacher-parity"


def script(name: str) -> str:
    """A console script of this environment, whether or not it is on PATH."""
    return str(Path(sys.executable).parent / name)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """A run in which nothing passed is a failure, even if everything was skipped."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and exitstatus == 0 and not reporter.stats.get("passed"):
        session.exitstatus = 1


@pytest.fixture(scope="session")
def parity_dir() -> Path:
    if not PARITY.is_dir():
        pytest.fail(f"teacher-parity fixture missing at {PARITY} (../shared beside the repo)")
    return PARITY
