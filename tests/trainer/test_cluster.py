"""The teacher on a Dask cluster (``--scheduler``): a real ``distributed.LocalCluster``
of separate worker processes, reached over TCP on loopback as a remote one would be."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.trainer.conftest import SAMPLE
from tests.trainer.test_corpus import Bar
from tests.trainer.test_label_cli import read_rows, run_label
from timbrecast.daemon.exitcodes import UNAVAILABLE
from timbrecast.trainer import corpus
from timbrecast.trainer.labelcache import LabelCache

distributed = pytest.importorskip("distributed", reason="the cluster extra is not installed")


@pytest.fixture(scope="module")
def scheduler():
    """Two single-threaded worker processes, as `dask worker ADDRESS --nworkers 2
    --nthreads 1` would start them on another machine."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def label_into(folder: Path, run: Path, cache: str, *more: str):
    """``trainer label`` of ``folder`` into ``run``.csv with the cache ``cache``.db."""
    out, db = run.with_suffix(".csv"), run.with_name(cache + ".db")
    return run_label(str(folder), "--out", str(out), "--cache", str(db), *more)


def test_labels_from_the_cluster_are_the_local_ones_and_resume_from_the_cache(
    scheduler: str,
    clips: Path,
    tmp_path: Path,
) -> None:
    there = label_into(clips, tmp_path / "a", "a", "--scheduler", scheduler)
    assert there.returncode == 0, there.stderr
    assert f"labelled {len(SAMPLE)} of {len(SAMPLE)} clips (0 from the cache)" in there.stderr
    here = label_into(clips, tmp_path / "b", "b", "--jobs", "2")
    assert here.returncode == 0, here.stderr
    assert read_rows(tmp_path / "a.csv") == read_rows(tmp_path / "b.csv")

    again = label_into(clips, tmp_path / "c", "a", "--scheduler", scheduler)
    assert again.returncode == 0, again.stderr
    assert f"({len(SAMPLE)} from the cache)" in again.stderr
    assert read_rows(tmp_path / "c.csv") == read_rows(tmp_path / "a.csv")


def test_dataset_build_labels_on_the_cluster(scheduler: str, small_hits, tmp_path: Path) -> None:
    local, _ = corpus.build(small_hits, tmp_path / "a", LabelCache(tmp_path / "a.db"), 2, Bar)
    remote, report = corpus.build(
        small_hits, tmp_path / "b", LabelCache(tmp_path / "b.db"), 2, Bar, scheduler=scheduler
    )
    assert report.labelled_now == len(small_hits)
    assert [e.labels for e in remote] == [e.labels for e in local]
    assert all(e.labels is not None for e in remote)


def test_an_unreachable_scheduler_is_one_line_and_exit_69(
    clips: Path,
    tmp_path: Path,
) -> None:
    result = label_into(clips, tmp_path / "x", "x", "--scheduler", "tcp://127.0.0.1:9")
    assert result.returncode == UNAVAILABLE
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trainer: Dask scheduler tcp://127.0.0.1:9")
    assert not (tmp_path / "x.csv").exists()


def test_workers_that_cannot_run_the_teacher_are_refused_before_any_clip(
    clips: Path,
    tmp_path: Path,
) -> None:
    """Such a worker would die unpickling its first clip and Dask would wait for
    others for ever: the run is refused up front, naming the worker."""
    preload = str(Path(__file__).with_name("worker_without_timbrecast.py"))
    with distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
        preload=[preload],
    ) as cluster:  # fmt: skip
        result = label_into(clips, tmp_path / "x", "x", "--scheduler", cluster.scheduler_address)
    assert result.returncode == UNAVAILABLE, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "cannot import timbrecast.trainer.teacher" in lines[0]
    assert "install timbrecast[train] there" in lines[0]
