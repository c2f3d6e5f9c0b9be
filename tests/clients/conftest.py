"""Fixtures for the client tests: real ZeroMQ sockets on loopback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import pytest
import zmq

from tests.clients.wire import TestDaemon


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
