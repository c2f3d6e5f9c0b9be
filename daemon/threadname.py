"""The daemon's threads named where operators look: ``top -H``, ``ps -L``, ``/proc``.

Python's thread names stay inside the interpreter; the kernel shows every thread
of the process as ``timbrecastd``, so a busy thread could not be told from an
idle one without a Python profiler. Linux lets a thread rename itself through
its ``comm`` file (15 bytes at most). Elsewhere, or if /proc is not mounted,
the name is simply not shown. Threads a named thread starts inherit its name
(a TFLite worker pool started by the inference thread shows as inference).
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path

#: The kernel keeps 15 bytes of a thread's name.
MAX_NAME = 15


def name_this_thread(name: str) -> None:
    """Show the calling thread as ``name`` (cut to ``MAX_NAME`` bytes) to the system."""
    # AttributeError: a platform without native thread ids, where there is no /proc.
    with contextlib.suppress(OSError, AttributeError):
        Path(f"/proc/self/task/{threading.get_native_id()}/comm").write_bytes(
            name.encode()[:MAX_NAME]
        )
