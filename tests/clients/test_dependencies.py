"""Dependencies point one way: trainer -> daemon, clients -> daemon.protocol only."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO


def imported_modules(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
    return found


def test_daemon_imports_neither_trainer_nor_clients() -> None:
    modules = imported_modules(REPO / "daemon")
    assert not {m for m in modules if m.startswith(("timbrecast.trainer", "timbrecast.clients"))}


def test_clients_use_only_the_daemons_protocol() -> None:
    modules = imported_modules(REPO / "clients")
    daemon = {m for m in modules if m.startswith("timbrecast.daemon")}
    assert daemon <= {"timbrecast.daemon.protocol"}
    assert not {m for m in modules if m.startswith("timbrecast.trainer")}


def test_the_check_sees_real_imports() -> None:
    """Guard: the scan finds what the trainer is known to import."""
    assert "timbrecast.daemon.preprocess" in imported_modules(REPO / "trainer")
