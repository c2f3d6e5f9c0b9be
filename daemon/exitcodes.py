"""Exit statuses shared by every timbrecast command (BSD sysexits, as systemd expects).

``systemd/timbrecast.service`` names ``CONFIG`` in ``RestartPreventExitStatus`` so a
daemon with a bad configuration is not restarted in a loop.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TextIO

OK = 0
#: Some inputs failed (unreadable audio, a teacher that gave no finite label);
#: the rest were processed and written.
DATA = 65
#: An input file or directory does not exist.
NO_INPUT = 66
#: Something the command needs is not there: a runtime or extra not installed, or
#: the capture device not (yet) plugged in. systemd restarts the service on it.
UNAVAILABLE = 69
#: A bug: an unexpected exception.
SOFTWARE = 70
#: An output file cannot be created or written (a missing folder, no permission).
CANT_CREATE = 73
#: Bad configuration: an unknown key, a wrong type, a model the daemon cannot honour.
CONFIG = 78


class OutputError(OSError):
    """An output file that cannot be written; the message names it and why (CANT_CREATE)."""


def open_output(path: Path, newline: str | None = None) -> TextIO:
    """``path`` opened for writing, or an ``OutputError`` naming it and the reason."""
    try:
        return path.open("w", newline=newline)
    except OSError as exc:
        raise OutputError(f"{path}: cannot write it ({exc.strerror})") from exc


def stdout_closed() -> int:
    """A reader that went away (``timbrecastd analyze take.wav | head -1``) is a normal
    end for a command line: point stdout at /dev/null so that the flush at exit does
    not fail again, and exit OK."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return OK
