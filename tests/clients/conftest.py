"""Fixtures for the client tests: real ZeroMQ sockets on loopback."""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zmq

from tests.clients.chain import analyzed_onsets
from tests.clients.wire import TestDaemon
from tests.conftest import script
from timbrecast.daemon import bundled


@pytest.fixture
def daemons() -> Iterator[Callable[[], TestDaemon]]:
    """Make as many stand-in daemons as a test needs; all are closed after it."""
    made: list[TestDaemon] = []

    def make() -> TestDaemon:
        made.append(TestDaemon(zmq.Context.instance()))
        return made[-1]

    yield make
    for daemon in made:
        daemon.close()


@pytest.fixture
def daemon(daemons: Callable[[], TestDaemon]) -> TestDaemon:
    return daemons()


class Background:
    """A command's ``main`` run in a thread, with its exit status kept."""

    def __init__(self, main: Callable[[list[str]], int], argv: list[str]) -> None:
        self.status: int | None = None
        self._thread = threading.Thread(target=self._run, args=(main, argv), daemon=True)
        self._thread.start()

    def _run(self, main: Callable[[list[str]], int], argv: list[str]) -> None:
        self.status = main(argv)

    def join(self, timeout_s: float = 5.0) -> int | None:
        self._thread.join(timeout_s)
        assert not self._thread.is_alive(), "the command did not finish"
        return self.status


@pytest.fixture
def background() -> type[Background]:
    return Background


@pytest.fixture(scope="session")
def demo() -> Path:
    """The bundled demo recording (11 s, 47 hits, a 1.5 s count-in)."""
    return bundled.demo_recordings()[0]


@pytest.fixture(scope="session")
def demo_onsets(demo: Path) -> list[float]:
    """Where ``timbrecastd analyze`` hears the demo's hits (s)."""
    return analyzed_onsets(demo)


@pytest.fixture(scope="session")
def library(parity_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The 40 parity one-shots tagged by the bundled model, as the docs show it
    (`timbrecastd analyze --oneshot DIR --jsonl FILE`)."""
    out = tmp_path_factory.mktemp("library") / "library.jsonl"
    subprocess.run(
        [script("timbrecastd"), "analyze", "--oneshot", str(parity_dir), "--jsonl", str(out)],
        capture_output=True,
        check=True,
        timeout=120,
    )
    return out
