"""``timbrecastd analyze`` and ``run`` as processes, with real sockets and models."""

from __future__ import annotations

import csv
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile
import zmq

from tests.conftest import free_endpoint, script
from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.commands.flags import load_early
from timbrecast.daemon.config import ConfigError
from timbrecast.daemon.contract import DESCRIPTORS, ModelContractError
from timbrecast.daemon.exitcodes import CONFIG, DATA
from timbrecast.daemon.inference import Model
from timbrecast.daemon.preprocess import early, prepare
from timbrecast.daemon.protocol import Onset, Status, Timbre, decode
from timbrecast.trainer.synth import groove

RATE = 48000


@pytest.fixture(scope="module")
def take(tmp_path_factory) -> Path:
    audio, _ = groove(4, bars=2, bpm=120, sample_rate=RATE)
    path = tmp_path_factory.mktemp("audio") / "take.wav"
    soundfile.write(path, np.stack([audio, audio * 0.5], axis=1), RATE, subtype="PCM_24")
    return path


def daemon(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [script("timbrecastd"), *args], capture_output=True, text=True, timeout=timeout
    )


def test_analyze_writes_one_object_per_hit(take: Path, tiny_tflite, tmp_path: Path) -> None:
    out = tmp_path / "hits.jsonl"
    result = daemon("analyze", str(take), "--jsonl", str(out), "--model", str(tiny_tflite["int8"]))
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(hits) >= 10
    assert f"{len(hits)} hits from 1 of 1 files" in result.stderr
    for hit in hits:
        assert hit["file"] == str(take)
        assert {"onset_s", "peak_dbfs", "rms_dbfs", "descriptors"} <= set(hit)
        assert len(hit["descriptors"]) == 7
    onsets = [hit["onset_s"] for hit in hits]
    assert onsets == sorted(onsets) and onsets[0] >= 0.0


def test_oneshot_tags_files_and_counts_what_it_skips(parity_dir, tiny_tflite, tmp_path) -> None:
    (tmp_path / "broken.wav").write_text("not audio")
    out = tmp_path / "tags.jsonl"
    result = daemon(
        "analyze",
        "--oneshot",
        str(parity_dir),
        str(tmp_path / "broken.wav"),
        "--jsonl",
        str(out),
        "--model",
        str(tiny_tflite["int8"]),
    )
    assert result.returncode == DATA
    assert len(out.read_text().splitlines()) == 40
    assert "40 hits from 40 of 41 files, 1 skipped" in result.stderr
    assert "skipped " in result.stderr and "broken.wav" in result.stderr


def test_csv_holds_what_jsonl_holds(parity_dir, tiny_tflite, tmp_path) -> None:
    jsonl, table = tmp_path / "tags.jsonl", tmp_path / "tags.csv"
    result = daemon(
        "analyze",
        "--oneshot",
        str(parity_dir),
        "--jsonl",
        str(jsonl),
        "--csv",
        str(table),
        "--model",
        str(tiny_tflite["int8"]),
    )
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    with table.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == len(records) == 40
    assert list(rows[0]) == [*list(records[0])[:-2], *DESCRIPTORS, "model_id"]
    for row, record in zip(rows, records, strict=True):
        assert row["file"] == record["file"] and row["model_id"] == record["model_id"]
        assert float(row["onset_s"]) == record["onset_s"]
        assert [float(row[name]) for name in DESCRIPTORS] == list(record["descriptors"].values())


def test_the_early_model_tags_one_shots_from_their_first_ms(parity_dir, tmp_path) -> None:
    """A fast tagger: it reads the pre-roll and the first 25 ms of each file, as it
    reads a hit still sounding live (it once stopped: cannot reshape 16000 into 480)."""
    early_model = bundled.model("early-25ms-int8.tflite")
    out = tmp_path / "tags.jsonl"
    result = daemon(
        "analyze", "--oneshot", str(parity_dir), "--jsonl", str(out), "--model", str(early_model)
    )
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(hits) == 40
    model = Model(early_model)
    for hit in hits[:5]:
        clip = audiofile.read(Path(hit["file"]))
        expected = model.predict(early(prepare(clip.frames, clip.sample_rate), 25.0))[0]
        assert hit["audio_s"] == pytest.approx(0.030)
        assert hit["model_id"] == model.model_id
        assert list(hit["descriptors"].values()) == pytest.approx(expected.tolist(), abs=1e-3)


def test_a_bundled_model_is_named_by_its_file_name(parity_dir, tmp_path) -> None:
    """``--model mel-cnn-int8.tflite`` (and ``--early-model``, and the settings' keys,
    which go through the same ``bundled.resolve``) finds the model inside the package
    wherever it is installed; ``./name`` is a path; a name that is neither a file nor
    bundled is a configuration error that says so."""
    out = tmp_path / "tags.jsonl"
    result = daemon(
        "analyze", "--oneshot", str(parity_dir), "--jsonl", str(out), "--model", bundled.MEL_MODEL
    )
    assert result.returncode == 0, result.stderr
    hits = [json.loads(line) for line in out.read_text().splitlines()]
    model = Model(bundled.model(bundled.MEL_MODEL))
    assert len(hits) == 40 and {hit["model_id"] for hit in hits} == {model.model_id}
    assert model.contract.architecture == "mel-cnn"
    clip = audiofile.read(Path(hits[0]["file"]))
    expected = model.predict(prepare(clip.frames, clip.sample_rate)[None])[0]
    assert list(hits[0]["descriptors"].values()) == pytest.approx(expected.tolist(), abs=1e-3)
    assert bundled.resolve(bundled.MEL_MODEL) == bundled.model(bundled.MEL_MODEL)
    assert bundled.resolve(f"./{bundled.MEL_MODEL}") == Path(f"./{bundled.MEL_MODEL}")
    assert bundled.resolve("") == bundled.model() and bundled.resolve(None) == bundled.model()
    (early_model,) = load_early("early-25ms-int8.tflite", None, None)
    assert early_model.contract.early_ms == 25.0
    both = load_early("early-25ms-int8.tflite, early-10ms-int8.tflite", None, None)
    assert sorted(m.contract.early_ms for m in both) == [10.0, 25.0]
    assert load_early("none", None, None) == ()
    assert [m.path for m in load_early("", None, None)] == [bundled.early_model()]
    assert load_early(" none ", None, None) == ()
    assert [m.path for m in load_early(" ", None, None)] == [bundled.early_model()]
    for listed in ("early-25ms-int8.tflite,", "none,early-10ms-int8.tflite"):
        with pytest.raises(ConfigError, match="an empty name or none"):
            load_early(listed, None, None)
    with pytest.raises(ModelContractError, match=r"gone\.tflite: no such file"):
        load_early("early-10ms-int8.tflite,./gone.tflite", None, None)
    with pytest.raises(ConfigError, match="same ms"):
        load_early("early-25ms-int8.tflite,early-25ms-int8.tflite", None, None)
    missing = daemon("analyze", "--oneshot", str(parity_dir), "--model", "no-such-model.tflite")
    assert missing.returncode == CONFIG
    assert "no-such-model.tflite" in missing.stderr and "no such file" in missing.stderr


@pytest.mark.parametrize(
    ("model_bytes", "message"),
    [(None, "no such file"), (b"\x00" * 64, "not a TFLite model")],
)
def test_bad_models_are_one_line_configuration_errors(take, tmp_path, model_bytes, message):
    model = tmp_path / "model.tflite"
    if model_bytes is not None:
        model.write_bytes(model_bytes)
    result = daemon("analyze", str(take), "--model", str(model))
    assert result.returncode == CONFIG
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "Traceback" not in result.stderr
    verbose = daemon("--verbose", "analyze", str(take), "--model", str(model))
    assert verbose.returncode == CONFIG
    assert "Traceback" in verbose.stderr and message in verbose.stderr.splitlines()[-1]


def test_out_of_range_settings_are_configuration_errors(take, tiny_tflite) -> None:
    result = daemon("analyze", str(take), "--model", str(tiny_tflite["int8"]), "--floor-db", "10")
    assert result.returncode == CONFIG
    assert "floor_db 10.0 is outside" in result.stderr


@pytest.mark.parametrize("detector", ["learned", "flux"])
def test_either_detector_finds_the_demo_grooves_hits_on_their_attacks(detector, tiny_tflite):
    """``--detector``: both methods hear each of the bundled groove's 47 hits (its
    onsets CSV, notes within the 30 ms guard heard as one, at the first) within 5 ms
    of the attack, and nothing else."""
    from timbrecast.daemon import bundled

    demo = bundled.demo_recordings()[0]
    notes = np.unique(
        np.loadtxt(demo.with_name("groove.onsets.csv"), delimiter=",", skiprows=1, usecols=0)
    )
    truth = [notes[0]]
    for note in notes[1:]:
        if note - truth[-1] > 0.030:
            truth.append(note)
    result = daemon(
        "analyze", str(demo), "--model", str(tiny_tflite["int8"]), "--detector", detector
    )
    assert result.returncode == 0, result.stderr
    found = np.array([json.loads(line)["onset_s"] for line in result.stdout.splitlines()])
    assert found.size == len(truth) == 47
    assert np.abs(found - truth).max() < 0.005


def test_a_detector_setting_out_of_range_is_a_configuration_error(take, tiny_tflite) -> None:
    result = daemon("analyze", str(take), "--model", str(tiny_tflite["int8"]), "--activation", "2")
    assert result.returncode == CONFIG
    assert result.stderr.strip().endswith("activation 2.0 is outside 0.01..0.99")


def test_a_port_in_use_is_a_configuration_error(take, tiny_tflite) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = daemon(
            "run",
            "--file",
            str(take),
            "--fast",
            "--model",
            str(tiny_tflite["int8"]),
            "--endpoint",
            f"tcp://127.0.0.1:{port}",
        )
    assert result.returncode == CONFIG
    assert f"cannot publish on tcp://127.0.0.1:{port}" in result.stderr


def test_run_publishes_every_hit_to_a_subscriber(take, tiny_tflite, tmp_path) -> None:
    """Detected = published = received. The take starts with 1.5 s of silence, so
    the subscriber has joined (ZeroMQ's slow joiner) before the first hit."""
    audio, rate = soundfile.read(take, dtype="float32")
    padded = tmp_path / "padded.wav"
    soundfile.write(
        padded, np.concatenate([np.zeros((int(1.5 * rate), 2), np.float32), audio]), rate
    )
    context = zmq.Context.instance()
    sub = context.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.setsockopt(zmq.RCVHWM, 100000)
    endpoint = free_endpoint()
    sub.connect(endpoint)
    process = subprocess.Popen(
        [
            script("timbrecastd"),
            "run",
            "--file",
            str(padded),
            "--model",
            str(tiny_tflite["int8"]),
            "--endpoint",
            endpoint,
            "--sources",
            "snare,room",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    events = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if sub.poll(200):
            events.append(decode(sub.recv_multipart()))
        elif process.poll() is not None:
            break
    assert process.wait(timeout=30) == 0, process.stderr.read()
    sub.close(linger=0)
    for source in ("snare", "room"):
        onsets = [e for e in events if isinstance(e, Onset) and e.source == source]
        timbres = [
            e for e in events if isinstance(e, Timbre) and not e.provisional and e.source == source
        ]
        final = [e for e in events if isinstance(e, Status) and e.source == source][-1]
        assert len(onsets) >= 10
        assert isinstance(events[0], Status)
        assert final.hits == len(onsets) == len(timbres)
        assert final.drops == 0 and final.skipped == 0
        assert sorted(t.seq for t in timbres) == [o.seq for o in onsets]


def test_demo_shows_every_hit_of_the_bundled_recording(tiny_tflite) -> None:
    from timbrecast.daemon import bundled

    demo = bundled.demo_recordings()[0]
    analyzed = daemon("analyze", str(demo), "--model", str(tiny_tflite["int8"]))
    hits = len(analyzed.stdout.splitlines())
    shown = daemon(
        "demo", "--fast", "--model", str(tiny_tflite["int8"]), "--endpoint", free_endpoint()
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert sum(line.startswith("onset ") for line in lines) == hits
    assert sum(line.startswith("timbre ") for line in lines) == hits >= 40


def test_demo_says_which_early_estimate_is_which(tiny_tflite) -> None:
    """With both bundled early models each hit shows two provisional lines, one per ms
    of audio heard, the 10 ms one first."""
    shown = daemon(
        "demo",
        "--fast",
        "--model",
        str(tiny_tflite["int8"]),
        "--early-model",
        "early-10ms-int8.tflite,early-25ms-int8.tflite",
        "--endpoint",
        free_endpoint(),
    )
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    early = [line for line in lines if line.startswith("early ")]
    hits = sum(line.startswith("onset ") for line in lines)
    assert sum(line.endswith(", 10 ms of the hit)") for line in early) == hits >= 40
    assert sum(line.endswith(", 25 ms of the hit)") for line in early) == hits
    first = next(line for line in early if " #5 " in line)
    assert first.endswith(", 10 ms of the hit)")


def test_a_reader_that_goes_away_is_a_normal_end(take: Path, tiny_tflite) -> None:
    """``timbrecastd analyze take.wav | head -1``: the pipe closes before the hits are
    written (``true`` reads nothing), and that is an end, not an internal error."""
    command = f"{script('timbrecastd')} analyze {take} --model {tiny_tflite['int8']} | true"
    result = subprocess.run(
        ["bash", "-c", f"{command}; echo ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.stdout.strip() == "0", result.stderr
    assert "error" not in result.stderr and "Broken pipe" not in result.stderr


def test_missing_inputs_and_outputs_are_named_with_their_status(
    take, tiny_tflite, tmp_path
) -> None:
    (tmp_path / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    (tmp_path / "loop.wav").symlink_to(tmp_path / "loop.wav")
    model = ("--model", str(tiny_tflite["int8"]))
    for name, said in (
        ("none.wav", "no such file or directory"),
        ("dangling.wav", "dangling symbolic link"),
        ("loop.wav", "symbolic link loop"),
    ):
        result = daemon("analyze", str(take), str(tmp_path / name), *model)
        assert result.returncode == 66, result.stderr
        assert result.stderr.strip().splitlines() == [
            f"timbrecastd: {tmp_path / name}: {said}"
            + (f" (to {tmp_path / 'gone.wav'})" if name == "dangling.wav" else "")
        ]
    unwritable = tmp_path / "no-such-folder" / "hits.jsonl"
    result = daemon("analyze", str(take), "--jsonl", str(unwritable), *model)
    assert result.returncode == 73
    assert result.stderr.strip().splitlines() == [
        f"timbrecastd: {unwritable}: cannot write it (No such file or directory)"
    ]


def test_sigterm_finishes_the_file_at_hand_and_keeps_what_was_written(
    parity_dir, tiny_tflite, tmp_path
) -> None:
    """A library tagged in batches: each batch is on disk as soon as it is described, and
    SIGTERM ends the run after the batch at hand with a summary and status 0."""
    library = tmp_path / "library"
    library.mkdir()
    clips = sorted(parity_dir.glob("*.wav"))
    for copy in range(25):
        for clip in clips:
            (library / f"{copy:02d}-{clip.name}").symlink_to(clip)
    out = tmp_path / "tags.jsonl"
    process = subprocess.Popen(
        [
            *(script("timbrecastd"), "analyze", "--oneshot", str(library)),
            *("--jsonl", str(out), "--model", str(tiny_tflite["int8"])),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while not (out.exists() and out.stat().st_size) and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGTERM)
    assert process.wait(30) == 0
    lines = out.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line whole
    total = 25 * len(clips)
    assert 0 < len(records) < total
    summary = process.stderr.read().strip().splitlines()[-1]
    assert summary.startswith(f"{len(records)} hits from {len(records)} of {total} files")
    assert f"stopped by a signal, {total - len(records)} files not read" in summary


def test_what_cannot_be_read_is_named_and_counted(take, tiny_tflite) -> None:
    """As a user without the right to read: an unreadable file is skipped with "permission
    denied", an unreadable subfolder is counted, not passed over (root reads everything,
    so the daemon runs here as nobody)."""
    import os
    import shutil
    import tempfile

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the daemon as another user")
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        folder.chmod(0o755)
        shutil.copy(take, folder / "ok.wav")
        shutil.copy(take, folder / "locked.wav")
        shutil.copy(tiny_tflite["int8"], folder / "model.tflite")
        (folder / "private").mkdir()
        shutil.copy(take, folder / "private" / "hidden.wav")
        for path in folder.rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        (folder / "locked.wav").chmod(0o000)
        (folder / "private").chmod(0o000)
        result = subprocess.run(
            [
                *("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"),
                *(script("timbrecastd"), "analyze", str(folder)),
                *("--model", str(folder / "model.tflite"), "--jsonl", "/dev/null"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HOME": scratch},
        )
    assert result.returncode == DATA, result.stderr
    assert f"skipped {folder / 'locked.wav'}: permission denied" in result.stderr
    assert f"skipped folder {folder / 'private'}: Permission denied" in result.stderr
    assert "from 1 of 2 files, 1 skipped, 1 folders not read" in result.stderr


def test_analyze_keeps_channels_apart_as_run_does_unless_mixed(take, tiny_tflite) -> None:
    """A stereo take is two sources (named as run names them), or one with --mix; a
    file whose channels do not match --sources is skipped with the reason."""

    def sources(*flags: str) -> tuple[int, list[dict]]:
        result = daemon("analyze", str(take), "--model", str(tiny_tflite["int8"]), *flags)
        return result.returncode, [json.loads(line) for line in result.stdout.splitlines()]

    code, both = sources()
    assert code == 0 and {h["source"] for h in both} == {"in1", "in2"}
    onsets = [h["onset_s"] for h in both]
    assert onsets == sorted(onsets)
    code, named = sources("--sources", "close,room")
    assert code == 0 and [h["source"] for h in named] == [
        {"in1": "close", "in2": "room"}[h["source"]] for h in both
    ]
    code, mixed = sources("--mix")
    assert code == 0 and {h["source"] for h in mixed} == {"take"}
    assert len(mixed) == len([h for h in both if h["source"] == "in1"])
    code, none = sources("--sources", "one")
    assert code == DATA and none == []
