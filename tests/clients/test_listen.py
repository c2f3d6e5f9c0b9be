"""timbrecast-listen: JSON lines from a real socket, and the live view's content."""

from __future__ import annotations

import io
import json
import subprocess
import time

import pytest
from rich.console import Console

from tests.clients.wire import VALUES, TestDaemon, end, onset, status, timbre
from tests.conftest import free_endpoint, script
from timbrecast.clients import listen
from timbrecast.clients.listen import View, as_json
from timbrecast.clients.subscriber import Counters, Silent


def test_jsonl_prints_one_object_per_event(background, daemon: TestDaemon, capsys) -> None:
    argv = ["--jsonl", "--connect", daemon.endpoint, "--count", "3", "--silence", "0"]
    command = background(listen.main, argv)
    daemon.wait_subscribed([b""])
    daemon.send(onset(), timbre(), status())
    assert command.join() == 0
    lines = capsys.readouterr().out.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["kind"] for e in events] == ["onset", "timbre", "status"]
    assert events[1]["descriptors"] == VALUES
    assert events[1]["source"] == "snare" and events[1]["provisional"] is False
    assert events[2]["state"] == "running"


def test_jsonl_kind_and_final_keep_exactly_what_was_asked(background, daemon, capsys) -> None:
    """``--kind timbre --final``: one line per hit, its final timbre; no provisional one,
    no silence notice (which a ``jq .descriptors`` reader would see as null), and the
    command ends by itself with the stream."""
    argv = ["--jsonl", "--connect", daemon.endpoint, "--kind", "timbre", "--final"]
    command = background(listen.main, [*argv, "--silence", "0.3"])
    daemon.wait_subscribed([b"timbre/", b"status/", b"end/"])
    daemon.send(timbre(provisional=True), timbre(), status())
    daemon.send(timbre("snare", 1, provisional=True), timbre("snare", 1))
    time.sleep(0.5)  # long enough for the source to be reported silent
    daemon.send(end(hits=2))
    assert command.join() == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["kind"], e["seq"], e["provisional"]) for e in events] == [
        ("timbre", 0, False),
        ("timbre", 1, False),
    ]


def test_count_counts_the_lines_printed(background, daemon: TestDaemon, capsys) -> None:
    argv = ["--jsonl", "--connect", daemon.endpoint, "--kind", "timbre", "--final"]
    command = background(listen.main, [*argv, "--count", "2", "--silence", "0"])
    daemon.wait_subscribed([b"timbre/", b"end/"])
    for seq in range(3):
        daemon.send(timbre("snare", seq, provisional=True), timbre("snare", seq))
    assert command.join() == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["seq"], e["provisional"]) for e in events] == [(0, False), (1, False)]


def test_listen_ends_with_a_file_the_daemon_publishes(demo, demo_onsets) -> None:
    """As docs/clients.md shows it: the daemon on a file, the listener in a pipe; both
    exit 0 once the file is done, every hit's onset and final timbre printed, then end."""
    endpoint = free_endpoint()
    listener = subprocess.Popen(
        [script("timbrecast-listen"), "--jsonl", "--connect", endpoint, "--silence", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        daemon = [script("timbrecastd"), "run", "--file", str(demo), "--fast"]
        subprocess.run(
            [*daemon, "--wait-subscriber", "--endpoint", endpoint, "--sources", "snare"],
            capture_output=True,
            check=True,
            timeout=60,
        )
        stdout, _ = listener.communicate(timeout=30)
    finally:
        listener.kill()
    events = [json.loads(line) for line in stdout.splitlines()]
    assert listener.returncode == 0
    kinds = [e["kind"] for e in events]
    assert kinds.count("onset") == len(demo_onsets)
    finals = [e for e in events if e["kind"] == "timbre" and not e["provisional"]]
    assert len(finals) == len(demo_onsets)
    assert {e["source"] for e in events} == {"snare"}
    assert events[-1] == {
        "kind": "end",
        "source": "snare",
        "hits": len(demo_onsets),
        "stream_time_s": pytest.approx(events[-1]["stream_time_s"]),
        "reason": "end-of-input",
    }
    onsets = {e["seq"]: e for e in events if e["kind"] == "onset"}
    for timbre_ in finals:
        hit = onsets[timbre_["seq"]]
        assert (timbre_["peak_dbfs"], timbre_["rms_dbfs"]) == (hit["peak_dbfs"], hit["rms_dbfs"])
        assert timbre_["latency_ms"] >= 0.0


def test_jsonl_of_a_notice() -> None:
    assert as_json(Silent("kick", 3.5)) == {"kind": "silent", "source": "kick", "silent_s": 3.5}


def _text(view: View, counters: Counters, last_error: str | None, now: float) -> str:
    console = Console(file=io.StringIO(), width=120, record=True, color_system=None)
    console.print(view.render(counters, last_error, now))
    return console.export_text()


def test_live_view_shows_descriptors_rate_latency_and_status() -> None:
    view = View()
    for seq, at in enumerate((100.0, 100.5, 101.0)):
        view.update(onset(seq=seq), at)
        view.update(timbre(seq=seq), at + 0.02)  # the same hit: counted once
    view.update(status(), 101.1)
    view.update(status("kick", state="device lost, retrying"), 101.1)
    text = _text(view, Counters(delivered=8), None, 101.2)
    assert "snare" in text and "running" in text
    assert "0.3 hits/s" in text  # three hits in the ten-second window
    assert "latency 21.5 ms" in text and "#2" in text
    for name in VALUES:
        assert name in text
    assert f"{VALUES['brightness']:.1f}" in text
    assert "device lost, retrying" in text
    assert "malformed" not in text


def test_live_view_shows_silence_and_skipped_messages() -> None:
    view = View()
    view.update(Silent("kick", 3.0), 50.0)
    counters = Counters(received=3, malformed=2, unknown_version=1)
    text = _text(view, counters, "schema version 2 (this client reads 1)", 52.0)
    assert "silent for 5 s" in text
    assert "skipped 2 malformed and 1 of another schema version" in text


def test_live_view_runs_against_a_daemon(background, daemon: TestDaemon, capsys) -> None:
    command = background(listen.main, ["--connect", daemon.endpoint, "--count", "2"])
    daemon.wait_subscribed([b""])
    daemon.send(onset(), timbre())
    assert command.join() == 0
    assert "brightness" in capsys.readouterr().out


def test_help_has_an_example(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        listen.main(["--help"])
    assert exit_.value.code == 0
    assert "examples:\n  timbrecast-listen" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["--kind", "bogus"], ["--silence", "-1"], ["--count", "0"], ["--connect", "nonsense"]],
)
def test_bad_arguments_give_one_line_and_status_78(argv, capsys) -> None:
    try:
        status_ = listen.main(["--jsonl", *argv])
    except SystemExit as exit_:
        status_ = exit_.code
    assert status_ == 78
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("timbrecast-listen: ")
