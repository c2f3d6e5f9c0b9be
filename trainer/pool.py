"""Worker processes for rendering and labelling, which never outlive their parent.

A parent killed with SIGKILL cannot shut its pool down: its workers would go on
with their clip and then wait forever for the next (seen: ``trainer label`` killed
with -9 left a worker spinning, then blocked). Each worker watches its parent and
exits when it is gone. Workers are spawned, not forked, so none inherits the
parent's threads or TensorFlow state.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor

#: How often a worker checks that its parent is still there.
PARENT_CHECK_S = 0.5


def _follow_parent(parent: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_S)
        os._exit(1)

    threading.Thread(target=watch, name="follow-parent", daemon=True).start()


def process_pool(jobs: int) -> ProcessPoolExecutor:
    """``jobs`` spawned worker processes that exit with this process."""
    return ProcessPoolExecutor(
        max_workers=jobs,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_follow_parent,
        initargs=(os.getpid(),),
    )
