"""The onset detector on real drum samples (the gmrockkit one-shots of the parity
fixture, 1 s at 16 kHz, resampled to 44.1 kHz as a capture device would give them).

Each case places samples at known times, so where an onset must be, and how many,
is known to the sample; each runs with both methods (learned and flux).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soxr

from timbrecast.daemon import audiofile, bundled
from timbrecast.daemon.onset import METHODS, DetectorSettings, OnsetDetector
from timbrecast.daemon.preprocess import attack_index, to_mono
from timbrecast.trainer.grooves import room, room_tail

RATE = 44_100
LEAD_S = 0.3


def sample(parity_dir: Path, name: str) -> np.ndarray:
    """A one-shot at RATE, cut to start at its attack, peak 1."""
    audio = audiofile.read(parity_dir / f"gmrockkit-{name}.wav")
    mono = soxr.resample(to_mono(audio.frames), audio.sample_rate, RATE, quality="HQ")
    mono = mono[attack_index(mono) :]
    # The clips stop dead at 1 s: fade the last 50 ms, or that edge is a click.
    mono[-RATE // 20 :] *= np.linspace(1.0, 0.0, RATE // 20)
    return (mono / np.abs(mono).max()).astype(np.float32)


def play(notes: list[tuple[float, np.ndarray, float]], seconds: float) -> np.ndarray:
    """Each (time s, one-shot, gain) mixed in at its time."""
    mix = np.zeros(round(seconds * RATE), dtype=np.float32)
    for time_s, audio, gain in notes:
        start = round(time_s * RATE)
        part = audio[: mix.size - start]
        mix[start : start + part.size] += gain * part
    return mix


@pytest.fixture(params=METHODS)
def method(request: pytest.FixtureRequest) -> str:
    return request.param


def onsets(audio: np.ndarray, method: str, **settings: float) -> list[float]:
    """Onset times (s), fed in the daemon's 128-frame blocks."""
    detector = OnsetDetector(RATE, DetectorSettings(method=method, **settings))
    found = []
    for start in range(0, audio.size, 128):
        found += [e.sample / RATE for e in detector.process(audio[start : start + 128])]
    return found


@pytest.mark.parametrize("name", ["Snare-Hard", "Crash-Hard", "Tom2-Hard", "HatOpen-Med"])
def test_one_stroke_is_one_onset_on_its_attack(parity_dir: Path, name: str, method: str) -> None:
    """A snare's rattle or a cymbal's wash must not retrigger."""
    found = onsets(play([(LEAD_S, sample(parity_dir, name), 0.9)], 2.5), method)
    assert len(found) == 1, found
    assert found[0] == pytest.approx(LEAD_S, abs=0.002)


def test_a_flam_is_one_hit_unless_the_guard_is_lowered(parity_dir: Path, method: str) -> None:
    snare = sample(parity_dir, "Snare-Hard")
    flam = play([(LEAD_S, snare, 0.4), (LEAD_S + 0.027, snare, 0.9)], 1.5)
    assert onsets(flam, method) == [pytest.approx(LEAD_S, abs=0.002)]
    both = onsets(flam, method, min_interval=0.010)
    assert both == [pytest.approx(LEAD_S, abs=0.002), pytest.approx(LEAD_S + 0.027, abs=0.002)]


def test_a_hit_over_a_ringing_one_is_placed_on_its_own_attack(
    parity_dir: Path, method: str
) -> None:
    """The attack search looks back from the new hit's peak, not from where the
    earlier hit (still loud in the same 20 ms) crosses the threshold."""
    tom, snare = sample(parity_dir, "TomFloor-Hardest"), sample(parity_dir, "Snare-Hard")
    times = [LEAD_S, LEAD_S + 0.045, LEAD_S + 0.160]
    found = onsets(
        play([(times[0], tom, 0.9), (times[1], snare, 0.9), (times[2], snare, 0.5)], 2), method
    )
    assert found == [pytest.approx(t, abs=0.002) for t in times]


def test_a_ghost_note_after_a_full_stroke_is_heard(parity_dir: Path, method: str) -> None:
    snare = sample(parity_dir, "Snare-Hard")
    ghost_gain = 10 ** (-24 / 20)
    found = onsets(play([(LEAD_S, snare, 0.9), (LEAD_S + 0.150, snare, ghost_gain)], 1.5), method)
    # The ghost's attack barely rises out of the snare's rattle, so where it
    # starts is less sharp than for a stroke out of silence.
    assert found == [pytest.approx(LEAD_S, abs=0.002), pytest.approx(LEAD_S + 0.150, abs=0.015)]


def test_quiet_noise_between_hits_is_not_a_hit(parity_dir: Path, method: str) -> None:
    """A mic's hiss at -70 dBFS RMS, the default floor: only the two strokes."""
    kick = sample(parity_dir, "Kick-Softest")
    mix = play([(LEAD_S, kick, 0.9), (LEAD_S + 0.8, kick, 0.9)], 2.0)
    mix += np.random.default_rng(0).normal(0, 10 ** (-70 / 20), mix.size).astype(np.float32)
    found = onsets(mix, method)
    assert found == [pytest.approx(LEAD_S, abs=0.002), pytest.approx(LEAD_S + 0.8, abs=0.002)]


def test_a_stream_that_starts_in_noise_has_no_hit_there(parity_dir: Path, method: str) -> None:
    """Hiss well above the floor from the first sample (a live input as it opens)."""
    kick = sample(parity_dir, "Kick-Softest")
    mix = play([(LEAD_S, kick, 0.9)], 1.5)
    mix += np.random.default_rng(1).normal(0, 10 ** (-50 / 20), mix.size).astype(np.float32)
    assert onsets(mix, method) == [pytest.approx(LEAD_S, abs=0.002)]


def test_a_stream_that_starts_on_a_hit_has_it_at_zero(parity_dir: Path, method: str) -> None:
    """A one-shot file analysed without --oneshot: its attack is sample 0."""
    for name in ("Snare-Hard", "Kick-Softest", "Tom2-Soft"):
        found = onsets(play([(0.0, sample(parity_dir, name), 0.9)], 1.5), method)
        assert found == [pytest.approx(0.0, abs=0.001)], name


def test_a_ghost_note_under_a_ringing_open_hat_is_heard(parity_dir: Path, method: str) -> None:
    """A ghost snare 24 dB down, 120 ms into an open hat's wash, is a hit of its own."""
    hat, snare = sample(parity_dir, "HatOpen-Med"), sample(parity_dir, "Snare-Hard")
    ghost = LEAD_S + 0.120
    found = onsets(play([(LEAD_S, hat, 0.9), (ghost, snare, 10 ** (-24 / 20))], 1.5), method)
    assert found == [pytest.approx(LEAD_S, abs=0.002), pytest.approx(ghost, abs=0.015)]


@pytest.mark.parametrize("drr_db", [6.0, 0.0])
def test_soft_notes_in_a_reverberant_room_are_heard(parity_dir: Path, drr_db: float) -> None:
    """A backbeat with a ghost note 12 dB down (velocity 50 of 127 as the benchmark
    plays it), 140 ms after each stroke, in the benchmark's room (``grooves.room``:
    a 0.8 s RT60 tail, drawn at 48 kHz, so 0.87 s at this test's 44.1 kHz), from a
    close mic (+6 dB direct-to-reverberant) to between close and room mic (0 dB):
    every stroke and every ghost note is a hit, for every draw of the tail tried.
    (At -6 dB the outcome depends on the draw, for flux too: there a detector's
    recall is a rate, which bench/onsets.py measures per condition.)"""
    snare, kick = sample(parity_dir, "Snare-Hard"), sample(parity_dir, "Kick-Softest")
    ghost = 10 ** (-12 / 20)
    notes = []
    for bar in range(3):
        start = LEAD_S + bar * 1.0
        notes += [(start, kick, 0.9), (start + 0.5, snare, 0.9), (start + 0.64, snare, ghost)]
    times = sorted(t for t, _, _ in notes)
    tail = room_tail(0.8, drr_db, np.random.default_rng(3))
    wet, _ = room(play(notes, 4.0), tail)
    found = onsets(wet.astype(np.float32), "learned")
    assert found == [pytest.approx(t, abs=0.008) for t in times]


def test_an_attack_that_rises_through_one_frame_is_confirmed_by_it() -> None:
    """The peak picking alone, on activations given frame by frame (the default
    threshold): a lone frame above the threshold is a flicker, but one the frame
    before rose towards (to ``CONFIRM`` of the threshold) is a hit, at once; a frame
    the next one confirms is one too, placed from the first."""
    from timbrecast.daemon.onset import CONFIRM, Framer, _Learned

    def picked(values: list[float]) -> list[tuple[int, int]]:
        learned = _Learned(Framer(RATE), 1)
        given = iter(values)
        learned._activation.step = lambda magnitudes: [next(given)]
        settings = DetectorSettings()
        return [
            (frame, back)
            for frame in range(len(values))
            for _, _, back in learned.step(np.zeros((1, 1)), settings)
        ]

    below = CONFIRM * DetectorSettings().activation
    assert picked([0.0, 0.1, 0.5, 0.1, 0.0]) == [], "a lone frame"
    assert picked([0.0, below + 0.01, 0.5, 0.1, 0.0]) == [(2, 0)], "rose through one frame"
    assert picked([0.0, below - 0.01, 0.5, 0.1, 0.0]) == [], "the frame before too low"
    assert picked([0.0, 0.1, 0.5, 0.6, 0.1]) == [(3, 1)], "confirmed by the next frame"
    assert picked([0.0, 0.97, 0.1]) == [(1, 0)], "sure at once"
    # One stroke, one candidate: re-armed only once below half the threshold.
    assert picked([0.0, 0.5, 0.6, 0.3, 0.5, 0.6, 0.1, 0.5, 0.6]) == [(2, 1), (8, 1)]


def test_every_stroke_of_a_roll_is_heard(parity_dir: Path, method: str) -> None:
    """32nd notes at 140 bpm (54 ms apart), rising from 20 to 90 of 127 (gain
    (velocity/127)^1.5, as the benchmark plays them)."""
    snare = sample(parity_dir, "Snare-Hard")
    step = 60 / 140 / 8
    strokes = [(LEAD_S + k * step, snare, ((20 + 70 * k / 11) / 127) ** 1.5) for k in range(12)]
    found = onsets(play(strokes, LEAD_S + 12 * step + 1.0), method)
    assert found == [pytest.approx(t, abs=0.005) for t, _, _ in strokes]


def test_the_onsets_do_not_depend_on_how_the_stream_is_cut(parity_dir: Path, method: str) -> None:
    # The live daemon feeds 128-frame blocks, `analyze` thousands at once, a
    # device may give 1 or 4096: each frame, memory and onset must be the same.
    notes = [
        (0.2 + 0.31 * i, sample(parity_dir, name), 0.3 + 0.1 * (i % 7))
        for i, name in enumerate(["Snare-Hard", "TomFloor-Hardest", "HatOpen-Med", "Tom2-Hard"] * 4)
    ]
    audio = play(notes, 5.5)
    sizes = np.random.default_rng(7).choice([1, 7, 128, 191, 192, 193, 4096, 30_000], 2000)
    cuts = np.cumsum(sizes)
    cuts = cuts[cuts < audio.size]

    def events(blocks: list[np.ndarray]) -> list[tuple[int, int]]:
        detector = OnsetDetector(RATE, DetectorSettings(method=method))
        return [(e.sample, e.detected_at) for block in blocks for e in detector.process(block)]

    steady = events([audio[i : i + 128] for i in range(0, audio.size, 128)])
    assert len(steady) == len(notes)
    assert events(np.split(audio, cuts)) == steady
    assert events([audio]) == steady


def test_the_onsets_do_not_depend_on_where_the_hops_fall(method: str) -> None:
    """A live capture starts anywhere: the 4 ms hop grid falls on the demo groove
    at another phase than in `analyze`. The demo has a hit 30.4 ms after another,
    just over the 30 ms guard; placed from a frame that rose a hop early, it once
    landed on the last hit's tail, and live capture lost it at a fifth of the phases."""
    audio = audiofile.read(bundled.demo_recordings()[0])
    mono = to_mono(audio.frames).astype(np.float32)
    rate = audio.sample_rate
    hop = OnsetDetector(rate).framer.hop

    def placed(lead: int) -> list[int]:
        detector = OnsetDetector(rate, DetectorSettings(method=method))
        stream = np.concatenate([np.zeros(lead, dtype=np.float32), mono])
        return [e.sample - lead for e in detector.process(stream)]

    aligned = placed(0)
    for lead in range(hop // 12, hop, hop // 12):
        shifted = placed(lead)
        assert len(shifted) == len(aligned), lead
        assert np.abs(np.subtract(shifted, aligned)).max() <= rate // 2000, lead


def test_each_channel_of_a_stream_gets_the_onsets_it_gets_alone(
    parity_dir: Path, method: str
) -> None:
    """The channels of one stream are framed, transformed and run through the
    network together: a channel's onsets must not depend on its neighbours (a loud
    tom beside a soft hat, one channel silent)."""
    tom, hat = sample(parity_dir, "TomFloor-Hardest"), sample(parity_dir, "HatClosed-Softest")
    channels = [
        play([(0.1 + 0.4 * i, tom, 0.9) for i in range(6)], 2.6),
        play([(0.25 + 0.2 * i, hat, 0.1 + 0.05 * i) for i in range(11)], 2.6),
        np.zeros(round(2.6 * RATE), dtype=np.float32),
    ]
    stream = np.stack(channels, axis=1)
    detector = OnsetDetector(RATE, DetectorSettings(method=method), channels=len(channels))
    together: list[list[tuple[int, int]]] = [[] for _ in channels]
    for start in range(0, stream.shape[0], 128):
        block = detector.process_channels(stream[start : start + 128])
        for heard, events in zip(together, block, strict=True):
            heard += [(e.sample, e.detected_at) for e in events]
    alone = []
    for audio in channels:
        single = OnsetDetector(RATE, DetectorSettings(method=method))
        alone.append(
            [
                (e.sample, e.detected_at)
                for start in range(0, audio.size, 128)
                for e in single.process(audio[start : start + 128])
            ]
        )
    assert [len(c) for c in alone] == [6, 11, 0]
    assert together == alone
