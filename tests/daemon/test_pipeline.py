"""The pipeline on real drum audio and a real .tflite: counts exact, blocks irrelevant."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from timbrecast.daemon import bundled
from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.daemon.inference import Model
from timbrecast.daemon.inputs import ArrayInput
from timbrecast.daemon.pipeline import Pipeline
from timbrecast.daemon.protocol import End, Event, Onset, Status, Timbre
from timbrecast.trainer.synth import groove

RATE = 44100


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        with self._lock:
            self.events.append(event)

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def run(model: Model, audio: np.ndarray, block: int, sources=("in1",), **kw) -> Collector:
    sink = Collector()
    with Pipeline(model, RATE, list(sources), sink, **kw) as pipeline:
        assert pipeline.feed(ArrayInput(audio, RATE, block))
    return sink


def f_measure(estimated: list[float], truth: list[float], window: float = 0.025) -> float:
    merged: list[float] = []
    for t in sorted(truth):
        if not merged or t - merged[-1] > 0.010:
            merged.append(t)
    used: set[int] = set()
    hits = 0
    for t in merged:
        for j in np.argsort(np.abs(np.subtract(estimated, t))):
            if abs(estimated[j] - t) <= window and j not in used:
                used.add(int(j))
                hits += 1
                break
    precision, recall = hits / max(1, len(estimated)), hits / len(merged)
    return 2 * precision * recall / max(1e-9, precision + recall)


@pytest.fixture(scope="module")
def model(tiny_tflite) -> Model:
    return Model(tiny_tflite["int8"])


@pytest.fixture(scope="module")
def beat() -> tuple[np.ndarray, list[float]]:
    audio, notes = groove(3, bars=2, bpm=110, sample_rate=RATE)
    return audio, [t for t, _ in notes]


def test_every_hit_is_announced_then_described(model, beat) -> None:
    audio, truth = beat
    sink = run(model, audio, 256)
    onsets, timbres = sink.of(Onset), sink.of(Timbre)
    assert len(onsets) >= 10
    assert [o.seq for o in onsets] == list(range(len(onsets)))
    assert sorted(t.seq for t in timbres) == list(range(len(onsets)))
    for onset in onsets:
        described = next(t for t in timbres if t.seq == onset.seq)
        assert described.stream_time_s == onset.stream_time_s
        assert described.unix_ns == onset.unix_ns
        assert set(described.descriptors) == set(DESCRIPTORS)
        assert all(0.0 <= v <= 100.0 for v in described.descriptors.values())
        assert 0.0 < described.audio_s <= 1.0
        assert -60.0 < onset.peak_dbfs <= 0.0
    assert f_measure([o.stream_time_s for o in onsets], truth) >= 0.85
    final = [s for s in sink.of(Status)][-1]
    assert final.hits == len(onsets) and final.skipped == 0


def test_block_size_does_not_change_the_result(model, beat) -> None:
    audio, _ = beat
    small = run(model, audio, 64)
    large = run(model, audio, len(audio))
    assert [o.stream_time_s for o in small.of(Onset)] == [o.stream_time_s for o in large.of(Onset)]
    by_seq = {t.seq: t.descriptors for t in large.of(Timbre)}
    for timbre in small.of(Timbre):
        assert timbre.descriptors == pytest.approx(by_seq[timbre.seq], abs=1e-6)


def test_one_detector_per_channel(model, beat) -> None:
    left, _ = beat
    right, _ = groove(5, bars=2, bpm=90, sample_rate=RATE)
    length = min(left.size, right.size)
    stereo = np.stack([left[:length], right[:length]], axis=1)
    both = run(model, stereo, 512, sources=("snare", "kick"))
    alone = {
        "snare": run(model, left[:length], 512, sources=("snare",)),
        "kick": run(model, right[:length], 512, sources=("kick",)),
    }
    for source, single in alone.items():
        mine = [o.stream_time_s for o in both.of(Onset) if o.source == source]
        assert mine == [o.stream_time_s for o in single.of(Onset)]
        assert len([t for t in both.of(Timbre) if t.source == source]) == len(mine)


def test_segments_end_at_the_next_hit_unless_the_seed_behaviour_is_asked(model, beat) -> None:
    audio, _ = beat
    cut = run(model, audio, 256)
    starts = sorted(o.stream_time_s for o in cut.of(Onset))
    gaps = dict(zip(starts, np.diff([*starts, np.inf]), strict=True))
    for timbre in cut.of(Timbre):
        assert timbre.audio_s <= gaps[timbre.stream_time_s] + 0.01
    seed = run(model, audio, 256, full_second=True)
    lengths = sorted(t.audio_s for t in seed.of(Timbre))
    assert lengths[len(lengths) // 2] == pytest.approx(1.0, abs=1e-3)


def test_silence_and_noise_floor_give_no_hits(model) -> None:
    quiet = np.random.default_rng(0).normal(0, 10 ** (-75 / 20), RATE * 2).astype(np.float32)
    sink = run(model, quiet, 512)
    assert not sink.of(Onset) and not sink.of(Timbre)
    assert sink.of(Status)[-1].hits == 0


def test_an_early_model_gives_each_hit_a_provisional_estimate_first(
    model, beat, tiny_early
) -> None:
    audio, _ = beat
    sink = run(model, audio, 256, early_models=[Model(tiny_early)])
    onsets = sink.of(Onset)
    timbres = sink.of(Timbre)
    provisional = [t for t in timbres if t.provisional]
    final = [t for t in timbres if not t.provisional]
    assert [t.seq for t in provisional] == [o.seq for o in onsets]
    assert sorted(t.seq for t in final) == [o.seq for o in onsets]
    for early in provisional:
        later = next(t for t in final if t.seq == early.seq)
        assert timbres.index(early) < timbres.index(later)
        heard_before = min(early.stream_time_s, 0.005)
        assert early.audio_s == pytest.approx(heard_before + 0.025, abs=2.0 / RATE)
        assert early.model_id != later.model_id
        assert early.unix_ns == later.unix_ns
    status = sink.of(Status)[-1]
    assert status.hits == len(onsets) and status.skipped == 0


@pytest.mark.parametrize("block", [256, 4096])
def test_two_early_models_give_two_provisional_estimates_shortest_first(
    model, beat, tiny_early, block: int
) -> None:
    """The bundled 10 ms model and a 25 ms one, given longest first: per hit, the
    10 ms estimate, then the 25 ms one, then the final, each from its own model and
    on the audio its contract reads; with 4096-frame blocks both early estimates of
    a hit fall due in one block and may share a batch."""
    audio, _ = beat
    ten = Model(bundled.model(bundled.EARLY_10MS_MODEL))
    assert ten.contract.early_ms == 10.0
    twenty_five = Model(tiny_early)
    sink = run(model, audio, block, early_models=[twenty_five, ten])
    onsets = sink.of(Onset)
    timbres = sink.of(Timbre)
    assert len(onsets) > 3 and len(timbres) == 3 * len(onsets)
    for onset in onsets:
        first, second, final = [t for t in timbres if t.seq == onset.seq]
        assert first.provisional and second.provisional and not final.provisional
        assert first.model_id == ten.model_id and second.model_id == twenty_five.model_id
        heard_before = min(onset.stream_time_s, 0.005)
        assert first.audio_s == pytest.approx(heard_before + 0.010, abs=2.0 / RATE)
        assert second.audio_s == pytest.approx(heard_before + 0.025, abs=2.0 / RATE)
    assert sink.of(Status)[-1].skipped == 0
    with pytest.raises(ValueError, match="same ms"):
        Pipeline(model, RATE, ["in1"], Collector(), early_models=[ten, ten])


def test_a_hit_cut_by_a_lost_input_gets_no_provisional_estimate_later(
    model, beat, tiny_early
) -> None:
    """The input breaks off 15 ms after an attack: the hit is cut there, and its
    25 ms estimate, whose audio never came, is not made later from what follows."""
    audio, _ = beat
    attack = round(run(model, audio, 256).of(Onset)[0].stream_time_s * RATE)
    sink = Collector()
    with Pipeline(model, RATE, ["in1"], sink, early_models=[Model(tiny_early)]) as pipeline:
        pipeline.process(audio[: attack + round(0.015 * RATE)])
        assert len(sink.of(Onset)) == 1
        pipeline.interrupt("test")
        pipeline.resume()
        pipeline.process(audio[attack + round(0.015 * RATE) : attack + RATE // 10])
    seq = sink.of(Onset)[0].seq
    assert not [t for t in sink.of(Timbre) if t.seq == seq and t.provisional]


def test_the_early_contract_is_checked(tiny_early) -> None:
    from timbrecast.daemon.contract import ModelContractError
    from timbrecast.daemon.tflitemeta import read_contract

    contract = read_contract(tiny_early.read_bytes())
    assert contract.early_ms == 25.0 and contract.input_length == 480
    with pytest.raises(ModelContractError, match="input length 480 \\(this daemon feeds 16000\\)"):
        type(contract)(**{**contract.__dict__, "early_ms": None}).check()


def test_non_finite_input_is_heard_as_silence_and_counted(model, beat) -> None:
    audio = np.concatenate([np.zeros(RATE // 2), beat[0]]).astype(np.float32)
    clean = run(model, audio, 256)
    spoiled = audio.copy()
    spoiled[:100] = np.nan
    spoiled[200:210] = np.inf
    spoiled[300] = -np.inf
    with np.errstate(invalid="raise", over="raise"):
        sink = run(model, spoiled, 256)
    status = sink.of(Status)[-1]
    assert status.invalid_samples == 111
    assert clean.of(Status)[-1].invalid_samples == 0
    assert [o.stream_time_s for o in sink.of(Onset)] == [o.stream_time_s for o in clean.of(Onset)]


class Failing:
    """The real model until ``after`` batches, then an error, as a runtime kernel or a
    corrupted model might (nothing real fails on demand, so this one wraps the model)."""

    def __init__(self, model: Model, after: int) -> None:
        self.model, self.after = model, after
        self.model_id, self.batch, self.contract = model.model_id, model.batch, model.contract

    def predict(self, clips: np.ndarray) -> np.ndarray:
        self.after -= 1
        if self.after < 0:
            raise RuntimeError("kernel failed")
        return self.model.predict(clips)


def test_a_dead_inference_worker_stops_the_pipeline_and_says_why(tiny_tflite) -> None:
    """The stream goes on only while hits can be described: once the worker has died,
    status says so and the next block (or the end) raises, so the daemon exits non-zero."""
    from timbrecast.daemon.pipeline import InferenceFailed

    audio, _ = groove(2, bars=2, bpm=120, sample_rate=RATE)
    sink = Collector()
    failing = Failing(Model(tiny_tflite["int8"]), after=2)
    with (
        pytest.raises(InferenceFailed, match="inference failed: RuntimeError: kernel failed"),
        Pipeline(failing, RATE, ["in1"], sink) as pipeline,
    ):
        pipeline.feed(ArrayInput(audio, RATE, 512))
    assert sink.of(Status)[-1].state == "inference failed: RuntimeError: kernel failed"
    assert len(sink.of(Timbre)) == 2


class Slow:
    """The real model, made slower than the hits come (as on a Pi with --full-second)."""

    def __init__(self, model: Model, seconds: float) -> None:
        self.model, self.seconds = model, seconds
        self.model_id, self.batch, self.contract = model.model_id, 1, model.contract

    def predict(self, clips: np.ndarray) -> np.ndarray:
        import time

        time.sleep(self.seconds)
        return self.model.predict(clips)


@pytest.mark.parametrize("offline", [False, True])
def test_a_backlog_is_bounded_live_and_waited_for_offline(tiny_tflite, offline: bool) -> None:
    """Live, a model slower than the hits never holds the audio back: the queue stays at
    MAX_QUEUED_HITS and what does not fit is counted as skipped. Offline, every hit waits
    its turn and is described."""
    from timbrecast.daemon.pipeline import MAX_QUEUED_HITS

    audio, _ = groove(5, bars=8, bpm=200, sample_rate=RATE)
    sink = Collector()
    model = Slow(Model(tiny_tflite["int8"]), 0.05)
    depths = []
    with Pipeline(model, RATE, ["in1"], sink, full_second=True, wait_for_model=offline) as pipeline:

        def measure() -> bool:
            depths.append(pipeline._jobs.qsize())
            return True

        pipeline.feed(ArrayInput(audio, RATE, 4096), measure)
    status = sink.of(Status)[-1]
    described = [t for t in sink.of(Timbre) if not t.provisional]
    assert max(depths) <= MAX_QUEUED_HITS
    assert len(described) + status.skipped == status.hits == len(sink.of(Onset))
    if offline:
        assert status.skipped == 0
    else:
        assert status.skipped > 0


def test_a_pipeline_is_fed_inside_its_with_block_and_ends_once(tiny_tflite) -> None:
    """Entering starts the worker (feeding before is refused, not silently queued);
    a finish inside the block is not repeated on leaving it; ``between`` returning
    False stops the feed there."""
    audio, _ = groove(2, bars=2, bpm=120, sample_rate=RATE)
    sink = Collector()
    pipeline = Pipeline(Model(tiny_tflite["int8"]), RATE, ["in1"], sink)
    with pytest.raises(RuntimeError, match="with Pipeline"):
        pipeline.process(audio[:512, None])
    fed = []

    def three_blocks() -> bool:
        fed.append(1)
        return len(fed) < 3

    with pipeline:
        assert not pipeline.feed(ArrayInput(audio, RATE, 512), three_blocks)
        pipeline.finish()
    assert len(fed) == 3
    assert len(sink.of(End)) == 1
