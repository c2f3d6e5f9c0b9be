"""The one pipeline: audio blocks in, onset and timbre events out.

``Pipeline.process`` takes blocks of any size from any source: the live audio
callback's queue, a file paced in real time, a file read as fast as possible,
raw PCM on stdin. Everything after that is the same code, so what ``analyze``
measures on a file is what the daemon does live.

Per channel: onset detection and a ``Segmenter`` at the native rate (one
``OnsetDetector`` serves all the channels, their frames analysed together). An
onset is sent at once (a synth can trigger on it); its one-shot goes to the
inference worker, which runs whatever has queued up as one batch and sends a
timbre event per hit. Every hit is counted, and so is every one not described.

With early-estimate models, each hit also gets a provisional timbre event from
each as soon as its few milliseconds after the attack have been heard (same
``seq``, the shortest first; the final one follows when the one-shot ends).

A pipeline is a context manager: entering starts the inference worker, leaving
finishes (or, on an error, stops) it. ``feed`` is the one loop that takes an input's
blocks into it, for ``analyze``, ``run`` and ``demo`` alike::

    with Pipeline(model, source.sample_rate, ["snare"], sink) as pipeline:
        pipeline.feed(source)
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import TracebackType

import numpy as np

from timbrecast.daemon.contract import DESCRIPTORS
from timbrecast.daemon.inference import Model
from timbrecast.daemon.inputs import Input
from timbrecast.daemon.onset import DetectorSettings, OnsetDetector, OnsetEvent
from timbrecast.daemon.preprocess import PREROLL_S, PreprocessError, early, prepare
from timbrecast.daemon.protocol import (
    END_OF_INPUT,
    STATUS_INTERVAL_S,
    End,
    Event,
    Onset,
    Status,
    Timbre,
)
from timbrecast.daemon.segment import Segment, Segmenter
from timbrecast.daemon.threadname import name_this_thread

Sink = Callable[[Event], None]
#: Hits waiting for the model at most (each holds up to a second of audio: 64 of
#: them at 48 kHz are 12 MB); the queue also has room for each hit's provisional
#: jobs (a few ms of audio each). Live, a backlog beyond it (a dense roll with
#: --full-second on a slow board) is not described: counted in status as skipped,
#: never waited for. A file read as fast as it goes waits for the model instead.
MAX_QUEUED_HITS = 64


class InferenceFailed(RuntimeError):
    """The inference worker stopped on an error: no hit can be described any more, so
    the pipeline refuses more audio and the daemon exits (and systemd restarts it)."""


def dbfs(value: float) -> float:
    return float(20.0 * np.log10(max(value, 1e-10)))


def levels(audio: np.ndarray) -> tuple[float, float]:
    """Peak and RMS of ``audio`` in dBFS (-200 for digital silence)."""
    if audio.size == 0:
        return -200.0, -200.0
    samples = audio.astype(np.float64)
    return dbfs(float(np.abs(samples).max())), dbfs(float(np.sqrt(np.mean(samples**2))))


def _early_ms(model: Model) -> float:
    early_ms = model.contract.early_ms
    if early_ms is None:
        raise ValueError(f"{model.model_id} is not an early-estimate model")
    return early_ms


def describe(model: Model, clips: list[np.ndarray]) -> list[dict[str, float]]:
    """The seven descriptors of each prepared clip, by name: what a timbre message
    (and ``analyze --oneshot``'s record) carries. An early-estimate model reads only
    the head of each clip (``early``), so every caller can hand it whole clips."""
    batch = np.stack(clips)
    if model.contract.early_ms is not None:
        batch = early(batch, model.contract.early_ms)
    values = model.predict(batch)
    return [{name: float(v) for name, v in zip(DESCRIPTORS, row, strict=True)} for row in values]


@dataclass
class Counters:
    """Per source: what was heard and what became of it."""

    hits: int = 0
    described: int = 0
    #: Not described: too quiet to normalise (counted by the inference thread) ...
    skipped: int = 0
    #: ... or, live, no room in the model's queue (counted by the audio thread).
    overflowed: int = 0


def _none() -> int:
    return 0


@dataclass(frozen=True)
class Health:
    """Counts that status reports but others keep, read when status is sent: messages
    the sink dropped (a publisher's high-water mark) and audio the input lost."""

    drops: Callable[[], int] = field(default=_none)
    overruns: Callable[[], int] = field(default=_none)


@dataclass(frozen=True)
class _Hit:
    """What the onset message said of a hit; its timbre messages repeat it.

    ``since_ns`` is where its latency counts from: the attack's ``unix_ns``, or
    when it was detected if that came first (a file read faster than real time
    is stamped ahead of the clock).
    """

    seq: int
    unix_ns: int
    peak_dbfs: float
    rms_dbfs: float
    since_ns: int


@dataclass(frozen=True)
class _Job:
    source: str
    hit: _Hit
    segment: Segment
    #: The early-estimate model this job is for; None for the final estimate.
    early: Model | None = None

    @property
    def provisional(self) -> bool:
        return self.early is not None


class _Channel:
    def __init__(self, name: str, rate: int, settings: DetectorSettings, full_second: bool) -> None:
        self.name = name
        self.segmenter = Segmenter(rate, settings.floor_db, full_second)
        self.counters = Counters()
        #: Onset sample -> the hit announced there, until its one-shot is queued.
        self.hit_at: dict[int, _Hit] = {}
        #: Hits still waiting for a provisional estimate: the sample up to which its
        #: model reads, the hit, and the model.
        self.awaiting_early: list[tuple[int, OnsetEvent, _Hit, Model]] = []


class Pipeline:
    """Onset detection, segmenting and inference for one multichannel stream."""

    def __init__(
        self,
        model: Model,
        sample_rate: int,
        sources: list[str],
        sink: Sink,
        settings: DetectorSettings | None = None,
        full_second: bool = False,
        clock: Callable[[], int] = time.time_ns,
        early_models: Sequence[Model] = (),
        wait_for_model: bool = False,
        health: Health | None = None,
    ) -> None:
        self.model = model
        self.health = health or Health()
        #: Shortest first, so that a hit's provisional estimates go out in order.
        self.early_models = sorted(early_models, key=_early_ms)
        heard = [_early_ms(m) for m in self.early_models]
        if len(set(heard)) < len(heard):
            raise ValueError(f"two early models read the same ms after the attack ({heard})")
        #: How many samples after the attack each early model reads.
        self._early_after = [round(ms / 1000.0 * sample_rate) for ms in heard]
        #: Offline (a file as fast as it goes): a full queue holds the feed back.
        self.wait_for_model = wait_for_model
        self.sample_rate = sample_rate
        self.sink = sink
        self.clock = clock
        self.settings = settings or DetectorSettings()
        self.channels = [_Channel(n, sample_rate, self.settings, full_second) for n in sources]
        #: One detector for all the channels: their frames go through it together.
        self.detector = OnsetDetector(sample_rate, self.settings, len(sources))
        self.invalid_samples = 0
        self.inference_ms = 0.0
        self._state = "running"
        self._finished = False
        self.failure: InferenceFailed | None = None
        self._anchor: tuple[int, int] | None = None
        self._samples = 0
        self._started = time.monotonic()
        self._next_status = self._started + STATUS_INTERVAL_S
        self._jobs: queue.Queue[_Job | None] = queue.Queue(
            MAX_QUEUED_HITS * (1 + len(self.early_models))
        )
        self._worker = threading.Thread(target=self._infer, name="inference", daemon=True)

    def __enter__(self) -> Pipeline:
        self._worker.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        _: TracebackType | None,
    ) -> None:
        """Finish a stream that ended; on an error, only stop the worker (what the
        error interrupted is not described, and no end is announced)."""
        if kind is None:
            self.finish()
        else:
            self._stop_worker()

    @property
    def state(self) -> str:
        """``running``, ``input lost: why`` or the inference failure, as status says."""
        return self._state

    def feed(self, source: Input, between: Callable[[], bool] | None = None) -> bool:
        """Every block of ``source``, in order; after each, ``between()`` may do a
        service's chores and return False to stop there. True if the blocks ran out."""
        for block in source:
            self.process(block.frames, block.unix_ns)
            if between is not None and not between():
                return False
        return True

    def reload(self, settings: DetectorSettings) -> None:
        """New detection settings from the next block on; nothing is reopened."""
        self.settings = settings
        self.detector.settings = settings
        for channel in self.channels:
            channel.segmenter.floor_db = settings.floor_db

    def process(self, frames: np.ndarray, unix_ns: int | None = None) -> None:
        """Feed (frames, channels) float samples; ``unix_ns`` is when the first was heard."""
        if self.failure is not None:
            raise self.failure
        if self._worker.ident is None:
            raise RuntimeError("a pipeline is fed inside `with Pipeline(...) as pipeline:`")
        frames = np.asarray(frames, dtype=np.float32)
        if frames.ndim == 1:
            frames = frames[:, None]
        if frames.shape[1] != len(self.channels):
            raise ValueError(f"expected {len(self.channels)} channels, got {frames.shape[1]}")
        # A float64 sum of float32 samples is finite exactly when every sample is
        # (NaN and inf carry through it; it cannot overflow): one reduction per block
        # instead of a mask, and only a block with a bad sample is looked at closely.
        if not np.isfinite(frames.sum(dtype=np.float64)):
            finite = np.isfinite(frames)
            # Float input (f32le on stdin, a float WAV) can carry NaN or inf, which
            # would poison the detector's running statistics: heard as silence, counted.
            self.invalid_samples += int(finite.size - np.count_nonzero(finite))
            frames = np.where(finite, frames, np.float32(0.0))
        if unix_ns is not None or self._anchor is None:
            self._anchor = (self._samples, unix_ns if unix_ns is not None else self.clock())
        heard = self.detector.process_channels(frames)
        for index, (channel, onsets) in enumerate(zip(self.channels, heard, strict=True)):
            samples = frames[:, index]
            segments = channel.segmenter.process(samples, onsets)
            for onset in onsets:
                hit = self._announce(channel, onset)
                channel.awaiting_early += [
                    (onset.sample + after, onset, hit, model)
                    for after, model in zip(self._early_after, self.early_models, strict=True)
                ]
            self._queue_early(channel)
            self._queue(channel, segments)
        self._samples += frames.shape[0]
        self.tick()

    def interrupt(self, reason: str) -> None:
        """The input broke off (or, retried, is still away): cut and describe the hits
        heard so far, keep running, and say so in status until ``resume``."""
        self._state = f"input lost: {reason}"
        for channel in self.channels:
            # Their early milliseconds will not come: the audio after the gap is not
            # theirs, and a provisional estimate after the final one would mislead.
            channel.awaiting_early.clear()
            self._queue(channel, channel.segmenter.flush())

    def resume(self) -> None:
        """The input is back."""
        self._state = "running"

    def finish(self, reason: str = END_OF_INPUT) -> None:
        """End of stream: cut what is open, describe everything, stop the worker, and
        tell subscribers each source has ended (``reason``: the input ended, or a stop).
        Once: leaving the ``with`` block after it does nothing more."""
        if self._finished:
            return
        self._finished = True
        for channel in self.channels:
            self._queue(channel, channel.segmenter.flush())
        self._stop_worker()
        self.publish_status()
        if self.failure is not None:
            raise self.failure
        for channel in self.channels:
            self.sink(
                End(
                    source=channel.name,
                    hits=channel.counters.hits,
                    stream_time_s=self._samples / self.sample_rate,
                    reason=reason,
                )
            )

    def _stop_worker(self) -> None:
        """Let the worker describe what is queued, then end it."""
        while self._worker.is_alive():
            try:
                self._jobs.put(None, timeout=0.1)
                break
            except queue.Full:
                continue
        if self._worker.ident is not None:
            self._worker.join()

    def tick(self) -> None:
        """Send status when a second has passed (also called when no audio comes)."""
        now = time.monotonic()
        if now >= self._next_status:
            self._next_status = now + STATUS_INTERVAL_S
            self.publish_status()

    def publish_status(self) -> None:
        for channel in self.channels:
            self.sink(
                Status(
                    source=channel.name,
                    uptime_s=time.monotonic() - self._started,
                    hits=channel.counters.hits,
                    drops=self.health.drops(),
                    overruns=self.health.overruns(),
                    queue_depth=self._jobs.qsize(),
                    inference_ms=self.inference_ms,
                    model_id=self.model.model_id,
                    skipped=channel.counters.skipped + channel.counters.overflowed,
                    state=self.state,
                    invalid_samples=self.invalid_samples,
                )
            )

    def _unix_ns(self, sample: int) -> int:
        assert self._anchor is not None
        anchor_sample, anchor_ns = self._anchor
        return anchor_ns + round((sample - anchor_sample) * 1e9 / self.sample_rate)

    def _announce(self, channel: _Channel, onset: OnsetEvent) -> _Hit:
        """Number the hit and publish its onset.

        Its levels are those of the attack up to the end of the frame that
        detected it: the same span however the stream is cut into blocks, so
        ``analyze`` and ``run`` report the same levels for the same hit.
        """
        peak, rms = levels(channel.segmenter.audio_between(onset.sample, onset.detected_at))
        unix_ns = self._unix_ns(onset.sample)
        hit = _Hit(channel.counters.hits, unix_ns, peak, rms, min(unix_ns, self.clock()))
        channel.counters.hits += 1
        channel.hit_at[onset.sample] = hit
        self.sink(
            Onset(
                source=channel.name,
                seq=hit.seq,
                stream_time_s=onset.sample / self.sample_rate,
                unix_ns=hit.unix_ns,
                peak_dbfs=peak,
                rms_dbfs=rms,
            )
        )
        return hit

    def _queue_early(self, channel: _Channel) -> None:
        """Hits of which an early model's milliseconds have now been heard."""
        heard_to = channel.segmenter.stream_end
        waiting = []
        for end, onset, hit, model in channel.awaiting_early:
            if heard_to < end:
                waiting.append((end, onset, hit, model))
                continue
            start = onset.sample - round(PREROLL_S * self.sample_rate)
            audio = channel.segmenter.audio_between(start, end).copy()
            segment = Segment(onset, start, audio, "early")
            self._submit(channel, _Job(channel.name, hit, segment, model))
        channel.awaiting_early = waiting

    def _queue(self, channel: _Channel, segments: list[Segment]) -> None:
        for segment in segments:
            hit = channel.hit_at.pop(segment.onset.sample)
            self._submit(channel, _Job(channel.name, hit, segment))

    def _submit(self, channel: _Channel, job: _Job) -> None:
        """Queue a hit for the model. Live, never waiting: a full queue skips it, counted
        (a provisional estimate is simply not sent; its final one still may be)."""
        while self.wait_for_model and self.failure is None:
            try:
                self._jobs.put(job, timeout=0.1)
                return
            except queue.Full:
                continue
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            if not job.provisional:
                channel.counters.overflowed += 1

    def _infer(self) -> None:
        name_this_thread("tc-inference")
        stopping = False
        while not stopping:
            job = self._jobs.get()
            if job is None:
                return
            jobs = [job]
            while len(jobs) < self.model.batch:
                try:
                    more = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stopping = True
                    break
                jobs.append(more)
            try:
                self._describe(jobs)
            except Exception as exc:
                self.failure = InferenceFailed(f"inference failed: {type(exc).__name__}: {exc}")
                self._state = str(self.failure)
                # The failure may be the publisher's own: then this cannot be sent.
                with contextlib.suppress(Exception):
                    self.publish_status()
                return

    def _describe(self, jobs: list[_Job]) -> None:
        for model in self.early_models:
            early_jobs = [j for j in jobs if j.early is model]
            if early_jobs:
                self._describe_with(model, early_jobs)
        final = [j for j in jobs if not j.provisional]
        if final:
            self._describe_with(self.model, final)

    def _describe_with(self, model: Model, jobs: list[_Job]) -> None:
        clips, ready = [], []
        for job in jobs:
            channel = self._channel(job.source)
            try:
                clip = prepare(job.segment.audio, self.sample_rate, sounding=job.provisional)
            except PreprocessError:
                if not job.provisional:
                    channel.counters.skipped += 1
                continue
            clips.append(clip)
            ready.append(job)
        if not clips:
            return
        started = time.perf_counter()
        described = describe(model, clips)
        if not jobs[0].provisional:
            self.inference_ms = (time.perf_counter() - started) * 1000.0 / len(clips)
        for job, descriptors in zip(ready, described, strict=True):
            channel = self._channel(job.source)
            if not job.provisional:
                channel.counters.described += 1
            self.sink(
                Timbre(
                    source=job.source,
                    seq=job.hit.seq,
                    stream_time_s=job.segment.onset.sample / self.sample_rate,
                    unix_ns=job.hit.unix_ns,
                    peak_dbfs=job.hit.peak_dbfs,
                    rms_dbfs=job.hit.rms_dbfs,
                    descriptors=descriptors,
                    audio_s=job.segment.audio.size / self.sample_rate,
                    model_id=model.model_id,
                    latency_ms=max(0.0, (self.clock() - job.hit.since_ns) / 1e6),
                    provisional=job.provisional,
                )
            )

    def _channel(self, name: str) -> _Channel:
        return next(c for c in self.channels if c.name == name)
