"""Hits as MIDI: the mapping (``MidiSettings``, ``MidiBridge``) and where the messages
go, a live port or a Standard MIDI File. ``timbrecast-midi`` is its command line."""

from __future__ import annotations

import heapq
import itertools
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from timbrecast.clients import _cli
from timbrecast.clients.scaling import DEFAULT_FLOOR_DB, midi_velocity, ordered
from timbrecast.clients.subscriber import Item, Onset, Timbre
from timbrecast.daemon.protocol import DESCRIPTORS

if TYPE_CHECKING:
    import mido

PROG = "timbrecast-midi"
DEFAULT_CHANNEL = 10  # General MIDI's drum channel
DEFAULT_NOTE = 38  # General MIDI's acoustic snare
#: Controllers 20-31 are undefined in the MIDI spec, free for this.
DEFAULT_CCS = (20, 21, 22, 23, 24, 25, 26)
DEFAULT_GATE_MS = 50.0
TICKS_PER_BEAT = 480
TEMPO = 500_000  # microseconds per beat: 120 BPM, so a tick is 1/960 s
#: Messages further than this from the recording's middle are left out of a file
#: (a MIDI delta time holds at most 0x0FFFFFFF ticks, about 77 hours here).
MAX_SPAN_S = 24 * 3600.0


@dataclass(frozen=True)
class MidiSettings:
    """How hits become MIDI. Channel is 1-16 as on a device; notes and CCs 0-127."""

    channel: int = DEFAULT_CHANNEL
    notes: dict[str, int] = field(default_factory=dict)
    default_note: int = DEFAULT_NOTE
    ccs: tuple[int, ...] = DEFAULT_CCS
    floor_db: float = DEFAULT_FLOOR_DB
    gate_s: float = DEFAULT_GATE_MS / 1000
    provisional: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.channel <= 16:
            raise ValueError(f"channel {self.channel} is not 1-16")
        for source, note in [*self.notes.items(), ("default", self.default_note)]:
            if not 0 <= note <= 127:
                raise ValueError(f"note {note} for {source} is not 0-127")
        if len(self.ccs) != len(DESCRIPTORS) or len(set(self.ccs)) != len(self.ccs):
            raise ValueError(f"--cc needs {len(DESCRIPTORS)} distinct controller numbers")
        if not all(0 <= cc <= 119 for cc in self.ccs):
            raise ValueError("controller numbers must be 0-119 (120-127 are channel modes)")
        if not self.floor_db < 0:
            raise ValueError(f"the velocity floor {self.floor_db:g} is not below 0 dBFS")
        if not self.gate_s > 0:
            raise ValueError(f"the gate {self.gate_s * 1000:g} ms is not positive")

    def note(self, source: str) -> int:
        return self.notes.get(source, self.default_note)


class Output(Protocol):
    """Where messages go. ``stamp_s`` is the hit's time on the daemon's UNIX clock."""

    def send(self, message: mido.Message, stamp_s: float, delay_s: float = 0.0) -> None: ...

    def flush(self) -> float | None:
        """Send what is due; seconds until something else is, or None."""

    def close(self) -> None: ...


class PortOutput:
    """A live port: messages go out now, delayed ones (note-offs) when due."""

    def __init__(self, port: mido.ports.BaseOutput) -> None:
        self._port = port
        self._later: list[tuple[float, int, mido.Message]] = []
        self._order = itertools.count()

    def send(self, message: mido.Message, stamp_s: float, delay_s: float = 0.0) -> None:
        if delay_s <= 0:
            self._port.send(message)
        else:
            heapq.heappush(self._later, (time.monotonic() + delay_s, next(self._order), message))

    def flush(self) -> float | None:
        now = time.monotonic()
        while self._later and self._later[0][0] <= now:
            self._port.send(heapq.heappop(self._later)[2])
        return self._later[0][0] - now if self._later else None

    def close(self) -> None:
        """Send the pending note-offs at once (no hanging notes), then close."""
        while self._later:
            self._port.send(heapq.heappop(self._later)[2])
        self._port.close()


#: Order on one tick in a recorded file: note-offs of earlier hits (so they never
#: cut a new note short), then a hit's timbre, then its note.
_RANK = {"note_off": 0, "control_change": 1, "note_on": 2}


class FileRecorder:
    """A Standard MIDI File written on close, each message at its hit's time.

    Times come from the daemon's stamps, not from arrival, so network jitter and
    model latency do not smear the groove; the file starts at the first hit. On
    one tick, control changes come before the note-on, so that playing the file
    back drives a synth with each hit's own timbre.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._events: list[tuple[float, int, int, mido.Message]] = []
        self._order = itertools.count()
        #: Messages left out of the file: stamped too far from the others to place.
        self.left_out = 0

    def send(self, message: mido.Message, stamp_s: float, delay_s: float = 0.0) -> None:
        rank = _RANK[message.type]
        self._events.append((stamp_s + delay_s, rank, next(self._order), message))

    def flush(self) -> float | None:
        return None

    def close(self) -> None:
        import mido

        track = mido.MidiTrack()
        track.append(mido.MetaMessage("track_name", name="timbrecast", time=0))
        track.append(mido.MetaMessage("set_tempo", tempo=TEMPO, time=0))
        events = sorted(self._events, key=lambda e: e[:3])
        if events:
            # A stamp days away from the rest (a publisher with a wrong clock) would
            # need a delta time beyond what a MIDI file can hold: leave it out, counted.
            middle = events[len(events) // 2][0]
            kept = [e for e in events if abs(e[0] - middle) <= MAX_SPAN_S]
            self.left_out = len(events) - len(kept)
            events = kept
        tick = 0
        for stamp, *_, message in events:
            at = round(mido.second2tick(stamp - events[0][0], TICKS_PER_BEAT, TEMPO))
            track.append(message.copy(time=at - tick))
            tick = at
        track.append(mido.MetaMessage("end_of_track", time=0))
        midi_file = mido.MidiFile(type=0, ticks_per_beat=TICKS_PER_BEAT)
        midi_file.tracks.append(track)
        midi_file.save(self.path)
        if self.left_out:
            print(
                f"{PROG}: {self.left_out} messages left out of {self.path}: stamped over "
                f"{MAX_SPAN_S / 3600:g} h from the rest of the recording",
                file=sys.stderr,
            )


class MidiBridge:
    """Maps items to MIDI on an ``Output``; call ``flush`` between items."""

    def __init__(self, output: Output, settings: MidiSettings) -> None:
        self.output = output
        self.settings = settings

    def __call__(self, item: Item) -> None:
        import mido

        channel = self.settings.channel - 1  # mido counts channels from 0
        if _cli.is_notice(item):
            print(f"{PROG}: {_cli.notice(item)}", file=sys.stderr)
        elif isinstance(item, Onset):
            stamp = item.unix_ns / 1e9
            note = self.settings.note(item.source)
            velocity = midi_velocity(item.peak_dbfs, self.settings.floor_db)
            on = mido.Message("note_on", channel=channel, note=note, velocity=velocity)
            self.output.send(on, stamp)
            off = mido.Message("note_off", channel=channel, note=note, velocity=0)
            self.output.send(off, stamp, self.settings.gate_s)
        elif isinstance(item, Timbre) and (self.settings.provisional or not item.provisional):
            stamp = item.unix_ns / 1e9
            for cc, value in zip(self.settings.ccs, ordered(item.descriptors), strict=True):
                self.output.send(
                    mido.Message(
                        "control_change", channel=channel, control=cc, value=round(value * 1.27)
                    ),
                    stamp,
                )
