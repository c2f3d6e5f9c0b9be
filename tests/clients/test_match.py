"""``timbrecast-match``: a library tagged from real one-shots, real sockets, a real
OSC server; the k-d tree checked against a brute-force search."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
import soundfile

from tests.clients.test_osc import Received
from tests.clients.wire import VALUES, timbre
from tests.conftest import free_endpoint, script
from timbrecast.clients import match
from timbrecast.clients.match import Chooser, Library, Matcher, Sample, Space, load_library
from timbrecast.daemon.protocol import DESCRIPTORS

CONFIG = 78


def random_library(size: int, seed: int = 0) -> Library:
    rng = np.random.default_rng(seed)
    values = rng.uniform(0, 100, (size, len(DESCRIPTORS)))
    levels = rng.uniform(-70, 0, size)
    return Library(
        [
            Sample(f"s{i}.wav", tuple(v), float(r))
            for i, (v, r) in enumerate(zip(values, levels, strict=False))
        ],
        [],
    )


def test_a_library_reads_as_jsonl_and_csv_and_says_what_it_skips(
    library: Path, tmp_path: Path
) -> None:
    lines = library.read_text().splitlines()
    assert len(lines) == 40
    broken = tmp_path / "broken.jsonl"
    record = json.loads(lines[0])
    del record["descriptors"]["warmth"]
    broken.write_text("\n".join([*lines[:3], "{not json", json.dumps(record), ""]))
    loaded = load_library(broken)
    assert [s.path for s in loaded.samples] == [json.loads(line)["file"] for line in lines[:3]]
    assert loaded.skipped == [f"{broken}:4: not a JSON object", f"{broken}:5: 'no warmth'"]

    table = tmp_path / "library.csv"
    header = ["file", "rms_dbfs", *DESCRIPTORS]
    rows = [",".join(header)]
    for line in lines:
        r = json.loads(line)
        rows.append(
            ",".join(str(v) for v in [r["file"], r["rms_dbfs"], *r["descriptors"].values()])
        )
    table.write_text("\n".join(rows))
    from_csv = load_library(table)
    from_jsonl = load_library(library)
    assert from_csv.samples == from_jsonl.samples and not from_csv.skipped


@pytest.mark.parametrize(
    "space",
    [
        Space(),
        Space(("brightness", "hardness"), (2.0, 0.5)),
        Space(DESCRIPTORS, (1.0,) * 7, level=0.7),
    ],
)
def test_the_tree_finds_what_a_brute_force_search_finds(space: Space) -> None:
    library = random_library(2000)
    matcher = Matcher(library, space)
    points = np.stack(
        [
            space.point(dict(zip(DESCRIPTORS, s.descriptors, strict=True)), s.rms_dbfs)
            for s in library.samples
        ]
    )
    rng = np.random.default_rng(1)
    for _ in range(200):
        query = dict(zip(DESCRIPTORS, rng.uniform(0, 100, 7), strict=True))
        level = float(rng.uniform(-70, 0))
        distances = np.linalg.norm(points - space.point(query, level), axis=1)
        expected = np.argsort(distances)[:3].tolist()
        found = matcher.nearest(query, level, 3)
        assert [i for i, _ in found] == expected
        assert [d for _, d in found] == pytest.approx(distances[expected].tolist())


def test_a_descriptor_left_out_does_not_count() -> None:
    bright, dark = ([50.0] * 7, [50.0] * 7)
    dark[DESCRIPTORS.index("brightness")] = 0.0
    bright[DESCRIPTORS.index("hardness")] = 10.0
    lib = Library(
        [Sample("bright.wav", tuple(bright), -20.0), Sample("dark.wav", tuple(dark), -20.0)], []
    )
    query = dict.fromkeys(DESCRIPTORS, 50.0)
    assert Matcher(lib, Space()).nearest(query, -20.0, 1)[0][0] == 0  # 40 apart vs 50
    assert Matcher(lib, Space(("brightness",), (1.0,))).nearest(query, -20.0, 1)[0][0] == 0
    assert Matcher(lib, Space(("hardness",), (1.0,))).nearest(query, -20.0, 1)[0][0] == 1


def test_both_stages_send_the_final_only_when_it_changes_the_choice() -> None:
    lib = Library([Sample("a.wav", (20.0,) * 7, -20.0), Sample("b.wav", (80.0,) * 7, -20.0)], [])
    chooser = Chooser(Matcher(lib, Space()))
    low, high = dict.fromkeys(DESCRIPTORS, 25.0), dict.fromkeys(DESCRIPTORS, 75.0)
    first = chooser(timbre(seq=0, values=low, provisional=True))
    assert (first.stage, first.index, first.path) == ("provisional", 0, "a.wav")
    assert chooser(timbre(seq=0, values=low)) is None  # the same choice: nothing new
    assert chooser(timbre(seq=1, values=low, provisional=True)).index == 0
    changed = chooser(timbre(seq=1, values=high))
    assert (changed.stage, changed.index, changed.seq) == ("final", 1, 1)
    assert changed.distance == pytest.approx(np.sqrt(7) * 0.05)
    # A final without a provisional before it is always sent, as the hit's first.
    alone = chooser(timbre(seq=2, values=low))
    assert (alone.stage, alone.first) == ("final", True)
    assert first.first and not changed.first
    # A daemon that restarts counts seq from 0 again: its hit 3 is a new hit, not
    # the final of the hit 3 whose provisional came before the restart.
    assert chooser(timbre(seq=3, values=low, provisional=True)).first
    again = chooser(timbre(seq=3, at_s=60.0, values=high))
    assert (again.stage, again.index, again.first) == ("final", 1, True)

    only_final = Chooser(Matcher(lib, Space()), when="final")
    assert only_final(timbre(seq=0, values=low, provisional=True)) is None
    assert only_final(timbre(seq=0, values=low)).stage == "final"
    only_first = Chooser(Matcher(lib, Space()), when="first")
    assert only_first(timbre(seq=0, values=low, provisional=True)).stage == "provisional"
    assert only_first(timbre(seq=0, values=high)) is None
    assert only_first(timbre(seq=1, values=high)).first  # no provisional: the final


def test_a_second_provisional_estimate_answers_only_when_it_changes_the_choice() -> None:
    """Two early models (10 and 25 ms): the second provisional timbre is sent only if
    it moves the hit's choice, and the final is then held to the newer choice."""
    lib = Library([Sample("a.wav", (20.0,) * 7, -20.0), Sample("b.wav", (80.0,) * 7, -20.0)], [])
    low, high = dict.fromkeys(DESCRIPTORS, 25.0), dict.fromkeys(DESCRIPTORS, 75.0)
    chooser = Chooser(Matcher(lib, Space()))
    assert chooser(timbre(seq=0, values=low, provisional=True)).index == 0
    assert chooser(timbre(seq=0, values=low, provisional=True)) is None
    moved = chooser(timbre(seq=0, values=high, provisional=True))
    assert (moved.stage, moved.index, moved.first) == ("provisional", 1, False)
    assert chooser(timbre(seq=0, values=high)) is None  # the final agrees with it
    only_first = Chooser(Matcher(lib, Space()), when="first")
    assert only_first(timbre(seq=1, values=low, provisional=True)).index == 0
    assert only_first(timbre(seq=1, values=high, provisional=True)) is None
    assert only_first(timbre(seq=1, values=high)) is None


def test_random_of_k_never_repeats_and_stays_among_the_k() -> None:
    library = random_library(500)
    chooser = Chooser(Matcher(library, Space()), k=4, pick_random=True, when="final", seed=3)
    nearest = {i for i, _ in chooser.matcher.nearest(VALUES, -20.0, 4)}
    matches = [chooser(timbre(seq=seq)) for seq in range(200)]
    picks = [m.index for m in matches]
    assert set(picks) == nearest
    assert {tuple(i for i, _ in m.nearest) for m in matches} == {
        tuple(i for i, _ in chooser.matcher.nearest(VALUES, -20.0, 4))
    }
    assert all(a != b for a, b in itertools.pairwise(picks))


def test_a_final_keeps_the_random_pick_while_it_is_among_the_k() -> None:
    chooser = Chooser(Matcher(random_library(500), Space()), k=4, pick_random=True, seed=5)
    for seq in range(50):
        assert chooser(timbre(seq=seq, provisional=True)).stage == "provisional"
        assert chooser(timbre(seq=seq)) is None


def test_matches_reach_an_osc_server_and_stdout(background, daemon, library, capsys) -> None:
    received = Received()
    threading.Thread(target=received.server.serve_forever, daemon=True).start()
    try:
        argv = [str(library), "--to", f"127.0.0.1:{received.port}", "--connect", daemon.endpoint]
        command = background(match.main, [*argv, "--silence", "0", "--count", "2"])
        daemon.wait_subscribed([b"timbre/"])
        daemon.send(timbre(provisional=True), timbre(values=dict.fromkeys(DESCRIPTORS, 99.0)))
        assert command.join(10) == 0
        got = received.wait_for(2)
    finally:
        received.server.shutdown()
        received.server.server_close()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["stage"] for line in lines] == ["provisional", "final"]
    assert [address for address, _ in got] == ["/timbrecast/snare/match"] * 2
    for (_, args), line in zip(got, lines, strict=True):
        distance = pytest.approx(line["distance"])
        first = int(line["first"])
        assert args == (line["path"], line["index"], distance, line["stage"], line["seq"], first)
        assert Path(line["path"]).is_file()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["missing.jsonl"], "cannot read it"),
        (["LIB", "--descriptors", "brightness,loudness"], "--descriptors"),
        (["LIB", "--weight", "brightness"], "not NAME=W"),
        (["LIB", "--weight", "warmth=-1"], "0 or more"),
        (["LIB", "-k", "0"], "-k 0"),
        (["LIB", "--quiet"], "--quiet"),
        (["LIB", "--to", "nowhere"], "HOST:PORT"),
        (["LIB", "--when", "later"], "invalid choice"),
    ],
)
def test_bad_arguments_give_one_line_and_status_78(argv, message, library, capsys) -> None:
    argv = [str(library) if a == "LIB" else a for a in argv]
    try:
        status = match.main([*argv, "--connect", free_endpoint()])
    except SystemExit as exc:  # argparse's own refusals
        status = exc.code
    assert status == CONFIG
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0, err


def test_the_whole_chain_one_match_per_hit(library: Path, demo: Path, demo_onsets) -> None:
    """As docs/clients.md shows it: a library tagged from real one-shots, the daemon
    on a recorded groove, one final match per hit at a real OSC server."""
    received = Received()
    threading.Thread(target=received.server.serve_forever, daemon=True).start()
    endpoint = free_endpoint()
    matcher = subprocess.Popen(
        [
            *(script("timbrecast-match"), str(library), "--when", "final"),
            *("--to", f"127.0.0.1:{received.port}", "--connect", endpoint, "--silence", "0"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        subprocess.run(
            [
                *(script("timbrecastd"), "run", "--file", str(demo), "--fast"),
                *("--wait-subscriber", "--endpoint", endpoint, "--sources", "snare"),
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        stdout, stderr = matcher.communicate(timeout=30)
        got = received.wait_for(len(demo_onsets))
    finally:
        matcher.kill()
        received.server.shutdown()
        received.server.server_close()
    assert matcher.returncode == 0, stderr
    assert "40 samples, 0 records skipped" in stderr
    lines = [json.loads(line) for line in stdout.splitlines()]
    assert [line["seq"] for line in lines] == list(range(len(demo_onsets)))
    assert {line["stage"] for line in lines} == {"final"}
    assert len(got) == len(demo_onsets)
    assert [args[0] for _, args in got] == [line["path"] for line in lines]
    # The library is the parity clips: every choice is one of them, several are used.
    tagged = {json.loads(line)["file"] for line in library.read_text().splitlines()}
    assert {line["path"] for line in lines} <= tagged
    assert len({line["path"] for line in lines}) > 3


def test_play_sounds_each_hit_once_at_an_output(library: Path, demo: Path, null_sink) -> None:
    """--play through PortAudio into a real PulseAudio null sink, recorded from its
    monitor: every hit of the demo played once (on its provisional timbre), the
    recording holds them, and the hit-to-output latency is reported."""
    endpoint = free_endpoint()
    recording = library.parent / f"played-{null_sink}.wav"
    recorder = subprocess.Popen(
        ["parecord", f"--device={null_sink}.monitor", "--file-format=wav", str(recording)]
    )
    matcher = subprocess.Popen(
        [
            *(script("timbrecast-match"), str(library), "--play", "--device", "pulse"),
            *("--preload", "--quiet", "--when", "first", "--connect", endpoint, "--silence", "0"),
        ],
        env=dict(os.environ, PULSE_SINK=null_sink),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        started = matcher.stderr.readline()
        assert "40 samples, 0 records skipped" in started, started
        subprocess.run(
            [
                *(script("timbrecastd"), "run", "--file", str(demo), "--wait-subscriber"),
                *("--endpoint", endpoint, "--sources", "snare"),
            ],
            capture_output=True,
            check=True,
            timeout=60,
        )
        _, err = matcher.communicate(timeout=30)
    finally:
        matcher.kill()
        recorder.terminate()
        recorder.wait(10)
    assert matcher.returncode == 0, err
    played = re.search(
        r"played (\d+) samples \((\d+) cut.*, (\d+) unreadable\); hit to output: "
        r"median ([\d.]+) ms, p95 ([\d.]+) ms",
        err,
    )
    assert played, err
    assert int(played.group(1)) == 47 and played.group(3) == "0"
    assert 0 < float(played.group(4)) <= float(played.group(5))
    audio, _ = soundfile.read(recording)
    assert np.abs(audio).max() > 0.5  # the samples, at the demo's levels, not silence
