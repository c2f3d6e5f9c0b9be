"""Cutting one-shots on the bundled (real) drum recording: the same cuts however
the stream is blocked, each one exactly the stream's samples."""

from __future__ import annotations

import numpy as np
import pytest

from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.onset import OnsetDetector
from timbrecast.daemon.preprocess import to_mono
from timbrecast.daemon.segment import Segment, Segmenter


@pytest.fixture(scope="module")
def stream() -> tuple[np.ndarray, int]:
    """The demo three times over: 33 s, several times what the segmenter keeps, so
    its buffer is compacted many times along the way."""
    demo = audiofile.read(bundled.demo_recordings()[0])
    return np.tile(to_mono(demo.frames).astype(np.float32), 3), demo.sample_rate


def cut(audio: np.ndarray, rate: int, block: int, full_second: bool = False) -> list[Segment]:
    detector = OnsetDetector(rate)
    segmenter = Segmenter(rate, full_second=full_second)
    segments = []
    for start in range(0, audio.size, block):
        samples = audio[start : start + block]
        segments += segmenter.process(samples, detector.process(samples))
    return segments + segmenter.flush()


@pytest.mark.parametrize("full_second", [False, True])
def test_the_cuts_do_not_depend_on_the_blocks(stream, full_second: bool) -> None:
    audio, rate = stream
    whole = cut(audio, rate, audio.size, full_second)
    assert len(whole) >= 3 * 40
    for block in (128, 1000):
        blocked = cut(audio, rate, block, full_second)
        assert [(s.onset, s.start, s.ended_by) for s in blocked] == [
            (s.onset, s.start, s.ended_by) for s in whole
        ]
        for mine, theirs in zip(blocked, whole, strict=True):
            np.testing.assert_array_equal(mine.audio, theirs.audio)


def test_each_cut_is_the_streams_own_samples(stream) -> None:
    audio, rate = stream
    segments = cut(audio, rate, 128)
    assert {s.ended_by for s in segments} >= {"next-onset", "decay"}
    for segment in segments:
        assert 0 < segment.audio.size <= rate
        np.testing.assert_array_equal(
            segment.audio, audio[segment.start : segment.start + segment.audio.size]
        )
