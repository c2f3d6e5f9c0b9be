"""Labelling many clips with the teacher: in parallel, cached, resumable.

The main process reads, prepares and hashes each clip (cheap) and looks it up in
the cache; only uncached clips go to the worker processes, a bounded number at a
time so that memory stays flat however large the corpus.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass

import numpy as np

from timbrecast.trainer.labelcache import CachedLabel, LabelCache
from timbrecast.trainer.pool import process_pool
from timbrecast.trainer.teacher import TeacherError, label


@dataclass(frozen=True)
class Clip:
    """A model input to label, with the name it is reported under."""

    name: str
    key: str
    audio: np.ndarray


@dataclass(frozen=True)
class Outcome:
    """What the teacher said of one clip (``values`` is None when it failed)."""

    name: str
    key: str
    values: tuple[float, ...] | None
    error: str | None
    seconds: float
    cached: bool


def _label_one(audio: np.ndarray) -> CachedLabel:
    start = time.process_time()
    try:
        values: tuple[float, ...] | None = label(audio).as_tuple()
        error = None
    except TeacherError as exc:
        values, error = None, str(exc)
    return CachedLabel(values, error, time.process_time() - start)


def label_clips(clips: Iterable[Clip], cache: LabelCache, jobs: int) -> Iterator[Outcome]:
    """Outcomes for every clip, cached ones at once, the rest as workers finish."""
    pending: dict[Future[CachedLabel], Clip] = {}
    with process_pool(jobs) as pool:

        def drain(limit: int) -> Iterator[Outcome]:
            while len(pending) > limit:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    clip = pending.pop(future)
                    entry = future.result()
                    cache.put(clip.key, entry)
                    yield Outcome(
                        clip.name, clip.key, entry.values, entry.error, entry.seconds, False
                    )

        for clip in clips:
            hit = cache.get(clip.key)
            if hit is not None:
                yield Outcome(clip.name, clip.key, hit.values, hit.error, hit.seconds, True)
                continue
            pending[pool.submit(_label_one, clip.audio)] = clip
            yield from drain(4 * jobs)
        yield from drain(0)
