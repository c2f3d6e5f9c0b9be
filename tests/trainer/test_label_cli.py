"""``trainer label`` end to end: parallel, cached, resumable, and honest about failures."""

from __future__ import annotations

import csv
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import numpy as np
import soundfile

from tests.conftest import script
from tests.trainer.conftest import SAMPLE
from tests.trainer.test_teacher_parity import TOLERANCE, reference_labels
from timbrecast.daemon import audiofile
from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.daemon.exitcodes import DATA, NO_INPUT
from timbrecast.trainer.heard import heard
from timbrecast.trainer.teacher import label


def run_label(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("trainer"), "label", *args, "--quiet"], capture_output=True, text=True, timeout=600
    )


def read_rows(path: Path) -> dict[str, list[float]]:
    with path.open() as handle:
        return {
            Path(r["path"]).name: [float(r[d]) for d in DESCRIPTORS] for r in csv.DictReader(handle)
        }


def test_labels_are_the_teachers_on_what_it_hears(clips: Path, tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    result = run_label(
        str(clips), "--out", str(out), "--jobs", "2", "--cache", str(tmp_path / "c.db")
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    assert sorted(rows) == sorted(SAMPLE)
    for name, got in rows.items():
        audio = audiofile.read(clips / name)
        view = heard(audio.frames, audio.sample_rate)
        expected = label(view.samples, view.rate).as_tuple()
        assert np.abs(np.subtract(got, expected)).max() <= 1e-4, name
    again = run_label(str(clips), "--out", str(out), "--cache", str(tmp_path / "c.db"))
    assert again.returncode == 0
    assert f"({len(SAMPLE)} from the cache)" in again.stderr
    assert read_rows(out) == rows


def test_the_command_gives_the_teachers_labels_of_the_files_as_they_are(
    parity_dir: Path, tmp_path: Path
) -> None:
    """What a user runs on their files gives what timbral_models gave of the same files
    in its own era (``shared/fixtures/teacher-parity``), not of a model input."""
    out = tmp_path / "labels.csv"
    result = run_label(
        str(parity_dir), "--out", str(out), "--jobs", "2", "--cache", str(tmp_path / "c.db")
    )
    assert result.returncode == 0, result.stderr
    rows = read_rows(out)
    expected = reference_labels(parity_dir)
    assert sorted(rows) == sorted(expected)
    worst = {name: np.abs(np.subtract(rows[name], expected[name])).max() for name in rows}
    assert max(worst.values()) <= TOLERANCE, sorted(worst.items(), key=lambda kv: -kv[1])[:3]


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(c) for c in (task / "children").read_text().split()]
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_killed_run_resumes_without_relabelling(parity_dir: Path, tmp_path: Path) -> None:
    """SIGKILL mid-run: the rows done are on disk in OUT.partial, an older OUT is left as
    it was, the workers exit with their parent, and a rerun takes the rest from the cache."""
    cache = tmp_path / "c.db"
    out = tmp_path / "labels.csv"
    out.write_text("an older run's labels\n")
    process = subprocess.Popen(
        [
            script("trainer"),
            "label",
            str(parity_dir),
            "--out",
            str(out),
            "--jobs",
            "1",
            "--cache",
            str(cache),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    done = 0
    while time.monotonic() < deadline and done < 3:
        time.sleep(0.2)
        if cache.exists():
            with sqlite3.connect(cache) as db:
                try:
                    done = db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]
                except sqlite3.OperationalError:
                    done = 0
    workers = children(process.pid)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert done >= 3, "the labeller never committed a result"
    assert workers
    deadline = time.monotonic() + 10
    while any(alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(w) for w in workers), "a worker outlived its killed parent"
    assert out.read_text() == "an older run's labels\n"
    rows_done = read_rows(out.with_name("labels.csv.partial"))
    assert len(rows_done) >= done - 1  # a label cached, its row not yet written
    result = run_label(str(parity_dir), "--out", str(out), "--jobs", "2", "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    from_cache = int(result.stderr.split("(")[1].split(" from the cache")[0])
    assert done <= from_cache < 40
    assert len(read_rows(out)) == 40


def test_failures_are_listed_and_set_the_exit_status(clips: Path, tmp_path: Path) -> None:
    soundfile.write(clips / "silent.wav", np.zeros(8000, dtype=np.float32), 16000)
    nan = np.zeros(8000, dtype=np.float32)
    nan[100] = np.nan
    soundfile.write(clips / "nan.wav", nan, 16000, subtype="FLOAT")
    (clips / "broken.wav").write_text("not audio")
    out = tmp_path / "labels.csv"
    result = run_label(str(clips), "--out", str(out), "--cache", str(tmp_path / "c.db"))
    assert result.returncode == DATA
    skipped = [line for line in result.stderr.splitlines() if line.startswith("skipped ")]
    assert len(skipped) == 3
    assert any("silent.wav: audio is silent" in line for line in skipped)
    assert any("nan.wav: audio contains NaN" in line for line in skipped)
    assert any("broken.wav" in line and "not readable as audio" in line for line in skipped)
    assert f"labelled {len(SAMPLE)} of {len(SAMPLE) + 3} clips" in result.stderr
    assert len(read_rows(out)) == len(SAMPLE)


def test_a_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_label(str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.csv"))
    assert result.returncode == NO_INPUT
    assert result.stderr.strip().count("\n") == 0
    assert "nowhere: no such file or directory" in result.stderr


def test_an_unusable_cache_is_moved_aside_not_a_traceback(clips: Path, tmp_path: Path) -> None:
    cache = tmp_path / "c.db"
    cache.write_bytes(b"this is not a database" * 100)
    out = tmp_path / "labels.csv"
    result = run_label(str(clips), "--out", str(out), "--cache", str(cache))
    assert result.returncode == 0, result.stderr
    assert f"label cache {cache} is not usable (file is not a database)" in result.stderr
    assert "Traceback" not in result.stderr
    assert (tmp_path / "c.db.unusable").read_bytes().startswith(b"this is not a database")
    assert len(read_rows(out)) == len(SAMPLE)


def test_a_cache_that_cannot_be_opened_now_is_named_and_kept(clips: Path, tmp_path: Path) -> None:
    """Not every database error is a damaged file: a cache that cannot be opened (here a
    folder where the file should be) is a one-line error, and nothing is moved aside."""
    cache = tmp_path / "c.db"
    cache.mkdir()
    result = run_label(str(clips), "--out", str(tmp_path / "labels.csv"), "--cache", str(cache))
    assert result.returncode == 73
    assert result.stderr.strip().splitlines() == [
        f"trainer: label cache {cache}: unable to open database file"
    ]
    assert cache.is_dir() and not (tmp_path / "c.db.unusable").exists()
