"""Worker processes for rendering and labelling, which never outlive their parent;
or, for labelling, the workers of a Dask cluster.

A parent killed with SIGKILL cannot shut its pool down: its workers would go on
with their clip and then wait forever for the next (seen: ``trainer label`` killed
with -9 left a worker spinning, then blocked). Each worker watches its parent and
exits when it is gone. Workers are spawned, not forked, so none inherits the
parent's threads or TensorFlow state.
"""

from __future__ import annotations

import contextlib
import importlib.util
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

#: How often a worker checks that its parent is still there.
PARENT_CHECK_S = 0.5
#: How long to wait for a Dask scheduler to answer.
CONNECT_TIMEOUT_S = 10


class ClusterUnavailable(RuntimeError):
    """The Dask scheduler cannot be reached or its workers cannot run the task; the
    message names the address and why (exit 69, like any missing service)."""


@dataclass(frozen=True)
class Workers:
    """Where tasks run: an executor, and how many tasks it runs at once."""

    executor: Executor
    slots: int


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


@contextlib.contextmanager
def workers(jobs: int, scheduler: str | None = None) -> Iterator[Workers]:
    """``jobs`` local worker processes, or with ``scheduler`` (``tcp://host:8786``) the
    workers of that Dask cluster through its ``concurrent.futures`` executor, so the
    caller's loop is the same for both. The workers need timbrecast's ``train`` extra."""
    if scheduler is None:
        with process_pool(jobs) as pool:
            yield Workers(pool, jobs)
        return
    try:
        from distributed import Client
    except ImportError as exc:
        raise ImportError(
            "--scheduler needs Dask's client: pip install 'timbrecast[cluster]'"
        ) from exc
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterUnavailable(f"Dask scheduler {scheduler}: cannot reach it ({exc})") from exc
    with client:
        threads = sum(client.nthreads().values())
        if threads == 0:
            raise ClusterUnavailable(f"Dask scheduler {scheduler}: it has no workers")
        _check_workers(client, scheduler)
        yield Workers(client.get_executor(pure=False), threads)


#: What a worker must be able to import to run the teacher.
TEACHER_MODULES = ("timbrecast.trainer.teacher", "timbral_models")


def _check_workers(client: Any, scheduler: str) -> None:
    """Refuse a cluster whose workers cannot import the teacher, before any clip is
    sent: such a worker dies unpickling its first task, and Dask then waits for
    workers that never come. The probe is the standard library's own ``find_spec``,
    which any worker can run."""
    for module in TEACHER_MODULES:
        found = client.run(importlib.util.find_spec, module, on_error="return")
        for address, spec in sorted(found.items()):
            if spec is None or isinstance(spec, BaseException):
                why = f" ({spec})" if isinstance(spec, BaseException) else ""
                raise ClusterUnavailable(
                    f"Dask worker {address} at {scheduler} cannot import {module}{why}: "
                    "install timbrecast[train] there"
                )
