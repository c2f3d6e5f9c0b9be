"""Labelling many clips with the teacher: in parallel, cached, resumable.

The main process reads each clip, takes the teacher's view of it (``heard``) and
hashes that (cheap), and looks it up in the cache; only uncached clips go to the
worker processes, a bounded number at a time so that memory stays flat however
large the corpus.
"""

from __future__ import annotations

import contextlib
import csv
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field
from pathlib import Path

from timbrecast.daemon import audiofile, exitcodes
from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.daemon.preprocess import PreprocessError
from timbrecast.trainer.heard import View, heard
from timbrecast.trainer.labelcache import CachedLabel, LabelCache
from timbrecast.trainer.pool import workers
from timbrecast.trainer.teacher import TeacherError, label


@dataclass(frozen=True)
class Clip:
    """The teacher's view of a one-shot (``heard``), its key and the name it is
    reported under."""

    name: str
    key: str
    view: View


@dataclass(frozen=True)
class Outcome:
    """What the teacher said of one clip (``values`` is None when it failed)."""

    name: str
    key: str
    values: tuple[float, ...] | None
    error: str | None
    seconds: float
    cached: bool


def _label_one(view: View) -> CachedLabel:
    start = time.process_time()
    try:
        values: tuple[float, ...] | None = label(view.samples, view.rate).as_tuple()
        error = None
    except TeacherError as exc:
        values, error = None, str(exc)
    return CachedLabel(values, error, time.process_time() - start)


def label_clips(
    clips: Iterable[Clip], cache: LabelCache, jobs: int, scheduler: str | None = None
) -> Iterator[Outcome]:
    """Outcomes for every clip, cached ones at once, the rest as workers finish:
    ``jobs`` local processes, or the Dask cluster at ``scheduler``. Either way the
    labels are cached here, as they arrive, so a stopped run resumes where it was."""
    pending: dict[Future[CachedLabel], Clip] = {}
    with workers(jobs, scheduler) as running:

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
            pending[running.executor.submit(_label_one, clip.view)] = clip
            yield from drain(4 * running.slots)
        yield from drain(0)


@dataclass
class LabelRun:
    """What ``label_files`` did: clips labelled (and of those, found in the cache), of
    how many files, and each one skipped with the reason."""

    files: int = 0
    labelled: int = 0
    from_cache: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)


def label_files(
    expansion: audiofile.Expansion,
    out: Path,
    cache: LabelCache,
    jobs: int,
    step: Callable[[], object] = lambda: None,
    scheduler: str | None = None,
) -> LabelRun:
    """Label every audio file of ``expansion`` as the teacher hears it and write
    ``path,key,<seven>`` rows to ``out``. Rows go to ``OUT.partial``, each flushed
    as it comes: a killed run leaves them there (and in the cache, so a rerun
    finishes at once) and never touches an older ``out``. ``step`` is called once
    per file, done or skipped (a progress bar). ``scheduler``: label on that Dask
    cluster instead of ``jobs`` local processes."""
    run = LabelRun(
        len(expansion.files), skipped=[(f, "folder not read") for f in expansion.unreadable]
    )

    def clips() -> Iterator[Clip]:
        for path in expansion.files:
            try:
                audio = audiofile.read(path)
                view = heard(audio.frames, audio.sample_rate)
            except (audiofile.AudioFileError, PreprocessError) as exc:
                run.skipped.append((str(path), str(exc)))
                step()
                continue
            yield Clip(str(path), view.key, view)

    partial = out.with_name(out.name + ".partial")
    with contextlib.suppress(OSError):  # a folder that cannot be made is named just below
        out.parent.mkdir(parents=True, exist_ok=True)
    with exitcodes.open_output(partial, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "key", *DESCRIPTORS])
        for outcome in label_clips(clips(), cache, jobs, scheduler):
            step()
            if outcome.values is None:
                run.skipped.append((outcome.name, f"teacher: {outcome.error}"))
                continue
            writer.writerow([outcome.name, outcome.key, *(f"{v:.4f}" for v in outcome.values)])
            handle.flush()
            run.labelled += 1
            run.from_cache += outcome.cached
    partial.replace(out)
    return run
