"""timbrecast-listen: JSON lines from a real socket, and the live view's content."""

from __future__ import annotations

import io
import json

import pytest
from rich.console import Console

from tests.clients.wire import VALUES, TestDaemon, onset, status, timbre
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
