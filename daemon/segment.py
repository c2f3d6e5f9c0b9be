"""Cutting one-shots out of a channel's stream, once its onsets are known.

Each one-shot starts ``PREROLL_S`` before its onset and ends at whichever comes
first: one second, the next onset's start on the same channel, or the moment
the hit has decayed into the noise floor. The model then sees the rest as zero
padding, as in training. ``full_second`` keeps the seed's behaviour: always a
full second, overlapping the next hits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from timbrecast.daemon.contract import INPUT_LENGTH, SAMPLE_RATE
from timbrecast.daemon.onset import OnsetEvent
from timbrecast.daemon.preprocess import PREROLL_S

MAX_S = INPUT_LENGTH / SAMPLE_RATE
DECAY_WINDOW_S = 0.01
DECAY_AFTER_S = 0.03
DECAY_MARGIN_DB = 6.0


@dataclass(frozen=True)
class Segment:
    """A cut one-shot at the channel's native rate."""

    onset: OnsetEvent
    start: int
    audio: np.ndarray
    ended_by: str


@dataclass
class _Open:
    onset: OnsetEvent
    start: int
    end: int
    checked: int
    ended_by: str = "length"

    def cut_at(self, end: int, reason: str) -> None:
        if end < self.end:
            self.end, self.ended_by = end, reason


class Segmenter:
    """Stateful segmenter for one channel; ``process`` after the detector's."""

    def __init__(
        self, sample_rate: int, floor_db: float = -70.0, full_second: bool = False
    ) -> None:
        self.sample_rate = sample_rate
        self.floor_db = floor_db
        self.full_second = full_second
        self.preroll = round(PREROLL_S * sample_rate)
        self.length = round(MAX_S * sample_rate)
        self._window = max(1, round(DECAY_WINDOW_S * sample_rate))
        self._after = round(DECAY_AFTER_S * sample_rate)
        self._keep = self.length + self.preroll + round(0.1 * sample_rate)
        # What has been heard is self._buffer[:self._fill], stream sample
        # self._buffer_start first. Blocks are copied in place; only when the
        # buffer is full are the samples still needed moved to its start, so a
        # live stream's 128-frame block costs one small copy, not a second of audio.
        self._buffer = np.zeros(4 * self._keep, dtype=np.float32)
        self._fill = 0
        self._buffer_start = 0
        self._open: list[_Open] = []

    @property
    def stream_end(self) -> int:
        return self._buffer_start + self._fill

    def process(self, block: np.ndarray, onsets: list[OnsetEvent]) -> list[Segment]:
        """Append the block, open a segment per onset, return those that ended."""
        self._append(np.asarray(block, dtype=np.float32).ravel())
        done: list[Segment] = []
        for onset in onsets:
            start = max(onset.sample - self.preroll, self._buffer_start)
            if not self.full_second:
                for segment in self._open:
                    segment.cut_at(max(start, segment.onset.sample + 1), "next-onset")
            self._open.append(_Open(onset, start, start + self.length, onset.sample + self._after))
        if not self.full_second:
            for segment in self._open:
                self._check_decay(segment)
        still_open = []
        for segment in self._open:
            if segment.end <= self.stream_end:
                done.append(self._cut(segment))
            else:
                still_open.append(segment)
        self._open = still_open
        return done

    def _append(self, block: np.ndarray) -> None:
        if self._fill + block.size > self._buffer.size:
            oldest = min([s.start for s in self._open], default=self.stream_end)
            drop = max(0, min(oldest, self.stream_end - self._keep) - self._buffer_start)
            kept = self._fill - drop
            if kept + block.size > self._buffer.size:
                grown = np.zeros(2 * (kept + block.size), dtype=np.float32)
                grown[:kept] = self._buffer[drop : self._fill]
                self._buffer = grown
            else:
                self._buffer[:kept] = self._buffer[drop : self._fill]
            self._fill = kept
            self._buffer_start += drop
        self._buffer[self._fill : self._fill + block.size] = block
        self._fill += block.size

    def audio_between(self, start: int, end: int) -> np.ndarray:
        """What has been heard from ``start`` (or the oldest kept sample) to ``end``: a
        view, valid until the next block comes in (copy what is kept)."""
        lo = max(0, start - self._buffer_start)
        return self._buffer[lo : max(lo, min(end - self._buffer_start, self._fill))]

    def flush(self) -> list[Segment]:
        """End of stream: cut every open segment at what has been heard."""
        done = []
        for segment in self._open:
            segment.cut_at(self.stream_end, "end-of-stream")
            done.append(self._cut(segment))
        self._open = []
        return done

    def _check_decay(self, segment: _Open) -> None:
        """Move the segment's end to the first 10 ms window near the floor."""
        limit = min(segment.end, self.stream_end)
        while segment.checked + self._window <= limit:
            lo = segment.checked - self._buffer_start
            window = self._buffer[lo : lo + self._window].astype(np.float64)
            level = 10.0 * np.log10(max(float(np.mean(window**2)), 1e-24))
            segment.checked += self._window
            if level < self.floor_db + DECAY_MARGIN_DB:
                segment.cut_at(segment.checked, "decay")
                return

    def _cut(self, segment: _Open) -> Segment:
        lo = segment.start - self._buffer_start
        audio = self._buffer[lo : lo + (segment.end - segment.start)].copy()
        return Segment(segment.onset, segment.start, audio, segment.ended_by)
