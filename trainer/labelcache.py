"""A persistent cache of teacher labels, keyed by the content of what the teacher heard.

Labelling costs ~0.4 s of CPU per clip, so a corpus is labelled once: every
result (a label, or the teacher's reason for giving none) is committed the moment
it arrives, and a run that is killed resumes where it stopped. Keys are content
hashes of the teacher's exact view of each clip (``heard``), so a renamed file is
not relabelled and a changed one is.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from timbrecast.daemon.contract import DESCRIPTORS


def quantise(clip: np.ndarray) -> np.ndarray:
    """Audio as 16-bit integers: how the corpus stores model inputs and the teacher's
    views, and what is hashed, so a key names exactly the audio it stands for."""
    return np.round(np.clip(clip, -1.0, 1.0) * 32767.0).astype("<i2")


def dequantise(stored: np.ndarray) -> np.ndarray:
    return stored.astype(np.float32) / 32767.0


def clip_key(clip: np.ndarray) -> str:
    """SHA-256 of the model input quantised to 16 bits."""
    return hashlib.sha256(quantise(clip).tobytes()).hexdigest()


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "timbrecast" / "labels.sqlite"


class LabelCacheError(OSError):
    """The cache cannot be used now (locked by another run, read-only, no folder)."""


def _damaged(exc: sqlite3.DatabaseError) -> bool:
    """Whether the file itself is bad (not a database, corrupt), not merely busy."""
    name = getattr(exc, "sqlite_errorname", "")
    return name in ("SQLITE_NOTADB", "SQLITE_CORRUPT") or "not a database" in str(exc)


def _to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


@dataclass(frozen=True)
class CachedLabel:
    """A cached outcome: the seven values, or the reason there are none."""

    values: tuple[float, ...] | None
    error: str | None
    seconds: float


class LabelCache:
    """SQLite in WAL mode: safe against a kill between commits, cheap per commit.

    A file that is not a usable cache (overwritten, truncated, from another program)
    is moved aside as ``NAME.unusable`` with a warning, and a new cache started: the
    labels are worth recomputing, not a traceback, and nothing is deleted.
    """

    def __init__(self, path: Path, warn: Callable[[str], None] = _to_stderr) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        try:
            self._db = self._open(path)
        except sqlite3.DatabaseError as exc:
            if not _damaged(exc):
                raise LabelCacheError(f"label cache {path}: {exc}") from exc
            aside = path.with_name(path.name + ".unusable")
            for suffix in ("", "-wal", "-shm"):
                companion = Path(f"{path}{suffix}")
                if companion.exists():
                    companion.replace(f"{aside}{suffix}")
            warn(f"label cache {path} is not usable ({exc}): moved to {aside}, starting anew")
            self._db = self._open(path)

    @staticmethod
    def _open(path: Path) -> sqlite3.Connection:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            columns = ", ".join(f"{name} REAL" for name in DESCRIPTORS)
            db.execute(
                f"CREATE TABLE IF NOT EXISTS labels (key TEXT PRIMARY KEY, {columns}, "
                "error TEXT, seconds REAL NOT NULL)"
            )
            db.execute("SELECT COUNT(*) FROM labels").fetchone()
            db.commit()
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, key: str) -> CachedLabel | None:
        row = self._db.execute(
            f"SELECT {', '.join(DESCRIPTORS)}, error, seconds FROM labels WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return None
        *values, error, seconds = row
        return CachedLabel(None if error else tuple(values), error, seconds)

    def put(self, key: str, entry: CachedLabel) -> None:
        values = entry.values or (None,) * len(DESCRIPTORS)
        placeholders = ", ".join("?" * (len(DESCRIPTORS) + 3))
        self._db.execute(
            f"INSERT OR REPLACE INTO labels VALUES ({placeholders})",
            (key, *values, entry.error, entry.seconds),
        )
        self._db.commit()

    def __len__(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM labels").fetchone()[0])

    def close(self) -> None:
        self._db.close()
