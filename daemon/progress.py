"""A progress line on stderr for long offline work, without a dependency."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """``done/total, rate, ETA``, redrawn at most ten times a second; silent off a TTY."""

    def __init__(self, total: int, label: str, stream: TextIO = sys.stderr) -> None:
        self.total = total
        self.label = label
        self.stream = stream
        self.done = 0
        self._enabled = stream.isatty()
        self._start = time.monotonic()
        self._drawn = 0.0

    def update(self, count: int = 1) -> None:
        self.done += count
        now = time.monotonic()
        if self._enabled and (now - self._drawn > 0.1 or self.done == self.total):
            self._drawn = now
            rate = self.done / max(now - self._start, 1e-9)
            eta = (self.total - self.done) / rate if rate > 0 else 0.0
            self.stream.write(
                f"\r{self.label}: {self.done}/{self.total} {rate:6.1f}/s ETA {eta:5.0f} s"
            )
            self.stream.flush()

    def close(self) -> None:
        if self._enabled:
            self.stream.write("\n")
