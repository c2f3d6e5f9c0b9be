"""The MIDI bridge: recorded to a .mid file and read back, a live port where ALSA exists."""

from __future__ import annotations

import time
from pathlib import Path

import mido
import pytest

from tests.clients.wire import VALUES, TestDaemon, onset, status, timbre
from timbrecast.clients import midi
from timbrecast.clients.midibridge import MidiSettings, PortOutput
from timbrecast.clients.scaling import midi_velocity
from timbrecast.daemon.protocol import DESCRIPTORS

SEQUENCER = Path("/dev/snd/seq")
CCS = [70, 71, 72, 73, 74, 75, 76]


def read_back(path: Path) -> list[tuple[float, mido.Message]]:
    """(seconds from the start, message) for each channel message in the file."""
    at = 0.0
    found = []
    for message in mido.MidiFile(path):
        at += message.time
        if not message.is_meta:
            found.append((at, message))
    return found


def _record(background, daemon: TestDaemon, path: Path, *extra: str) -> list:
    argv = ["--record", str(path), "--connect", daemon.endpoint, "--silence", "0"]
    argv += ["--note", "kick=36", "--cc", ",".join(map(str, CCS)), "--count", "5", *extra]
    command = background(midi.main, argv)
    daemon.wait_subscribed([b"onset/", b"timbre/"])
    soft = {name: 10.0 for name in DESCRIPTORS}
    daemon.send(
        onset("snare", 0, peak=-6.0),
        status(),
        timbre("snare", 0, provisional=True, values=soft),
        onset("kick", 0, at_s=0.5, peak=-30.0),
        timbre("snare", 0),  # arrives after the kick's onset, stamped at the snare's
        timbre("kick", 0, at_s=0.5, values=soft),
    )
    assert command.join() == 0
    return read_back(path)


def test_record_notes_and_controls_at_their_hits(background, daemon, tmp_path) -> None:
    found = _record(background, daemon, tmp_path / "take.mid")
    notes = [
        (round(t, 3), m.type, m.note, m.velocity) for t, m in found if m.type != "control_change"
    ]
    assert notes == [
        (0.0, "note_on", 38, 114),  # -6 dBFS on a -60 dB floor: 1 + round(126 * 0.9)
        (0.05, "note_off", 38, 0),
        (0.5, "note_on", 36, 64),  # -30 dBFS: 1 + round(126 * 0.5)
        (0.55, "note_off", 36, 0),
    ]
    controls = [(round(t, 3), m.control, m.value) for t, m in found if m.type == "control_change"]
    snare = [round(VALUES[name] * 1.27) for name in DESCRIPTORS]
    assert controls == [(0.0, cc, v) for cc, v in zip(CCS, snare, strict=True)] + [
        (0.5, cc, 13) for cc in CCS
    ]
    assert {m.channel for _, m in found} == {9}  # channel 10, counted from 0 in the file
    first_note = next(i for i, (_, m) in enumerate(found) if m.type == "note_on")
    assert first_note == 7  # the hit's controls come first on its tick


def test_record_with_provisional(background, daemon, tmp_path) -> None:
    found = _record(background, daemon, tmp_path / "take.mid", "--provisional")
    controls = [m for _, m in found if m.type == "control_change"]
    assert len(controls) == 21
    assert [m.value for m in controls[:7]] == [13] * 7  # the early estimate, then the final


def test_velocity_mapping() -> None:
    assert [midi_velocity(db) for db in (3.0, 0.0, -30.0, -60.0, -90.0)] == [127, 127, 64, 1, 1]
    assert midi_velocity(-12.0, floor_db=-24.0) == 64


class Wire:
    """A port that keeps what is sent, to check the note-off timing of ``PortOutput``."""

    def __init__(self) -> None:
        self.sent: list[mido.Message] = []
        self.closed = False

    def send(self, message: mido.Message) -> None:
        self.sent.append(message)

    def close(self) -> None:
        self.closed = True


def test_port_output_sends_note_offs_when_due_and_on_close() -> None:
    wire = Wire()
    out = PortOutput(wire)
    out.send(mido.Message("note_on", note=38), 0.0)
    out.send(mido.Message("note_off", note=38), 0.0, delay_s=0.05)
    out.send(mido.Message("note_off", note=36), 0.0, delay_s=5.0)
    assert [m.type for m in wire.sent] == ["note_on"]
    assert 0.0 < out.flush() <= 0.05
    time.sleep(0.06)
    assert 4.0 < out.flush() <= 5.0
    assert [m.note for m in wire.sent] == [38, 38]
    out.close()
    assert [m.note for m in wire.sent] == [38, 38, 36] and wire.closed


@pytest.mark.skipif(not SEQUENCER.exists(), reason="no ALSA sequencer (/dev/snd/seq)")
def test_virtual_port_sends_to_a_reader(background, daemon) -> None:
    argv = ["--virtual", "timbrecast-test", "--connect", daemon.endpoint, "--silence", "0"]
    command = background(midi.main, [*argv, "--count", "2"])
    daemon.wait_subscribed([b"onset/", b"timbre/"])
    deadline = time.monotonic() + 5.0
    while not (names := [n for n in mido.get_input_names() if "timbrecast-test" in n]):
        assert time.monotonic() < deadline, "the virtual port did not appear"
        time.sleep(0.05)
    with mido.open_input(names[0]) as port:
        daemon.send(onset(peak=0.0), timbre())
        assert command.join() == 0
        got = []
        while len(got) < 9 and time.monotonic() < deadline:
            got.extend(port.iter_pending())
            time.sleep(0.01)
    assert [m.type for m in got] == ["note_on", *["control_change"] * 7, "note_off"]
    assert got[0].velocity == 127


def test_list_ports_says_when_there_is_no_midi_system(capsys) -> None:
    assert midi.main(["--list-ports"]) == (0 if SEQUENCER.exists() else 69)
    if not SEQUENCER.exists():
        assert "no MIDI system" in capsys.readouterr().err


def test_help_has_an_example(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        midi.main(["--help"])
    assert exit_.value.code == 0
    assert "examples:\n  timbrecast-midi" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [
        ["--channel", "17"],
        ["--cc", "1,2,3"],
        ["--cc", "1,1,2,3,4,5,6"],
        ["--cc", "a,b"],
        ["--note", "snare"],
        ["--note", "snare=200"],
        ["--record", "/nonexistent/take.mid"],
        ["--record", "x.mid", "--port", "y"],
    ],
)
def test_bad_arguments_give_one_line_and_status_78(argv, capsys) -> None:
    try:
        status_ = midi.main([*argv, "--silence", "0"])
    except SystemExit as exit_:
        status_ = exit_.code
    assert status_ == 78
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith("timbrecast-midi: ")


def test_settings_refuse_controller_numbers_of_channel_modes() -> None:
    with pytest.raises(ValueError, match="0-119"):
        MidiSettings(ccs=(120, 21, 22, 23, 24, 25, 26))


def test_a_rogue_timestamp_is_left_out_of_the_file_and_counted(
    background, daemon, tmp_path, capsys
) -> None:
    """A publisher whose clock is ten years off must not turn a take into a file of a
    ten-year silence (or one whose delta time MIDI cannot hold)."""
    path = tmp_path / "take.mid"
    argv = ["--record", str(path), "--connect", daemon.endpoint, "--silence", "0", "--count", "3"]
    command = background(midi.main, argv)
    daemon.wait_subscribed([b"onset/", b"timbre/"])
    rogue = onset("snare", 1, at_s=10 * 365 * 86400.0)
    daemon.send(onset("snare", 0), rogue, onset("snare", 2, at_s=0.2))
    assert command.join() == 0
    found = read_back(path)
    assert [m.type for _, m in found] == ["note_on", "note_off", "note_on", "note_off"]
    assert max(t for t, _ in found) < 1.0
    assert "2 messages left out of" in capsys.readouterr().err  # the rogue's on and off
